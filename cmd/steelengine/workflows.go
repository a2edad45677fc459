package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/auth"
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
					return withAPI(c, func(cl *apiClient) error {
						wsID, err := cl.workspaceID(c.Context, c.String("workspace"))
						if err != nil {
							return err
						}
						var res obj
						q := url.Values{"workspaceId": {wsID}}
						if err := cl.do(c.Context, http.MethodPost, "/api/v1/workflows/import", q, bytes.NewReader(data), &res); err != nil {
							return err
						}
						wf, _ := res["data"].(obj)
						return printOut(c, wf, func(w io.Writer) { fmt.Fprintln(w, str(wf, "id")) })
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
					return withAPI(c, func(cl *apiClient) error {
						var res obj
						if err := cl.do(c.Context, http.MethodGet, "/api/v1/workflows/"+url.PathEscape(id)+"/versions", nil, nil, &res); err != nil {
							return err
						}
						versions := objs(res, "data")
						return printOut(c, versions, func(w io.Writer) {
							row(w, "VERSION", "ACTIVE", "DEPLOYED", "BY", "NOTE")
							for _, v := range versions {
								active := ""
								if v["active"] == true {
									active = "*"
								}
								row(w, v["version"], active, v["createdAt"], orDash(v["createdBy"]), orDash(v["note"]))
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
					return withAPI(c, func(cl *apiClient) error {
						q := url.Values{}
						if err := setID(c.Context, q, "workspaceId", c.String("workspace"), cl.workspaceID); err != nil {
							return err
						}
						var res obj
						if err := cl.do(c.Context, http.MethodGet, "/api/v1/workflows", q, nil, &res); err != nil {
							return err
						}
						wfs := objs(res, "data")
						return printOut(c, wfs, func(w io.Writer) {
							row(w, "ID", "NAME", "WORKSPACE", "DEPLOYED", "VERSION")
							for _, wf := range wfs {
								row(w, wf["id"], wf["name"], wf["workspaceId"], wf["isDeployed"], wf["activeVersion"])
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
					return withAPI(c, func(cl *apiClient) error {
						q := url.Values{}
						if v := c.Uint("version"); v > 0 {
							q.Set("version", strconv.FormatUint(uint64(v), 10))
						}
						resp, err := cl.request(c.Context, http.MethodGet, "/api/v1/workflows/"+url.PathEscape(id)+"/export", q, nil)
						if err != nil {
							return err
						}
						defer resp.Body.Close()
						if _, err := io.Copy(c.App.Writer, resp.Body); err != nil {
							return err
						}
						_, err = fmt.Fprintln(c.App.Writer)
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
					return withAPI(c, func(cl *apiClient) error {
						body := obj{"note": c.String("note")}
						if v := c.Uint("version"); v > 0 {
							body["version"] = v
						}
						var res obj
						if err := cl.do(c.Context, http.MethodPost, "/api/v1/workflows/"+url.PathEscape(id)+"/deploy", nil, body, &res); err != nil {
							return err
						}
						dep, _ := res["data"].(obj)
						return printOut(c, dep, func(w io.Writer) {
							what := "deployed"
							if dep["rollback"] == true {
								what = "re-activated"
							}
							row(w, what, id, "version", dep["version"])
							warnings, _ := dep["warnings"].([]any)
							for _, msg := range warnings {
								fmt.Fprintln(w, "warning: "+fmt.Sprint(msg))
							}
						})
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
					return withAPI(c, func(cl *apiClient) error {
						var res obj
						if err := cl.do(c.Context, http.MethodDelete, "/api/v1/workflows/"+url.PathEscape(id)+"/deploy", nil, nil, &res); err != nil {
							return err
						}
						wf, _ := res["data"].(obj)
						return printOut(c, wf, func(w io.Writer) { row(w, "undeployed", id) })
					})
				},
			},
			{
				Name:      "run",
				Usage:     "run a workflow's deployed version (or, offline, its draft with --draft) and print the result",
				ArgsUsage: "ID",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "input", Value: "{}", Usage: "input as a JSON object"},
					&cli.BoolFlag{Name: "draft", Usage: "run the current draft instead of the deployed version (data directory only, no server running)"},
					&cli.BoolFlag{Name: "deployed", Hidden: true, Usage: "the default; kept for scripts"},
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
					if input == nil {
						input = map[string]any{}
					}
					return withAPI(c, func(cl *apiClient) error {
						if c.Bool("draft") {
							return runDraft(c, cl, id, input)
						}
						return runDeployed(c, cl, id, input)
					})
				},
			},
		},
	}
}

// runDeployed executes the deployed workflow id through the execute endpoint and prints
// the result.
func runDeployed(c *cli.Context, cl *apiClient, id string, input map[string]any) error {
	var res map[string]any
	if err := cl.do(c.Context, http.MethodPost, "/api/workflows/"+url.PathEscape(id)+"/execute", nil, obj{"input": input}, &res); err != nil {
		// A failed run answers 500 (408 on timeout) with its result, as Sim does:
		// print it like any other run.
		var ae *apiError
		if !errors.As(err, &ae) || (ae.status != http.StatusInternalServerError && ae.status != http.StatusRequestTimeout) ||
			json.Unmarshal(ae.body, &res) != nil || res["success"] != false {
			return err
		}
	}
	success, _ := res["success"].(bool)
	if err := printOut(c, res, func(w io.Writer) {
		var execID, dur any
		if md, ok := res["metadata"].(map[string]any); ok {
			execID, dur = md["executionId"], md["duration"]
		}
		if dur == nil {
			dur = res["totalDuration"]
		}
		status := "completed"
		if !success {
			status = fmt.Sprintf("failed: %v", res["error"])
		}
		fmt.Fprintf(w, "execution %v %s in %v ms\n", orDash(execID), status, orDash(dur))
		outJSON, _ := json.MarshalIndent(res["output"], "", "  ")
		fmt.Fprintf(w, "output: %s\n", outJSON)
		if logs, ok := res["logs"].([]any); ok && len(logs) > 0 {
			fmt.Fprintln(w, "trace:")
			row(w, "  #", "BLOCK", "TYPE", "MS", "STATUS")
			for i, l := range logs {
				m, _ := l.(map[string]any)
				st := "ok"
				if ok, _ := m["success"].(bool); !ok {
					st = fmt.Sprintf("error: %v", m["error"])
				}
				order := m["executionOrder"]
				if order == nil {
					order = i + 1
				}
				row(w, fmt.Sprintf("  %v", order), orDash(m["blockName"]), orDash(m["blockType"]), orDash(m["durationMs"]), st)
			}
		}
	}); err != nil {
		return err
	}
	if !success {
		return cli.Exit("", 1)
	}
	return nil
}

// runDraft runs the draft, which no API serves (only deployed versions run over HTTP),
// so it needs the data directory opened in this process.
func runDraft(c *cli.Context, cl *apiClient, id string, input map[string]any) error {
	if cl.app == nil {
		return fmt.Errorf("--draft runs need the data directory, and a server holds it (or --url is set): deploy the draft and run it, or stop the server")
	}
	run, err := cl.app.Service.Execute(c.Context, auth.Operator(), core.RunRequest{
		WorkflowID: id, Input: input, Trigger: store.TriggerManual, Draft: true,
	})
	if err != nil {
		return err
	}
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

// updateWorkflow replaces workflow id's draft with the file at path.
func updateWorkflow(c *cli.Context, id, path string) error {
	data, err := readFileArg(path)
	if err != nil {
		return err
	}
	return withAPI(c, func(cl *apiClient) error {
		var res obj
		if err := cl.do(c.Context, http.MethodPut, "/api/v1/workflows/"+url.PathEscape(id), nil, bytes.NewReader(data), &res); err != nil {
			return err
		}
		wf, _ := res["data"].(obj)
		return printOut(c, wf, func(w io.Writer) {
			row(w, "updated", wf["id"], "draft; deployed version", wf["activeVersion"], "runs until the next deploy")
		})
	})
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
