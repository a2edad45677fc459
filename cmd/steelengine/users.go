package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/auth"
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
					password, generated, err := passwordFlag(c)
					if err != nil {
						return err
					}
					return withAPI(c, func(cl *apiClient) error {
						var res obj
						body := obj{"email": c.String("email"), "name": c.String("name"), "password": password, "instanceAdmin": c.Bool("admin")}
						if err := cl.do(c.Context, http.MethodPost, "/api/admin/users", nil, body, &res); err != nil {
							return err
						}
						u, _ := res["user"].(obj)
						if generated {
							u["password"] = password
						}
						return printOut(c, u, func(w io.Writer) {
							row(w, "ID", "EMAIL", "NAME")
							row(w, u["id"], u["email"], u["name"])
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
					return withAPI(c, func(cl *apiClient) error {
						var res obj
						if err := cl.do(c.Context, http.MethodGet, "/api/admin/users", nil, nil, &res); err != nil {
							return err
						}
						us := objs(res, "users")
						return printOut(c, us, func(w io.Writer) {
							row(w, "ID", "EMAIL", "NAME", "ADMIN", "DISABLED")
							for _, u := range us {
								row(w, u["id"], u["email"], u["name"], u["instanceAdmin"], u["disabled"])
							}
						})
					})
				},
			},
			{
				Name:      "reset-password",
				Usage:     "give a user a new login password (random unless --password; printed once)",
				ArgsUsage: "EMAIL",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "password", Usage: "the new password (random if omitted)"}},
				Action: func(c *cli.Context) error {
					email, err := oneArg(c, "EMAIL")
					if err != nil {
						return err
					}
					password, generated, err := passwordFlag(c)
					if err != nil {
						return err
					}
					return withAPI(c, func(cl *apiClient) error {
						id, err := cl.userID(c.Context, email)
						if err != nil {
							return err
						}
						var res obj
						if err := cl.do(c.Context, http.MethodPatch, "/api/admin/users/"+url.PathEscape(id), nil, obj{"password": password}, &res); err != nil {
							return err
						}
						u, _ := res["user"].(obj)
						if generated {
							u["password"] = password
						}
						return printOut(c, u, func(w io.Writer) {
							row(w, "password reset for", u["email"])
							if generated {
								fmt.Fprintf(w, "new password (shown once): %s\n", password)
							}
						})
					})
				},
			},
		},
	}
}

// passwordFlag is --password, or a random one (generated reports which).
func passwordFlag(c *cli.Context) (string, bool, error) {
	if p := c.String("password"); p != "" {
		return p, false, nil
	}
	p, err := auth.RandomPassword()
	return p, true, err
}
