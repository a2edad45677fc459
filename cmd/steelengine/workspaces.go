package main

import (
	"context"
	"io"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/store"
)

func workspacesCommand() *cli.Command {
	wsFlag := &cli.StringFlag{Name: "workspace", Required: true, Usage: "workspace id or name"}
	return &cli.Command{
		Name:  "workspaces",
		Usage: "manage workspaces and their members",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create a workspace",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Required: true},
					&cli.StringFlag{Name: "owner", Required: true, Usage: "billing owner's email"},
					&cli.StringFlag{Name: "org", Usage: "organization id or name"},
				},
				Action: func(c *cli.Context) error {
					return withStore(c, func(ctx context.Context, st *store.Store) error {
						owner, err := st.GetUserByEmail(ctx, c.String("owner"))
						if err != nil {
							return err
						}
						var orgID string
						if ref := c.String("org"); ref != "" {
							o, err := findOrg(ctx, st, ref)
							if err != nil {
								return err
							}
							orgID = o.ID
						}
						ws := store.NewWorkspace(c.String("name"), owner.ID, orgID)
						if err := st.CreateWorkspace(ctx, ws); err != nil {
							return err
						}
						return printOut(c, ws, func(w io.Writer) {
							row(w, "ID", "NAME", "ORG")
							row(w, ws.ID, ws.Name, ws.OrgID)
						})
					})
				},
			},
			{
				Name:  "add-member",
				Usage: "add a user to a workspace or change their permission",
				Flags: []cli.Flag{wsFlag,
					&cli.StringFlag{Name: "email", Required: true},
					&cli.StringFlag{Name: "permission", Value: "read", Usage: "read, write or admin"},
				},
				Action: func(c *cli.Context) error {
					perm := store.Level(c.String("permission"))
					if !perm.Valid() {
						return usagef("invalid --permission %q: allowed values are read, write, admin", perm)
					}
					return withStore(c, func(ctx context.Context, st *store.Store) error {
						ws, err := findWorkspace(ctx, st, c.String("workspace"))
						if err != nil {
							return err
						}
						u, err := st.GetUserByEmail(ctx, c.String("email"))
						if err != nil {
							return err
						}
						if err := st.SetWorkspaceMember(ctx, ws.ID, u.ID, perm); err != nil {
							return err
						}
						m := store.WorkspaceMember{WorkspaceID: ws.ID, UserID: u.ID, Permission: perm}
						return printOut(c, m, func(w io.Writer) { row(w, ws.Name, u.Email, perm) })
					})
				},
			},
			{
				Name:  "remove-member",
				Usage: "remove a user from a workspace",
				Flags: []cli.Flag{wsFlag, &cli.StringFlag{Name: "email", Required: true}},
				Action: func(c *cli.Context) error {
					return withStore(c, func(ctx context.Context, st *store.Store) error {
						ws, err := findWorkspace(ctx, st, c.String("workspace"))
						if err != nil {
							return err
						}
						u, err := st.GetUserByEmail(ctx, c.String("email"))
						if err != nil {
							return err
						}
						if err := st.RemoveWorkspaceMember(ctx, ws.ID, u.ID); err != nil {
							return err
						}
						out := map[string]any{"workspaceId": ws.ID, "userId": u.ID, "removed": true}
						return printOut(c, out, func(w io.Writer) { row(w, "removed", u.Email, "from", ws.Name) })
					})
				},
			},
			{
				Name:  "set",
				Usage: "change workspace settings",
				Flags: []cli.Flag{wsFlag,
					&cli.StringFlag{Name: "allow-personal-keys", Usage: "true or false"},
					&cli.StringFlag{Name: "org", Usage: "move the workspace into this organization (id or name)"},
					&cli.BoolFlag{Name: "no-org", Usage: "move the workspace out of its organization (drops org-key grants on it)"},
					&cli.StringFlag{Name: "name", Usage: "rename the workspace"},
				},
				Action: func(c *cli.Context) error {
					var allow *bool
					if c.IsSet("allow-personal-keys") {
						b, err := strconv.ParseBool(c.String("allow-personal-keys"))
						if err != nil {
							return usagef("invalid --allow-personal-keys %q: allowed values are true, false", c.String("allow-personal-keys"))
						}
						allow = &b
					}
					if c.IsSet("org") && c.Bool("no-org") {
						return usagef("--org and --no-org cannot be used together")
					}
					return withStore(c, func(ctx context.Context, st *store.Store) error {
						ws, err := findWorkspace(ctx, st, c.String("workspace"))
						if err != nil {
							return err
						}
						var orgID *string
						switch {
						case c.Bool("no-org"):
							orgID = new(string)
						case c.IsSet("org"):
							o, err := findOrg(ctx, st, c.String("org"))
							if err != nil {
								return err
							}
							orgID = &o.ID
						}
						before := ws.AllowPersonalKeys
						ws, err = st.UpdateWorkspace(ctx, ws.ID, func(w *store.Workspace) error {
							if allow != nil {
								w.AllowPersonalKeys = *allow
							}
							if orgID != nil {
								w.OrgID = *orgID
							}
							if n := c.String("name"); n != "" {
								w.Name = n
							}
							return nil
						})
						if err != nil {
							return err
						}
						if ws.AllowPersonalKeys != before {
							if err := st.AddAudit(ctx, &store.AuditEvent{Action: "personal_keys_changed", WorkspaceID: ws.ID,
								Reason: "allowPersonalKeys=" + strconv.FormatBool(ws.AllowPersonalKeys), Transport: "cli"}); err != nil {
								return err
							}
						}
						return printOut(c, ws, func(w io.Writer) {
							row(w, "ID", "NAME", "ORG", "ALLOW PERSONAL KEYS")
							row(w, ws.ID, ws.Name, ws.OrgID, ws.AllowPersonalKeys)
						})
					})
				},
			},
			{
				Name:  "list",
				Usage: "list workspaces with their members",
				Action: func(c *cli.Context) error {
					return withStore(c, func(ctx context.Context, st *store.Store) error {
						type wsView struct {
							*store.Workspace
							Members []store.WorkspaceMember `json:"members"`
						}
						var out []wsView
						err := st.View(ctx, func(r *store.Reader) error {
							wss, err := r.Workspaces()
							if err != nil {
								return err
							}
							for _, ws := range wss {
								ms, err := r.WorkspaceMembers(ws.ID)
								if err != nil {
									return err
								}
								out = append(out, wsView{ws, ms})
							}
							return nil
						})
						if err != nil {
							return err
						}
						return printOut(c, out, func(w io.Writer) {
							row(w, "ID", "NAME", "ORG", "OWNER", "MEMBERS", "ALLOW PERSONAL KEYS")
							for _, ws := range out {
								row(w, ws.ID, ws.Name, ws.OrgID, ws.OwnerID, len(ws.Members), ws.AllowPersonalKeys)
							}
						})
					})
				},
			},
		},
	}
}
