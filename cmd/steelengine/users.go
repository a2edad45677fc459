package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

func usersCommand() *cli.Command {
	return &cli.Command{
		Name:  "users",
		Usage: "manage users",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create a user",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "email", Required: true},
					&cli.StringFlag{Name: "name"},
					&cli.StringFlag{Name: "password", Usage: "login password (random if omitted; printed once)"},
					&cli.BoolFlag{Name: "admin", Usage: "make the user an instance admin"},
				},
				Action: func(c *cli.Context) error {
					password, generated := c.String("password"), false
					if password == "" {
						p, err := auth.RandomPassword()
						if err != nil {
							return err
						}
						password, generated = p, true
					}
					hash, err := auth.HashPassword(password)
					if err != nil {
						return err
					}
					u := &store.User{Email: c.String("email"), Name: c.String("name"), PasswordHash: hash, InstanceAdmin: c.Bool("admin")}
					return withStore(c, func(ctx context.Context, st *store.Store) error {
						if err := st.CreateUser(ctx, u); err != nil {
							return err
						}
						out := struct {
							*userView
							Password string `json:"password,omitempty"`
						}{viewUser(u), ""}
						if generated {
							out.Password = password
						}
						return printOut(c, out, func(w io.Writer) {
							row(w, "ID", "EMAIL", "NAME")
							row(w, u.ID, u.Email, u.Name)
							if generated {
								fmt.Fprintf(w, "password (shown once): %s\n", password)
							}
						})
					})
				},
			},
			{
				Name:  "list",
				Usage: "list users",
				Action: func(c *cli.Context) error {
					return withStore(c, func(ctx context.Context, st *store.Store) error {
						us, err := st.ListUsers(ctx)
						if err != nil {
							return err
						}
						views := make([]*userView, len(us))
						for i, u := range us {
							views[i] = viewUser(u)
						}
						return printOut(c, views, func(w io.Writer) {
							row(w, "ID", "EMAIL", "NAME", "ADMIN", "DISABLED")
							for _, u := range views {
								row(w, u.ID, u.Email, u.Name, u.InstanceAdmin, u.DisabledAt != nil)
							}
						})
					})
				},
			},
		},
	}
}

// userView is a user without the password hash.
type userView struct {
	store.User
	PasswordHash string `json:"passwordHash,omitempty"`
}

func viewUser(u *store.User) *userView {
	v := &userView{User: *u}
	v.User.PasswordHash = ""
	return v
}
