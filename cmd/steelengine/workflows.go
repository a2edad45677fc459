package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

func workflowsCommand() *cli.Command {
	return &cli.Command{
		Name:  "workflows",
		Usage: "import, deploy, export and run workflows",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "import a Sim-format workflow file (prints the new id); --replace ID updates that workflow in place",
				ArgsUsage: "FILE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "workspace", Usage: "workspace id or name (required unless --replace)"},
					&cli.StringFlag{Name: "replace", Usage: "replace the draft of workflow `ID` instead of creating a new workflow"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("workflows import needs exactly one FILE argument")
					}
					if id := c.String("replace"); id != "" {
						if c.String("workspace") != "" {
							return usagef("workflows import: --replace keeps the workflow's workspace; drop --workspace")
						}
						return updateWorkflow(c, id, c.Args().First())
					}
					if c.String("workspace") == "" {
						return usagef("workflows import needs --workspace (or --replace ID)")
					}
					data, err := readFileArg(c.Args().First())
					if err != nil {
						return err
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						ws, err := findWorkspace(ctx, a.Store, c.String("workspace"))
						if err != nil {
							return err
						}
						wf, err := a.Service.ImportWorkflow(ctx, operator(), ws.ID, data)
						if err != nil {
							return err
						}
						return printOut(c, workflowView(wf), func(w io.Writer) { fmt.Fprintln(w, wf.ID) })
					})
				},
			},
			{
				Name:      "update",
				Usage:     "replace a workflow's draft with a Sim-format file, keeping its id, keys, grants, MCP servers and versions",
				ArgsUsage: "ID FILE",
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return usagef("workflows update needs ID and FILE arguments")
					}
					return updateWorkflow(c, c.Args().Get(0), c.Args().Get(1))
				},
			},
			{
				Name:      "versions",
				Usage:     "list a workflow's deployed versions (who, when, note; * marks the active one)",
				ArgsUsage: "ID",
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "workflow ID")
					if err != nil {
						return err
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						_, versions, err := a.Service.Versions(ctx, operator(), id)
						if err != nil {
							return err
						}
						return printOut(c, versions, func(w io.Writer) {
							row(w, "VERSION", "ACTIVE", "DEPLOYED", "BY", "NOTE")
							for _, v := range versions {
								active := ""
								if v.Active {
									active = "*"
								}
								row(w, v.Version, active, v.CreatedAt.Format(time.RFC3339), v.CreatedBy, v.Note)
							}
						})
					})
				},
			},
			{
				Name:  "list",
				Usage: "list workflows",
				Flags: []cli.Flag{&cli.StringFlag{Name: "workspace", Usage: "workspace id or name (default: all)"}},
				Action: func(c *cli.Context) error {
					return withApp(c, func(ctx context.Context, a *app.App) error {
						var wsID string
						if ref := c.String("workspace"); ref != "" {
							ws, err := findWorkspace(ctx, a.Store, ref)
							if err != nil {
								return err
							}
							wsID = ws.ID
						}
						wfs, err := a.Service.ListWorkflows(ctx, operator(), wsID)
						if err != nil {
							return err
						}
						views := make([]map[string]any, len(wfs))
						for i, wf := range wfs {
							views[i] = workflowView(wf)
						}
						return printOut(c, views, func(w io.Writer) {
							row(w, "ID", "NAME", "WORKSPACE", "DEPLOYED", "VERSION")
							for _, wf := range wfs {
								row(w, wf.ID, wf.Name, wf.WorkspaceID, wf.IsDeployed(), wf.ActiveVersion)
							}
						})
					})
				},
			},
			{
				Name:      "export",
				Usage:     "print a workflow's draft (or a deployed --version) in Sim's export format",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{&cli.UintFlag{Name: "version", Usage: "export deployed version `N` instead of the draft"}},
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "workflow ID")
					if err != nil {
						return err
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						data, err := a.Service.ExportWorkflow(ctx, operator(), id, uint32(c.Uint("version")))
						if err != nil {
							return err
						}
						_, err = fmt.Fprintln(c.App.Writer, string(data))
						return err
					})
				},
			},
			{
				Name:      "deploy",
				Usage:     "deploy the draft as the next numbered version, or re-activate an older one with --version (roll back)",
				ArgsUsage: "ID",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "note", Usage: "what changed in this version (kept with it)"},
					&cli.UintFlag{Name: "version", Usage: "re-activate stored version `N` instead of deploying the draft"},
				},
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "workflow ID")
					if err != nil {
						return err
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						res, err := a.Service.Deploy(ctx, operator(), id, core.DeployRequest{Version: uint32(c.Uint("version")), Note: c.String("note")})
						if err != nil {
							return describeCoreErr(err)
						}
						return printDeploy(c, id, res)
					})
				},
			},
			{
				Name:      "undeploy",
				Usage:     "deactivate the deployed version",
				ArgsUsage: "ID",
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "workflow ID")
					if err != nil {
						return err
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						wf, err := a.Service.Undeploy(ctx, operator(), id)
						if err != nil {
							return err
						}
						return printOut(c, workflowView(wf), func(w io.Writer) { row(w, "undeployed", id) })
					})
				},
			},
			{
				Name:      "run",
				Usage:     "run a workflow's draft offline (or its deployed version on a server with --url/--key) and print the result and trace",
				ArgsUsage: "ID",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "input", Value: "{}", Usage: "input as a JSON object"},
					&cli.StringFlag{Name: "url", EnvVars: []string{"STEELENGINE_URL"}, Usage: "run on this server instead of offline"},
					&cli.StringFlag{Name: "key", EnvVars: []string{"STEELENGINE_API_KEY"}, Usage: "API key for --url"},
					&cli.BoolFlag{Name: "deployed", Usage: "offline: run the active deployed version instead of the draft"},
				},
				Action: func(c *cli.Context) error {
					id, err := oneArg(c, "workflow ID")
					if err != nil {
						return err
					}
					var input map[string]any
					if err := json.Unmarshal([]byte(c.String("input")), &input); err != nil {
						return usagef("invalid --input: want a JSON object (%v)", err)
					}
					if remoteConfigured(c) {
						return remoteRun(c, id, input)
					}
					return withApp(c, func(ctx context.Context, a *app.App) error {
						run, err := a.Service.Execute(ctx, operator(), core.RunRequest{
							WorkflowID: id, Input: input, Trigger: store.TriggerManual, Draft: !c.Bool("deployed"),
						})
						if err != nil {
							return err
						}
						return printRun(c, run)
					})
				},
			},
		},
	}
}

