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

func externalMCPCommand() *cli.Command {
	wsFlag := &cli.StringFlag{Name: "workspace", Required: true, Usage: "workspace id or name"}
	return &cli.Command{
		Name:  "external-mcp",
		Usage: "manage the external MCP servers (streamable HTTP) whose tools a workspace's agents may call",
		Subcommands: []*cli.Command{
			{
				Name:  "add",
				Usage: "add an external MCP server (prints its id); header values are read from environment variables",
				Flags: []cli.Flag{
					wsFlag,
					&cli.StringFlag{Name: "name", Required: true, Usage: "name, as agent tools refer to it (serverId)"},
					&cli.StringFlag{Name: "endpoint", Required: true, Usage: "streamable HTTP endpoint, e.g. https://mcp.example.com/mcp"},
					&cli.StringSliceFlag{Name: "header-env", Usage: "HEADER=ENV_VAR: send header HEADER with the value of ENV_VAR (repeatable)"},
				},
				Action: func(c *cli.Context) error {
					headers := map[string]string{}
					for _, h := range c.StringSlice("header-env") {
						name, env, ok := strings.Cut(h, "=")
						v, set := os.LookupEnv(env)
						if !ok || strings.TrimSpace(name) == "" || !set || v == "" {
							return usagef("invalid --header-env %q: want HEADER=ENV_VAR with ENV_VAR set", h)
						}
						headers[strings.TrimSpace(name)] = v
					}
					return withWorkspaceResource(c, "external-mcp-servers", func(cl *apiClient, base string) error {
						var res obj
						body := obj{"name": c.String("name"), "url": c.String("endpoint"), "headers": headers}
						if err := cl.do(c.Context, http.MethodPost, base, nil, body, &res); err != nil {
							return err
						}
						m, _ := res["server"].(obj)
						return printOut(c, m, func(w io.Writer) { row(w, m["id"]) })
					})
				},
			},
			{
				Name:  "list",
				Usage: "list a workspace's external MCP servers (header values are never shown)",
				Flags: []cli.Flag{wsFlag},
				Action: func(c *cli.Context) error {
					return withWorkspaceResource(c, "external-mcp-servers", func(cl *apiClient, base string) error {
						var res obj
						if err := cl.do(c.Context, http.MethodGet, base, nil, nil, &res); err != nil {
							return err
						}
						ms := objs(res, "servers")
						return printOut(c, ms, func(w io.Writer) {
							row(w, "ID", "NAME", "URL", "HEADERS")
							for _, m := range ms {
								var names []string
								hs, _ := m["headerNames"].([]any)
								for _, h := range hs {
									names = append(names, fmt.Sprint(h))
								}
								row(w, m["id"], m["name"], m["url"], strings.Join(names, ","))
							}
						})
					})
				},
			},
			{
				Name:      "remove",
				Usage:     "remove an external MCP server",
				ArgsUsage: "ID|NAME",
				Flags:     []cli.Flag{wsFlag},
				Action: func(c *cli.Context) error {
					ref, err := oneArg(c, "server ID or name")
					if err != nil {
						return err
					}
					return withWorkspaceResource(c, "external-mcp-servers", func(cl *apiClient, base string) error {
						if err := cl.do(c.Context, http.MethodDelete, base+"/"+url.PathEscape(ref), nil, nil, nil); err != nil {
							return err
						}
						return printOut(c, map[string]any{"server": ref, "removed": true}, func(w io.Writer) { row(w, "removed", ref) })
					})
				},
			},
		},
	}
}
