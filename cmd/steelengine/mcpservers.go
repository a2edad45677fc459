package main

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/store"
)

func mcpServersCommand() *cli.Command {
	return &cli.Command{
		Name:  "mcp-servers",
		Usage: "manage MCP server objects (named sets of a workspace's workflows served at /api/mcp/serve/ID)",
		Subcommands: []*cli.Command{
			{
				Name:  "create",
				Usage: "create an MCP server object (prints its id)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "workspace", Required: true, Usage: "workspace id or name"},
					&cli.StringFlag{Name: "name", Required: true},
					&cli.StringFlag{Name: "description"},
					&cli.StringSliceFlag{Name: "workflow", Usage: "workflow id to serve (repeatable)"},
				},
				Action: func(c *cli.Context) error {
					if strings.TrimSpace(c.String("name")) == "" {
						return usagef("invalid --name: must not be empty")
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						ws, err := findWorkspace(ctx, a.Store, c.String("workspace"))
						if err != nil {
							return err
						}
						m := &store.MCPServer{WorkspaceID: ws.ID, Name: strings.TrimSpace(c.String("name")), Description: c.String("description"),
							WorkflowIDs: c.StringSlice("workflow")}
						if m.WorkflowIDs == nil {
							m.WorkflowIDs = []string{}
						}
						if err := a.Service.CreateMCPServer(ctx, operator(), m); err != nil {
							return err
						}
						return printOut(c, m, func(w io.Writer) { row(w, m.ID) })
					})
				},
			},
			{
				Name:  "list",
				Usage: "list a workspace's MCP server objects",
				Flags: []cli.Flag{&cli.StringFlag{Name: "workspace", Required: true, Usage: "workspace id or name"}},
				Action: func(c *cli.Context) error {
					return withApp(c, func(ctx context.Context, a *app.App) error {
						ws, err := findWorkspace(ctx, a.Store, c.String("workspace"))
						if err != nil {
							return err
						}
						ms, err := a.Service.ListMCPServers(ctx, operator(), ws.ID)
						if err != nil {
							return err
						}
						if ms == nil {
							ms = []*store.MCPServer{}
						}
						return printOut(c, ms, func(w io.Writer) {
							row(w, "ID", "NAME", "WORKFLOWS", "URL")
							for _, m := range ms {
								row(w, m.ID, m.Name, strings.Join(m.WorkflowIDs, ","), "/api/mcp/serve/"+m.ID)
							}
						})
					})
				},
			},
			{
				Name:      "add-workflow",
				Usage:     "add a workflow to an MCP server object",
				ArgsUsage: "ID WORKFLOW_ID",
				Action: func(c *cli.Context) error {
					return mcpServerEdit(c, func(m *store.MCPServer, wf string) {
						if !slices.Contains(m.WorkflowIDs, wf) {
							m.WorkflowIDs = append(m.WorkflowIDs, wf)
						}
					})
				},
			},
			{
				Name:      "remove-workflow",
				Usage:     "remove a workflow from an MCP server object",
				ArgsUsage: "ID WORKFLOW_ID",
				Action: func(c *cli.Context) error {
					return mcpServerEdit(c, func(m *store.MCPServer, wf string) {
						m.WorkflowIDs = slices.DeleteFunc(m.WorkflowIDs, func(id string) bool { return id == wf })
					})
				},
			},
			{
				Name:      "delete",
				Usage:     "delete an MCP server object",
				ArgsUsage: "ID",
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "MCP server ID")
					if err != nil {
						return err
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						if err := a.Service.DeleteMCPServer(ctx, operator(), id); err != nil {
							return err
						}
						return printOut(c, map[string]any{"id": id, "deleted": true}, func(w io.Writer) { row(w, "deleted", id) })
					})
				},
			},
		},
	}
}

func mcpServerEdit(c *cli.Context, edit func(m *store.MCPServer, wf string)) error {
	if c.NArg() != 2 {
		return usagef("%s: expected ID and WORKFLOW_ID arguments", c.Command.FullName())
	}
	id, wf := c.Args().Get(0), c.Args().Get(1)
	return withApp(c, func(ctx context.Context, a *app.App) error {
		m, err := a.Service.UpdateMCPServer(ctx, operator(), id, func(m *store.MCPServer) error {
			edit(m, wf)
			return nil
		})
		if err != nil {
			return err
		}
		return printOut(c, m, func(w io.Writer) { row(w, m.ID, m.Name, strings.Join(m.WorkflowIDs, ",")) })
	})
}
