package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/store"
)

func orgsCommand() *cli.Command {
	return &cli.Command{
		Name:  "orgs",
		Usage: "manage organizations",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create an organization",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Required: true},
					&cli.StringFlag{Name: "owner", Required: true, Usage: "owner's email"},
				},
				Action: func(c *cli.Context) error {
					return withStore(c, func(ctx context.Context, st *store.Store) error {
						owner, err := st.GetUserByEmail(ctx, c.String("owner"))
						if err != nil {
							return err
						}
						o := &store.Org{Name: c.String("name")}
						if err := st.CreateOrg(ctx, o, owner.ID); err != nil {
							return err
						}
						return printOut(c, o, func(w io.Writer) {
							row(w, "ID", "NAME")
							row(w, o.ID, o.Name)
						})
					})
				},
			},
			{
				Name:  "add-member",
				Usage: "add a user to an organization or change their role",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "org", Required: true, Usage: "organization id or name"},
					&cli.StringFlag{Name: "email", Required: true},
					&cli.StringFlag{Name: "role", Value: "member", Usage: "owner, admin or member"},
				},
				Action: func(c *cli.Context) error {
					role := store.OrgRole(c.String("role"))
					if !role.Valid() {
						return usagef("invalid --role %q: allowed values are owner, admin, member", role)
					}
					return withStore(c, func(ctx context.Context, st *store.Store) error {
						o, err := findOrg(ctx, st, c.String("org"))
						if err != nil {
							return err
						}
						u, err := st.GetUserByEmail(ctx, c.String("email"))
						if err != nil {
							return err
						}
						if err := st.SetOrgMember(ctx, o.ID, u.ID, role); err != nil {
							return err
						}
						m := store.OrgMember{OrgID: o.ID, UserID: u.ID, Role: role}
						return printOut(c, m, func(w io.Writer) { row(w, o.Name, u.Email, role) })
					})
				},
			},
			{
				Name:  "list",
				Usage: "list organizations with their members",
				Action: func(c *cli.Context) error {
					return withStore(c, func(ctx context.Context, st *store.Store) error {
						type orgView struct {
							*store.Org
							Members    []store.OrgMember `json:"members"`
							Workspaces []string          `json:"workspaceIds"`
						}
						var out []orgView
						err := st.View(ctx, func(r *store.Reader) error {
							orgs, err := r.Orgs()
							if err != nil {
								return err
							}
							for _, o := range orgs {
								ms, err := r.OrgMembers(o.ID)
								if err != nil {
									return err
								}
								wss, err := r.OrgWorkspaces(o.ID)
								if err != nil {
									return err
								}
								out = append(out, orgView{o, ms, wss})
							}
							return nil
						})
						if err != nil {
							return err
						}
						return printOut(c, out, func(w io.Writer) {
							row(w, "ID", "NAME", "MEMBERS", "WORKSPACES")
							for _, o := range out {
								row(w, o.ID, o.Name, len(o.Members), len(o.Workspaces))
							}
						})
					})
				},
			},
		},
	}
}
