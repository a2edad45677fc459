package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/core"
)

func providersCommand() *cli.Command {
	wsFlag := &cli.StringFlag{Name: "workspace", Required: true, Usage: "workspace id or name"}
	return &cli.Command{
		Name:  "providers",
		Usage: "manage a workspace's model providers (agent, router and evaluator blocks)",
		Subcommands: []*cli.Command{
			{
				Name:  "add",
				Usage: "add a model provider (prints its id); the API key is read from an environment variable, never from the command line",
				Flags: []cli.Flag{
					wsFlag,
					&cli.StringFlag{Name: "name", Required: true, Usage: "name, also the explicit model prefix (NAME/model)"},
					&cli.StringFlag{Name: "kind", Value: "openai", Usage: "openai (OpenAI-compatible chat completions) or anthropic (Messages API)"},
					&cli.StringFlag{Name: "base-url", Usage: "API base URL (default: the kind's public API), e.g. http://127.0.0.1:11434/v1 for Ollama"},
					&cli.StringFlag{Name: "api-key-env", Usage: "name of the environment variable holding the API key"},
					&cli.StringFlag{Name: "default-model", Usage: "model used when a block names none"},
					&cli.StringSliceFlag{Name: "models", Usage: "model-name glob routed to this provider, e.g. 'claude-*' (repeatable)"},
					&cli.BoolFlag{Name: "default", Usage: "route models no pattern matches to this provider"},
					&cli.DurationFlag{Name: "timeout", Usage: "per-request timeout (default 5m)"},
				},
				Action: func(c *cli.Context) error {
					in := core.ModelProviderInput{Name: c.String("name"), Kind: c.String("kind"), BaseURL: c.String("base-url"),
						DefaultModel: c.String("default-model"), Models: c.StringSlice("models"), IsDefault: c.Bool("default"), Timeout: c.Duration("timeout")}
					if env := c.String("api-key-env"); env != "" {
						v, ok := os.LookupEnv(env)
						if !ok || strings.TrimSpace(v) == "" {
							return usagef("invalid --api-key-env: environment variable %s is not set", env)
						}
						in.APIKey = v
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						ws, err := findWorkspace(ctx, a.Store, c.String("workspace"))
						if err != nil {
							return err
						}
						info, err := a.Service.AddModelProvider(ctx, operator(), ws.ID, in)
						if err != nil {
							return err
						}
						return printOut(c, info, func(w io.Writer) { row(w, info.ID) })
					})
				},
			},
			{
				Name:  "list",
				Usage: "list a workspace's model providers (keys are never shown)",
				Flags: []cli.Flag{wsFlag},
				Action: func(c *cli.Context) error {
					return withApp(c, func(ctx context.Context, a *app.App) error {
						ws, err := findWorkspace(ctx, a.Store, c.String("workspace"))
						if err != nil {
							return err
						}
						ps, err := a.Service.ListModelProviders(ctx, operator(), ws.ID)
						if err != nil {
							return err
						}
						return printOut(c, ps, func(w io.Writer) {
							row(w, "ID", "NAME", "KIND", "BASE URL", "DEFAULT MODEL", "MODELS", "DEFAULT", "KEY")
							for _, p := range ps {
								key := "no"
								if p.HasAPIKey {
									key = "set"
								}
								row(w, p.ID, p.Name, p.Kind, p.BaseURL, p.DefaultModel, strings.Join(p.Models, ","), p.IsDefault, key)
							}
						})
					})
				},
			},
			{
				Name:      "remove",
				Usage:     "remove a model provider",
				ArgsUsage: "ID|NAME",
				Flags:     []cli.Flag{wsFlag},
				Action: func(c *cli.Context) error {
					ref, err := oneArg(c, "provider ID or name")
					if err != nil {
						return err
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						ws, err := findWorkspace(ctx, a.Store, c.String("workspace"))
						if err != nil {
							return err
						}
						if err := a.Service.RemoveModelProvider(ctx, operator(), ws.ID, ref); err != nil {
							return err
						}
						return printOut(c, map[string]any{"provider": ref, "removed": true}, func(w io.Writer) { row(w, "removed", ref) })
					})
				},
			},
			{
				Name:      "test",
				Usage:     "send a one-line request to a provider and report whether it answers",
				ArgsUsage: "ID|NAME",
				Flags:     []cli.Flag{wsFlag, &cli.StringFlag{Name: "model", Usage: "model to test (default: the provider's default model)"}},
				Action: func(c *cli.Context) error {
					ref, err := oneArg(c, "provider ID or name")
					if err != nil {
						return err
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						ws, err := findWorkspace(ctx, a.Store, c.String("workspace"))
						if err != nil {
							return err
						}
						res, err := a.Service.TestModelProvider(ctx, operator(), ws.ID, ref, c.String("model"))
						if err != nil {
							return err
						}
						if err := printOut(c, res, func(w io.Writer) {
							if res.OK {
								row(w, "ok", res.Model, res.LatencyMs, "ms")
							} else {
								row(w, "failed", res.Error)
							}
						}); err != nil {
							return err
						}
						if !res.OK {
							return cli.Exit("", 1)
						}
						return nil
					})
				},
			},
		},
	}
}
