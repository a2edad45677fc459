package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/core"
)

// envScopeFlags name whose variables a command manages: a workspace's, or with
// --personal the personal ones of --user.
func envScopeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "workspace", Usage: "workspace id or name"},
		&cli.BoolFlag{Name: "personal", Usage: "a user's personal variables (override the workspace's in runs that user starts)"},
		&cli.StringFlag{Name: "user", Usage: "with --personal: the user's `EMAIL`"},
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
					return withEnvScope(c, func(ctx context.Context, a *app.App, sc core.EnvScope) error {
						info, err := a.Service.SetEnv(ctx, operator(), sc, name, value)
						if err != nil {
							return err
						}
						return printOut(c, info, func(w io.Writer) { row(w, "set", info.Name) })
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
					return withEnvScope(c, func(ctx context.Context, a *app.App, sc core.EnvScope) error {
						vars, err := a.Service.ListEnv(ctx, operator(), sc)
						if err != nil {
							return err
						}
						return printOut(c, vars, func(w io.Writer) {
							row(w, "NAME", "UPDATED", "BY")
							for _, v := range vars {
								row(w, v.Name, v.UpdatedAt.Format(time.RFC3339), v.UpdatedBy)
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
					return withEnvScope(c, func(ctx context.Context, a *app.App, sc core.EnvScope) error {
						if err := a.Service.UnsetEnv(ctx, operator(), sc, name); err != nil {
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

// withEnvScope resolves --workspace or --personal --user and runs fn with the app open.
func withEnvScope(c *cli.Context, fn func(ctx context.Context, a *app.App, sc core.EnvScope) error) error {
	personal, ws, user := c.Bool("personal"), c.String("workspace"), c.String("user")
	switch {
	case personal && ws != "":
		return usagef("%s: use --workspace or --personal, not both", c.Command.FullName())
	case personal && user == "":
		return usagef("%s --personal needs --user EMAIL", c.Command.FullName())
	case !personal && user != "":
		return usagef("%s: --user only applies with --personal", c.Command.FullName())
	case !personal && ws == "":
		return usagef("%s needs --workspace WS (or --personal --user EMAIL)", c.Command.FullName())
	}
	return withApp(c, func(ctx context.Context, a *app.App) error {
		if personal {
			u, err := a.Store.GetUserByEmail(ctx, user)
			if err != nil {
				return fmt.Errorf("user %s: %w", user, err)
			}
			return fn(ctx, a, core.EnvScope{Personal: true, UserID: u.ID})
		}
		w, err := findWorkspace(ctx, a.Store, ws)
		if err != nil {
			return err
		}
		return fn(ctx, a, core.EnvScope{WorkspaceID: w.ID})
	})
}
