package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
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
					models := c.StringSlice("models")
					if models == nil {
						models = []string{}
					}
					in := obj{"name": c.String("name"), "kind": c.String("kind"), "baseUrl": c.String("base-url"),
						"defaultModel": c.String("default-model"), "models": models, "isDefault": c.Bool("default"),
						"timeoutMs": c.Duration("timeout").Milliseconds()}
					if env := c.String("api-key-env"); env != "" {
						v, ok := os.LookupEnv(env)
						if !ok || strings.TrimSpace(v) == "" {
							return usagef("invalid --api-key-env: environment variable %s is not set", env)
						}
						in["apiKey"] = v
					}
					return withWorkspaceResource(c, "model-providers", func(cl *apiClient, base string) error {
						var res obj
						if err := cl.do(c.Context, http.MethodPost, base, nil, in, &res); err != nil {
							return err
						}
						info, _ := res["provider"].(obj)
						return printOut(c, info, func(w io.Writer) { row(w, info["id"]) })
					})
				},
			},
			{
				Name:  "list",
				Usage: "list a workspace's model providers (keys are never shown)",
				Flags: []cli.Flag{wsFlag},
				Action: func(c *cli.Context) error {
					return withWorkspaceResource(c, "model-providers", func(cl *apiClient, base string) error {
						var res obj
						if err := cl.do(c.Context, http.MethodGet, base, nil, nil, &res); err != nil {
							return err
						}
						ps := objs(res, "providers")
						return printOut(c, ps, func(w io.Writer) {
							row(w, "ID", "NAME", "KIND", "BASE URL", "DEFAULT MODEL", "MODELS", "DEFAULT", "KEY")
							for _, p := range ps {
								key := "no"
								if p["hasApiKey"] == true {
									key = "set"
								}
								var models []string
								ms, _ := p["models"].([]any)
								for _, m := range ms {
									models = append(models, fmt.Sprint(m))
								}
								row(w, p["id"], p["name"], p["kind"], p["baseUrl"], orDash(p["defaultModel"]), strings.Join(models, ","), p["isDefault"], key)
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
					return withWorkspaceResource(c, "model-providers", func(cl *apiClient, base string) error {
						if err := cl.do(c.Context, http.MethodDelete, base+"/"+url.PathEscape(ref), nil, nil, nil); err != nil {
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
					return withWorkspaceResource(c, "model-providers", func(cl *apiClient, base string) error {
						var res obj
						if err := cl.do(c.Context, http.MethodPost, base+"/"+url.PathEscape(ref)+"/test", nil, obj{"model": c.String("model")}, &res); err != nil {
							return err
						}
						ok := res["ok"] == true
						if err := printOut(c, res, func(w io.Writer) {
							if ok {
								row(w, "ok", res["model"], res["latencyMs"], "ms")
							} else {
								row(w, "failed", res["error"])
							}
						}); err != nil {
							return err
						}
						if !ok {
							return cli.Exit("", 1)
						}
						return nil
					})
				},
			},
		},
	}
}