// updateWorkflow replaces workflow id's draft with the file at path.
func updateWorkflow(c *cli.Context, id, path string) error {
	data, err := readFileArg(path)
	if err != nil {
		return err
	}
	return withApp(c, func(ctx context.Context, a *app.App) error {
		wf, err := a.Service.UpdateWorkflow(ctx, operator(), id, data)
		if err != nil {
			return err
		}
		return printOut(c, workflowView(wf), func(w io.Writer) {
			row(w, "updated", wf.ID, "draft; deployed version", wf.ActiveVersion, "runs until the next deploy")
		})
	})
}

// printDeploy reports the active version and warns about unset {{NAME}} references.
func printDeploy(c *cli.Context, id string, res *core.DeployResult) error {
	dep := res.Deployment
	warnings := res.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	out := map[string]any{"workflowId": dep.WorkflowID, "version": dep.Version, "deployedAt": dep.CreatedAt,
		"note": dep.Note, "rollback": res.Rollback, "warnings": warnings}
	return printOut(c, out, func(w io.Writer) {
		what := "deployed"
		if res.Rollback {
			what = "re-activated"
		}
		row(w, what, id, "version", dep.Version)
		for _, msg := range warnings {
			fmt.Fprintln(w, "warning: "+msg)
		}
	})
}

// printRun prints a finished run: its result and its block trace.
func printRun(c *cli.Context, run *core.Run) error {
	res := run.Result
	out := map[string]any{
		"success": res.Success, "executionId": run.Execution.ID, "output": res.Output,
		"error": res.Error, "logs": res.BlockLogs, "traceSpans": res.TraceSpans, "totalDuration": res.DurationMs,
	}
	if err := printOut(c, out, func(w io.Writer) {
		status := "completed"
		if !res.Success {
			status = "failed: " + res.Error
		}
		fmt.Fprintf(w, "execution %s %s in %d ms\n", run.Execution.ID, status, res.DurationMs)
		outJSON, _ := json.MarshalIndent(res.Output, "", "  ")
		fmt.Fprintf(w, "output: %s\n", outJSON)
		fmt.Fprintln(w, "trace:")
		row(w, "  #", "BLOCK", "TYPE", "MS", "STATUS")
		for _, l := range res.BlockLogs {
			st := "ok"
			if !l.Success {
				st = "error: " + l.Error
			}
			row(w, fmt.Sprintf("  %d", l.ExecutionOrder), l.BlockName, l.BlockType, l.DurationMs, st)
		}
	}); err != nil {
		return err
	}
	if !res.Success {
		return cli.Exit("", 1)
	}
	return nil
}

func workflowView(wf *store.Workflow) map[string]any {
	return map[string]any{
		"id": wf.ID, "workspaceId": wf.WorkspaceID, "name": wf.Name, "description": wf.Description,
		"isDeployed": wf.IsDeployed(), "activeVersion": wf.ActiveVersion, "deployedAt": wf.DeployedAt,
		"createdAt": wf.CreatedAt, "updatedAt": wf.UpdatedAt,
	}
}

func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", usagef("%s: expected exactly one %s argument", c.Command.FullName(), what)
	}
	return c.Args().First(), nil
}

func readFileArg(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read workflow file: %w", err)
	}
	return data, nil
}

// describeCoreErr expands a use-case error's details (e.g. the blocks that refuse a
// deploy) into the message.
func describeCoreErr(err error) error {
	ce, ok := err.(*core.Error)
	if !ok || ce.Details == nil || strings.Contains(ce.Message, "\n") {
		return err // an itemised message already names what is wrong
	}
	b, _ := json.Marshal(ce.Details)
	return &detailedError{text: fmt.Sprintf("%s: %s", ce.Message, strings.TrimSpace(string(b))), err: ce}
}

// detailedError adds details to a message for humans; --json output still reads the
// wrapped core error.
type detailedError struct {
	text string
	err  error
}

func (e *detailedError) Error() string { return e.text }
func (e *detailedError) Unwrap() error { return e.err }
