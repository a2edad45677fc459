package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:  "logs",
		Usage: "list and show execution logs",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list executions of a workspace, newest first",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "workspace", Required: true, Usage: "workspace id or name"},
					&cli.StringSliceFlag{Name: "workflow", Usage: "only this workflow id (repeatable)"},
					&cli.IntFlag{Name: "limit", Value: 20, Usage: "at most this many (1-1000)"},
					&cli.StringFlag{Name: "level", Usage: "info or error"},
					&cli.StringFlag{Name: "trigger", Usage: "api, mcp, manual or schedule"},
					&cli.StringFlag{Name: "cursor", Usage: "continue after a previous page"},
				},
				Action: logsList,
			},
			{
				Name:      "show",
				Usage:     "show one execution with its block trace",
				ArgsUsage: "ID",
				Action:    logsShow,
			},
			logsPruneCommand(),
		},
	}
}

func logsList(c *cli.Context) error {
	limit := c.Int("limit")
	if limit < 1 || limit > 1000 {
		return usagef("invalid --limit %d: must be between 1 and 1000", limit)
	}
	if lv := c.String("level"); lv != "" && lv != "info" && lv != "error" {
		return usagef("invalid --level %q: allowed values are info, error", lv)
	}
	return withAPI(c, func(cl *apiClient) error {
		wsID, err := cl.workspaceID(c.Context, c.String("workspace"))
		if err != nil {
			return err
		}
		q := url.Values{"workspaceId": {wsID}, "limit": {strconv.Itoa(limit)}}
		if wfs := c.StringSlice("workflow"); len(wfs) > 0 {
			q.Set("workflowIds", strings.Join(wfs, ","))
		}
		if v := c.String("level"); v != "" {
			q.Set("level", v)
		}
		if v := c.String("trigger"); v != "" {
			q.Set("triggers", v)
		}
		if v := c.String("cursor"); v != "" {
			q.Set("cursor", v)
		}
		var page map[string]any
		if err := cl.do(c.Context, http.MethodGet, "/api/v1/logs", q, nil, &page); err != nil {
			return err
		}
		items, _ := page["data"].([]any)
		return printOut(c, page, func(w io.Writer) {
			rows := make([]map[string]any, 0, len(items))
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					rows = append(rows, m)
				}
			}
			printLogRows(w, rows)
			if nc, _ := page["nextCursor"].(string); nc != "" {
				fmt.Fprintf(w, "next page: --cursor %s\n", nc)
			}
		})
	})
}

func printLogRows(w io.Writer, rows []map[string]any) {
	row(w, "ID", "WORKFLOW", "STATUS", "LEVEL", "TRIGGER", "STARTED", "MS")
	for _, m := range rows {
		dur := m["durationMs"]
		if dur == nil {
			dur = m["totalDurationMs"]
		}
		started := m["startedAt"]
		if started == nil {
			started = m["startTime"]
		}
		row(w, orDash(m["id"]), orDash(m["workflowId"]), orDash(m["status"]), orDash(m["level"]), orDash(m["trigger"]), orDash(started), orDash(dur))
	}
}

func logsShow(c *cli.Context) error {
	id, err := oneArg(c, "log ID")
	if err != nil {
		return err
	}
	return withAPI(c, func(cl *apiClient) error {
		var res map[string]any
		if err := cl.do(c.Context, http.MethodGet, "/api/v1/logs/"+url.PathEscape(id), nil, nil, &res); err != nil {
			return err
		}
		data, ok := res["data"].(map[string]any)
		if !ok {
			data = res
		}
		return printOut(c, res, func(w io.Writer) { printLogDetail(w, data) })
	})
}

func printLogDetail(w io.Writer, m map[string]any) {
	for _, k := range []string{"id", "workflowId", "workspaceId", "status", "level", "trigger", "startedAt", "endedAt", "durationMs", "totalDurationMs", "cost", "error"} {
		if v, ok := m[k]; ok && v != nil && v != "" {
			row(w, k+":", v)
		}
	}
	ed, _ := m["executionData"].(map[string]any)
	for _, k := range []string{"input", "output", "finalOutput"} {
		v, ok := m[k]
		if !ok || v == nil {
			v, ok = ed[k]
		}
		if k == "input" && (!ok || v == nil) {
			v, ok = ed["workflowInput"] // Sim's name in executionData
		}
		if ok && v != nil {
			b, _ := json.MarshalIndent(v, "", "  ")
			fmt.Fprintf(w, "%s: %s\n", strings.TrimPrefix(strings.ToLower(k), "final"), b)
		}
	}
	logs, _ := m["blockLogs"].([]any)
	if logs == nil && ed != nil {
		logs, _ = ed["blockLogs"].([]any)
	}
	if len(logs) > 0 {
		fmt.Fprintln(w, "trace:")
		row(w, "  #", "BLOCK", "TYPE", "MS", "STATUS")
		for i, l := range logs {
			b, _ := l.(map[string]any)
			st := "ok"
			if ok, _ := b["success"].(bool); !ok {
				st = fmt.Sprintf("error: %v", b["error"])
			}
			order := b["executionOrder"]
			if order == nil {
				order = i + 1
			}
			row(w, fmt.Sprintf("  %v", order), orDash(b["blockName"]), orDash(b["blockType"]), orDash(b["durationMs"]), st)
		}
	}
}
