package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
)

// mcpCommand serves MCP over stdin/stdout for a local client (Claude Desktop, an
// IDE): the tools are the deployed workflows the key may execute, exactly as at
// /mcp, or those of one MCP server object with --server.
func mcpCommand() *cli.Command {
	return &cli.Command{
		Name:  "mcp",
		Usage: "serve the deployed workflows a key may run as MCP tools over stdio",
		Description: "Speaks MCP (JSON-RPC, one message per line) on stdin/stdout; logs go to stderr.\n" +
			"Access is that of the API key, checked on every request like the HTTP endpoints.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "API key (sk-steelengine-…)", EnvVars: []string{"STEELENGINE_API_KEY"}, Required: true},
			&cli.StringFlag{Name: "server", Usage: "serve only the workflows of this MCP server object (id)"},
		},
		Action: func(c *cli.Context) error {
			return withApp(c, func(ctx context.Context, a *app.App) error {
				return a.MCP.ServeStdio(ctx, c.String("key"), c.String("server"), os.Stdin, os.Stdout)
			})
		},
	}
}
