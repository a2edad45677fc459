package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/core"
)

// envScopeFlags name whose variables a command manages: a workspace's, or with
// --personal the personal ones of --user.
func envScopeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "workspace", Usage: "workspace id or name"},
		&cli.BoolFlag{Name: "personal", Usage: "a user's personal variables (override the workspace's in runs that user starts)"},
		&cli.StringFlag{Name: "user", Usage: "with --personal: the user's `EMAIL` (with --url and a personal key: default that key's user)"},
	}
}

func envCommand() *cli.Command {
	return &cli.Command{
		Name:  "env",
		Usage: "environment variables for {{NAME}} in workflows (values are write-only)",
		Subcommands: []*cli.Command{
			{
				Name:      "set",
				Usage:     "set a variable: env set --workspace WS NAME VALUE, or NAME --value-stdin to keep the value out of shell history",
				ArgsUsage: "NAME [VALUE]",
				Flags: append(envScopeFlags(),
					&cli.BoolFlag{Name: "value-stdin", Usage: "read the value from standard input (one trailing newline is dropped)"}),
				Action: func(c *cli.Context) error {
					name, value, err := envSetArgs(c)
					if err != nil {
						return err
					}
					return withEnvScope(c, func(cl *apiClient, base string) error {
						var res obj
						if err := cl.do(c.Context, http.MethodPut, base+"/"+url.PathEscape(name), nil, obj{"value": value}, &res); err != nil {
							return err
						}
						info, _ := res["data"].(obj)
						return printOut(c, info, func(w io.Writer) { row(w, "set", info["name"]) })
					})
				},
			},
			{
				Name:  "list",
				Usage: "list variable names with when and by whom they were last set (never values)",
				Flags: envScopeFlags(),
				Action: func(c *cli.Context) error {
					if c.NArg() != 0 {
						return usagef("env list takes no arguments")
					}
					return withEnvScope(c, func(cl *apiClient, base string) error {
						var res obj
						if err := cl.do(c.Context, http.MethodGet, base, nil, nil, &res); err != nil {
							return err
						}
						vars := objs(res, "data")
						return printOut(c, vars, func(w io.Writer) {
							row(w, "NAME", "UPDATED", "BY")
							for _, v := range vars {
								row(w, v["name"], v["updatedAt"], orDash(v["updatedBy"]))
							}
						})
					})
				},
			},
			{
				Name:      "unset",
				Usage:     "remove a variable",
				ArgsUsage: "NAME",
				Flags:     envScopeFlags(),
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "NAME")
					if err != nil {
						return err
					}
					return withEnvScope(c, func(cl *apiClient, base string) error {
						if err := cl.do(c.Context, http.MethodDelete, base+"/"+url.PathEscape(name), nil, nil, nil); err != nil {
							return err
						}
						return printOut(c, map[string]any{"name": name, "unset": true}, func(w io.Writer) { row(w, "unset", name) })
					})
				},
			},
		},
	}
}

// envSetArgs reads NAME and the value from the arguments or, with --value-stdin, stdin.
func envSetArgs(c *cli.Context) (name, value string, err error) {
	if c.Bool("value-stdin") {
		if c.NArg() != 1 {
			return "", "", usagef("env set --value-stdin takes only NAME")
		}
		b, err := io.ReadAll(io.LimitReader(bufio.NewReader(os.Stdin), core.MaxEnvValue+2))
		if err != nil {
			return "", "", fmt.Errorf("read value from stdin: %w", err)
		}
		v := strings.TrimSuffix(string(b), "\n")
		return c.Args().First(), strings.TrimSuffix(v, "\r"), nil
	}
	if c.NArg() != 2 {
		return "", "", usagef("env set needs NAME and VALUE (or NAME with --value-stdin)")
	}
	return c.Args().Get(0), c.Args().Get(1), nil
}

// withEnvScope resolves --workspace or --personal --user to the API collection of
// those variables and runs fn with a client.
func withEnvScope(c *cli.Context, fn func(cl *apiClient, base string) error) error {
	personal, ws, user := c.Bool("personal"), c.String("workspace"), c.String("user")
	switch {
	case personal && ws != "":
		return usagef("%s: use --workspace or --personal, not both", c.Command.FullName())
	case personal && user == "" && !remoteConfigured(c):
		return usagef("%s --personal needs --user EMAIL", c.Command.FullName())
	case !personal && user != "":
		return usagef("%s: --user only applies with --personal", c.Command.FullName())
	case !personal && ws == "":
		return usagef("%s needs --workspace WS (or --personal --user EMAIL)", c.Command.FullName())
	}
	return withAPI(c, func(cl *apiClient) error {
		switch {
		case personal && user == "":
			// With --url and a personal key: that key's user.
			return fn(cl, "/api/users/me/environment")
		case personal:
			id, err := cl.userID(c.Context, user)
			if err != nil {
				return err
			}
			return fn(cl, "/api/admin/users/"+url.PathEscape(id)+"/environment")
		}
		id, err := cl.workspaceID(c.Context, ws)
		if err != nil {
			return err
		}
		return fn(cl, "/api/workspaces/"+url.PathEscape(id)+"/environment")
	})
}
