package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "create, list, revoke, rotate and audit API keys",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create a key (printed once)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "type", Required: true, Usage: "personal, workspace or organization"},
					&cli.StringFlag{Name: "name", Required: true, Usage: "1-100 characters, unique per owner"},
					&cli.StringFlag{Name: "user", Usage: "personal: the owner's email"},
					&cli.StringFlag{Name: "workspace", Usage: "workspace: id or name"},
					&cli.StringFlag{Name: "org", Usage: "organization: id or name"},
					&cli.StringFlag{Name: "level", Value: "write", Usage: "workspace: read, write or admin"},
					&cli.StringSliceFlag{Name: "workflow", Usage: "workspace: narrow the key to this workflow id (repeatable)"},
					&cli.StringSliceFlag{Name: "grant", Usage: "organization: workspace:ID:LEVEL or workflow:ID:LEVEL (repeatable)"},
					&cli.DurationFlag{Name: "expires-in", Usage: "expire after this long (e.g. 720h)"},
					&cli.StringSliceFlag{Name: "allow-ip", Usage: "only accept requests from this IP or CIDR (repeatable)"},
					&cli.IntFlag{Name: "rate-limit", Usage: "requests per minute (0 = server default)"},
				},
				Action: keysCreate,
			},
			{
				Name:  "list",
				Usage: "list keys (display form only)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "user", Usage: "personal keys of this email"},
					&cli.StringFlag{Name: "workspace", Usage: "keys of this workspace"},
					&cli.StringFlag{Name: "org", Usage: "keys of this organization"},
					&cli.BoolFlag{Name: "all", Usage: "include revoked keys"},
				},
				Action: keysList,
			},
			{
				Name:      "revoke",
				Usage:     "revoke a key (takes effect on the next request)",
				ArgsUsage: "ID",
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "key ID")
					if err != nil {
						return err
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						k, err := a.Resolver.RevokeKey(ctx, operator(), id)
						if err != nil {
							return err
						}
						return printOut(c, keyView(k), func(w io.Writer) { row(w, "revoked", k.ID, displayKey(k)) })
					})
				},
			},
			{
				Name:      "rotate",
				Usage:     "issue a successor key; the old one keeps working for --grace",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{&cli.DurationFlag{Name: "grace", Value: 0, Usage: "how long the old key keeps working (0 = stops now)"}},
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "key ID")
					if err != nil {
						return err
					}
					if c.Duration("grace") < 0 {
						return usagef("invalid --grace %s: must not be negative", c.Duration("grace"))
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						plain, k, err := a.Resolver.RotateKey(ctx, operator(), id, c.Duration("grace"))
						if err != nil {
							return err
						}
						return printCreatedKey(c, plain, k)
					})
				},
			},
			{
				Name:      "audit",
				Usage:     "show a key's audit trail",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{&cli.IntFlag{Name: "limit", Value: 100}},
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "key ID")
					if err != nil {
						return err
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						evs, err := a.Store.ListAudit(ctx, id, c.Int("limit"))
						if err != nil {
							return err
						}
						return printOut(c, evs, func(w io.Writer) {
							row(w, "TIME", "ACTION", "REASON", "IP", "TRANSPORT")
							for _, e := range evs {
								row(w, e.Time.Format(time.RFC3339), e.Action, e.Reason, e.IP, e.Transport)
							}
						})
					})
				},
			},
		},
	}
}

func keysCreate(c *cli.Context) error {
	typ := store.KeyType(c.String("type"))
	if !typ.Valid() {
		return usagef("invalid --type %q: allowed values are personal, workspace, organization", typ)
	}
	level := store.Level(c.String("level"))
	if !level.Valid() {
		return usagef("invalid --level %q: allowed values are read, write, admin", level)
	}
	grants, err := parseGrants(c.StringSlice("grant"))
	if err != nil {
		return err
	}
	need := map[store.KeyType]string{store.KeyPersonal: "user", store.KeyWorkspace: "workspace", store.KeyOrganization: "org"}[typ]
	if c.String(need) == "" {
		return usagef("--type %s needs --%s", typ, need)
	}
	if typ == store.KeyOrganization && len(grants) == 0 {
		return usagef("--type organization needs at least one --grant workspace:ID:LEVEL or workflow:ID:LEVEL")
	}
	if c.Duration("expires-in") < 0 {
		return usagef("invalid --expires-in %s: must be positive", c.Duration("expires-in"))
	}
	return withApp(c, func(ctx context.Context, a *app.App) error {
		req := auth.CreateKeyRequest{
			Type: typ, Name: c.String("name"), Level: level, Workflows: c.StringSlice("workflow"), Grants: grants,
			ExpiresIn: c.Duration("expires-in"), AllowedCIDRs: c.StringSlice("allow-ip"), RateLimit: c.Int("rate-limit"),
		}
		switch typ {
		case store.KeyPersonal:
			u, err := a.Store.GetUserByEmail(ctx, c.String("user"))
			if err != nil {
				return err
			}
			req.UserID = u.ID
		case store.KeyWorkspace:
			ws, err := findWorkspace(ctx, a.Store, c.String("workspace"))
			if err != nil {
				return err
			}
			req.WorkspaceID = ws.ID
		case store.KeyOrganization:
			o, err := findOrg(ctx, a.Store, c.String("org"))
			if err != nil {
				return err
			}
			req.OrgID = o.ID
		}
		plain, k, err := a.Resolver.CreateKey(ctx, operator(), req)
		if err != nil {
			return err
		}
		return printCreatedKey(c, plain, k)
	})
}

