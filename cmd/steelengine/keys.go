package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

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
					return withAPI(c, func(cl *apiClient) error {
						if err := cl.do(c.Context, http.MethodDelete, "/api/api-keys/"+url.PathEscape(id), nil, nil, nil); err != nil {
							return err
						}
						return printOut(c, obj{"id": id, "revoked": true}, func(w io.Writer) { row(w, "revoked", id) })
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
					return withAPI(c, func(cl *apiClient) error {
						var res obj
						body := obj{"graceSeconds": int64(c.Duration("grace") / time.Second)}
						if err := cl.do(c.Context, http.MethodPost, "/api/api-keys/"+url.PathEscape(id)+"/rotate", nil, body, &res); err != nil {
							return err
						}
						k, _ := res["key"].(obj)
						return printCreatedKey(c, k)
					})
				},
			},
			{
				Name:      "audit",
				Usage:     "show a key's audit trail",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{&cli.IntFlag{Name: "limit", Value: 100, Usage: "at most this many events (1-1000)"}},
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "key ID")
					if err != nil {
						return err
					}
					return withAPI(c, func(cl *apiClient) error {
						var res obj
						q := url.Values{"limit": {strconv.Itoa(c.Int("limit"))}}
						if err := cl.do(c.Context, http.MethodGet, "/api/api-keys/"+url.PathEscape(id)+"/audit", q, nil, &res); err != nil {
							return err
						}
						evs := objs(res, "events")
						return printOut(c, evs, func(w io.Writer) {
							row(w, "TIME", "ACTION", "REASON", "IP", "TRANSPORT")
							for _, e := range evs {
								row(w, orDash(e["time"]), orDash(e["action"]), orDash(e["reason"]), orDash(e["ip"]), orDash(e["transport"]))
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
	return withAPI(c, func(cl *apiClient) error {
		ctx := c.Context
		body := obj{"type": typ, "name": c.String("name"), "allowedCidrs": c.StringSlice("allow-ip"), "rateLimit": c.Int("rate-limit")}
		if d := c.Duration("expires-in"); d > 0 {
			body["expiresIn"] = int64((d + time.Second - 1) / time.Second)
		}
		var err error
		switch typ {
		case store.KeyPersonal:
			body["userId"], err = cl.userID(ctx, c.String("user"))
		case store.KeyWorkspace:
			body["workspaceId"], err = cl.workspaceID(ctx, c.String("workspace"))
			body["level"], body["workflowIds"] = level, c.StringSlice("workflow")
		case store.KeyOrganization:
			body["organizationId"], err = cl.orgID(ctx, c.String("org"))
			body["grants"] = grants
		}
		if err != nil {
			return err
		}
		var res obj
		if err := cl.do(ctx, http.MethodPost, "/api/api-keys", nil, body, &res); err != nil {
			return err
		}
		k, _ := res["key"].(obj)
		return printCreatedKey(c, k)
	})
}

func parseGrants(specs []string) ([]obj, error) {
	var out []obj
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
		out = append(out, obj{"targetType": tt, "targetId": parts[1], "level": lvl})
	}
	return out, nil
}

func keysList(c *cli.Context) error {
	return withAPI(c, func(cl *apiClient) error {
		ctx := c.Context
		q := url.Values{}
		if c.Bool("all") {
			q.Set("includeRevoked", "true")
		}
		if err := setID(ctx, q, "userId", c.String("user"), cl.userID); err != nil {
			return err
		}
		if err := setID(ctx, q, "workspaceId", c.String("workspace"), cl.workspaceID); err != nil {
			return err
		}
		if err := setID(ctx, q, "organizationId", c.String("org"), cl.orgID); err != nil {
			return err
		}
		var res obj
		if err := cl.do(ctx, http.MethodGet, "/api/api-keys", q, nil, &res); err != nil {
			return err
		}
		ks := objs(res, "keys")
		for _, k := range ks {
			k["state"] = keyState(k)
		}
		return printOut(c, ks, func(w io.Writer) {
			row(w, "ID", "TYPE", "NAME", "KEY", "OWNER", "LAST USED", "STATE")
			for _, k := range ks {
				last := "never"
				if s := str(k, "lastUsed"); s != "" {
					last = s + " via " + str(k, "lastUsedVia")
				}
				owner := str(k, "userId") + str(k, "workspaceId") + str(k, "organizationId")
				row(w, k["id"], k["type"], k["name"], k["displayKey"], owner, last, k["state"])
			}
		})
	})
}

func printCreatedKey(c *cli.Context, k obj) error {
	if k == nil {
		return fmt.Errorf("the server's answer holds no key")
	}
	return printOut(c, k, func(w io.Writer) {
		row(w, "ID", "TYPE", "NAME")
		row(w, k["id"], k["type"], k["name"])
		fmt.Fprintf(w, "key (shown once, store it now): %s\n", str(k, "key"))
	})
}

// keyState summarises a key's lifecycle for lists.
func keyState(k obj) string {
	now := time.Now()
	at := func(field string) (time.Time, bool) {
		t, err := time.Parse(time.RFC3339Nano, str(k, field))
		return t, err == nil
	}
	if _, ok := at("revokedAt"); ok {
		return "revoked"
	}
	if g, ok := at("graceUntil"); ok {
		if now.After(g) {
			return "rotated"
		}
		return "rotating until " + g.Format(time.RFC3339)
	}
	if e, ok := at("expiresAt"); ok && now.After(e) {
		return "expired"
	}
	return "active"
}

func orDash(v any) any {
	if v == nil || v == "" {
		return "-"
	}
	return v
}
