package main

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
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
					return withAPI(c, func(cl *apiClient) error {
						wsID, err := cl.workspaceID(c.Context, c.String("workspace"))
						if err != nil {
							return err
						}
						wfs := c.StringSlice("workflow")
						if wfs == nil {
							wfs = []string{}
						}
						body := obj{"name": strings.TrimSpace(c.String("name")), "description": c.String("description"), "workflowIds": wfs}
						var res obj
						if err := cl.do(c.Context, http.MethodPost, "/api/workspaces/"+url.PathEscape(wsID)+"/mcp-servers", nil, body, &res); err != nil {
							return err
						}
						m, _ := res["server"].(obj)
						return printOut(c, m, func(w io.Writer) { row(w, m["id"]) })
					})
				},
			},
			{
				Name:  "list",
				Usage: "list a workspace's MCP server objects",
				Flags: []cli.Flag{&cli.StringFlag{Name: "workspace", Required: true, Usage: "workspace id or name"}},
				Action: func(c *cli.Context) error {
					return withAPI(c, func(cl *apiClient) error {
						wsID, err := cl.workspaceID(c.Context, c.String("workspace"))
						if err != nil {
							return err
						}
						var res obj
						if err := cl.do(c.Context, http.MethodGet, "/api/workspaces/"+url.PathEscape(wsID)+"/mcp-servers", nil, nil, &res); err != nil {
							return err
						}
						ms := objs(res, "servers")
						return printOut(c, ms, func(w io.Writer) {
							row(w, "ID", "NAME", "WORKFLOWS", "URL")
							for _, m := range ms {
								row(w, m["id"], m["name"], strings.Join(workflowIDs(m), ","), m["url"])
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
					return mcpServerEdit(c, func(ids []string, wf string) []string {
						if !slices.Contains(ids, wf) {
							ids = append(ids, wf)
						}
						return ids
					})
				},
			},
			{
				Name:      "remove-workflow",
				Usage:     "remove a workflow from an MCP server object",
				ArgsUsage: "ID WORKFLOW_ID",
				Action: func(c *cli.Context) error {
					return mcpServerEdit(c, func(ids []string, wf string) []string {
						return slices.DeleteFunc(ids, func(id string) bool { return id == wf })
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
					return withAPI(c, func(cl *apiClient) error {
						if err := cl.do(c.Context, http.MethodDelete, "/api/mcp-servers/"+url.PathEscape(id), nil, nil, nil); err != nil {
							return err
						}
						return printOut(c, obj{"id": id, "deleted": true}, func(w io.Writer) { row(w, "deleted", id) })
					})
				},
			},
		},
	}
}

func workflowIDs(m obj) []string {
	raw, _ := m["workflowIds"].([]any)
	ids := make([]string, 0, len(raw))
	for _, v := range raw {
		if s, ok := v.(string); ok {
			ids = append(ids, s)
		}
	}
	return ids
}

func mcpServerEdit(c *cli.Context, edit func(ids []string, wf string) []string) error {
	if c.NArg() != 2 {
		return usagef("%s: expected ID and WORKFLOW_ID arguments", c.Command.FullName())
	}
	id, wf := c.Args().Get(0), c.Args().Get(1)
	path := "/api/mcp-servers/" + url.PathEscape(id)
	return withAPI(c, func(cl *apiClient) error {
		var cur obj
		if err := cl.do(c.Context, http.MethodGet, path, nil, nil, &cur); err != nil {
			return err
		}
		m, _ := cur["server"].(obj)
		var res obj
		if err := cl.do(c.Context, http.MethodPatch, path, nil, obj{"workflowIds": edit(workflowIDs(m), wf)}, &res); err != nil {
			return err
		}
		m, _ = res["server"].(obj)
		return printOut(c, m, func(w io.Writer) { row(w, m["id"], m["name"], strings.Join(workflowIDs(m), ",")) })
	})
}