func parseGrants(specs []string) ([]store.Grant, error) {
	var out []store.Grant
	for _, s := range specs {
		parts := strings.Split(s, ":")
		if len(parts) != 3 {
			return nil, usagef("invalid --grant %q: want workspace:ID:LEVEL or workflow:ID:LEVEL", s)
		}
		tt, lvl := store.TargetType(parts[0]), store.Level(parts[2])
		if tt != store.TargetWorkspace && tt != store.TargetWorkflow {
			return nil, usagef("invalid --grant %q: target must be workspace or workflow", s)
		}
		if !lvl.Valid() {
			return nil, usagef("invalid --grant %q: level must be read, write or admin", s)
		}
		out = append(out, store.Grant{TargetType: tt, TargetID: parts[1], Level: lvl})
	}
	return out, nil
}

func keysList(c *cli.Context) error {
	return withApp(c, func(ctx context.Context, a *app.App) error {
		f := store.KeyFilter{IncludeRevoked: c.Bool("all")}
		if e := c.String("user"); e != "" {
			u, err := a.Store.GetUserByEmail(ctx, e)
			if err != nil {
				return err
			}
			f.UserID = u.ID
		}
		if ref := c.String("workspace"); ref != "" {
			ws, err := findWorkspace(ctx, a.Store, ref)
			if err != nil {
				return err
			}
			f.WorkspaceID = ws.ID
		}
		if ref := c.String("org"); ref != "" {
			o, err := findOrg(ctx, a.Store, ref)
			if err != nil {
				return err
			}
			f.OrgID = o.ID
		}
		ks, err := a.Store.ListKeys(ctx, f)
		if err != nil {
			return err
		}
		views := make([]map[string]any, len(ks))
		for i, k := range ks {
			views[i] = keyView(k)
		}
		return printOut(c, views, func(w io.Writer) {
			row(w, "ID", "TYPE", "NAME", "KEY", "OWNER", "LAST USED", "STATE")
			for _, k := range ks {
				last := "never"
				if k.LastUsedAt != nil {
					last = k.LastUsedAt.Format(time.RFC3339) + " via " + k.LastUsedVia
				}
				row(w, k.ID, k.Type, k.Name, displayKey(k), k.OwnerID(), last, keyState(k))
			}
		})
	})
}

func printCreatedKey(c *cli.Context, plain string, k *store.APIKey) error {
	v := keyView(k)
	v["key"] = plain
	return printOut(c, v, func(w io.Writer) {
		row(w, "ID", "TYPE", "NAME")
		row(w, k.ID, k.Type, k.Name)
		fmt.Fprintf(w, "key (shown once, store it now): %s\n", plain)
	})
}

func displayKey(k *store.APIKey) string { return auth.DisplayKey(k) }

func keyState(k *store.APIKey) string {
	now := time.Now()
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.GraceUntil != nil && now.After(*k.GraceUntil):
		return "rotated"
	case k.GraceUntil != nil:
		return "rotating until " + k.GraceUntil.Format(time.RFC3339)
	case k.ExpiresAt != nil && now.After(*k.ExpiresAt):
		return "expired"
	}
	return "active"
}

// keyView is a key as commands show it: never the secret, its digest or ciphertext.
func keyView(k *store.APIKey) map[string]any {
	v := map[string]any{
		"id": k.ID, "type": k.Type, "name": k.Name, "displayKey": displayKey(k), "createdAt": k.CreatedAt,
		"expiresAt": k.ExpiresAt, "revokedAt": k.RevokedAt, "lastUsed": k.LastUsedAt, "lastUsedVia": k.LastUsedVia,
		"state": keyState(k),
	}
	switch k.Type {
	case store.KeyPersonal:
		v["userId"] = k.UserID
	case store.KeyWorkspace:
		v["workspaceId"], v["level"], v["workflows"] = k.WorkspaceID, k.Level, k.Workflows
	case store.KeyOrganization:
		v["orgId"], v["grants"] = k.OrgID, k.Grants
	}
	if k.RotatedTo != "" {
		v["rotatedTo"], v["graceUntil"] = k.RotatedTo, k.GraceUntil
	}
	return v
}
