package embed

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// Logs of a workspace: a filtered list with cursor paging and a metrics chart, and one
// execution with its block trace. core narrows both to what the user may read.
func init() {
	addRoute("GET /dashboard/workspaces/{ws}/logs", func(d *Dashboard) handlerFunc { return d.logs })
	addRoute("GET /dashboard/workspaces/{ws}/logs/{id}", func(d *Dashboard) handlerFunc { return d.logDetail })
}

// ranges are the time windows the filter offers, with the chart's bucket width.
var ranges = []struct {
	Value, Label string
	D, Bucket    time.Duration
}{
	{"1h", "Last hour", time.Hour, time.Hour},
	{"24h", "Last 24 hours", 24 * time.Hour, time.Hour},
	{"7d", "Last 7 days", 7 * 24 * time.Hour, 6 * time.Hour},
	{"30d", "Last 30 days", 30 * 24 * time.Hour, 24 * time.Hour},
}

type logFilter struct {
	Workflow, Status, Trigger, Range string
}

type logsData struct {
	Filter    logFilter
	Items     []*store.Execution
	Names     map[string]string
	Workflows []*store.Workflow
	Next      string // URL of the next page
	First     string // URL of the first page, same filters
	Ranges    any
	Chart     *chart
	Totals    totals
	FirstPage bool
}

type totals struct {
	Count, Errors int64
	ErrorRate     float64
	P50, P95      float64
}

func (d *Dashboard) logs(w http.ResponseWriter, r *http.Request, v *visit) error {
	ws, err := v.workspace(r.PathValue("ws"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	qs := r.URL.Query()
	f := logFilter{Workflow: qs.Get("workflow"), Status: qs.Get("status"), Trigger: qs.Get("trigger"), Range: qs.Get("range")}
	if f.Range == "" {
		f.Range = "24h"
	}
	q := store.LogQuery{WorkspaceID: ws.Workspace.ID, Limit: 50, Cursor: qs.Get("cursor")}
	if f.Workflow != "" {
		q.WorkflowIDs = []string{f.Workflow}
	}
	switch f.Status {
	case "", "completed", "failed", "cancelled", "paused", "running", "queued":
		if f.Status != "" {
			q.Statuses = []string{f.Status}
		}
	default:
		return badForm("Unknown status filter.")
	}
	switch f.Trigger {
	case "", store.TriggerAPI, store.TriggerMCP, store.TriggerManual, store.TriggerSchedule:
		if f.Trigger != "" {
			q.Triggers = []string{f.Trigger}
		}
	default:
		return badForm("Unknown trigger filter.")
	}
	now := time.Now().UTC()
	bucket := time.Hour
	found := false
	for _, rg := range ranges {
		if rg.Value == f.Range {
			q.Start, bucket, found = now.Add(-rg.D), rg.Bucket, true
		}
	}
	if !found && f.Range != "all" {
		return badForm("Unknown time range.")
	}
	if f.Range == "all" {
		bucket = 24 * time.Hour
	}
	page, err := d.deps.Service.ListLogs(ctx, v.P, q)
	if err != nil {
		if isStatus(err, http.StatusBadRequest) && q.Cursor != "" {
			return badForm("This page link has expired. Start again from the first page.")
		}
		return hiddenAsNotFound(err)
	}
	data := &logsData{Filter: f, Items: page.Items, Names: map[string]string{}, Ranges: ranges, FirstPage: q.Cursor == ""}
	if data.Workflows, err = d.deps.Service.ListWorkflows(ctx, v.P, ws.Workspace.ID); err != nil {
		return err
	}
	for _, wf := range data.Workflows {
		data.Names[wf.ID] = wf.Name
	}
	// Paging links keep the filters.
	link := func(cursor string) string {
		nq := url.Values{}
		for k, val := range map[string]string{"workflow": f.Workflow, "status": f.Status, "trigger": f.Trigger, "range": f.Range, "cursor": cursor} {
			if val != "" {
				nq.Set(k, val)
			}
		}
		return "?" + nq.Encode()
	}
	data.First = link("")
	if page.NextCursor != "" {
		data.Next = link(page.NextCursor)
	}
	mq := store.MetricsQuery{WorkspaceID: ws.Workspace.ID, WorkflowIDs: q.WorkflowIDs, Start: q.Start, Bucket: bucket}
	if bs, err := d.deps.Service.Metrics(ctx, v.P, mq); err == nil {
		start := q.Start
		if start.IsZero() && len(bs) > 0 {
			start = bs[0].Start
		}
		data.Chart = newChart(bs, start, now, bucket)
		data.Totals = sum(bs)
	}
	pg := v.wsPage(ws, "Logs · "+ws.Workspace.Name, "logs")
	pg.Data = data
	d.render(w, r, "logs", http.StatusOK, pg)
	return nil
}

// sum folds buckets into totals; percentiles are the count-weighted mean of the
// buckets' estimates (the rollups keep histograms per hour, not per window).
func sum(bs []store.MetricsBucket) totals {
	var t totals
	var p50, p95 float64
	for _, b := range bs {
		t.Count += b.Count
		t.Errors += b.Errors
		p50 += b.P50Ms * float64(b.Count)
		p95 += b.P95Ms * float64(b.Count)
	}
	if t.Count > 0 {
		t.ErrorRate = float64(t.Errors) / float64(t.Count)
		t.P50, t.P95 = p50/float64(t.Count), p95/float64(t.Count)
	}
	return t
}

type logDetailData struct {
	Exec     *store.Execution
	Workflow string
	Input    string
	Output   string
	Trace    []spanRow
}

func (d *Dashboard) logDetail(w http.ResponseWriter, r *http.Request, v *visit) error {
	ws, err := v.workspace(r.PathValue("ws"))
	if err != nil {
		return err
	}
	exec, err := d.deps.Service.GetLog(r.Context(), v.P, r.PathValue("id"))
	if err != nil {
		return hiddenAsNotFound(err)
	}
	if exec.WorkspaceID != ws.Workspace.ID {
		return &core.Error{Status: http.StatusNotFound, Code: "not_found", Message: "Log not found."}
	}
	data := &logDetailData{Exec: exec, Workflow: exec.WorkflowID, Input: prettyJSON(exec.Input), Output: prettyJSON(exec.Output), Trace: traceRows(exec.TraceSpans)}
	if wf, err := d.deps.Service.GetWorkflow(r.Context(), v.P, exec.WorkflowID); err == nil {
		data.Workflow = wf.Name
	}
	pg := v.wsPage(ws, "Execution "+exec.ID, "logs")
	pg.Data = data
	d.render(w, r, "log", http.StatusOK, pg)
	return nil
}

// spanRow is one line of the trace timeline: a span at its depth, placed on the run's
// time axis in percent.
type spanRow struct {
	Span          engine.TraceSpan
	Depth         int
	Offset, Width float64
	Input, Output string
}

// traceRows flattens the recorded trace (already redacted when it was logged) into
// timeline rows.
func traceRows(raw json.RawMessage) []spanRow {
	var spans []engine.TraceSpan
	if len(raw) == 0 || json.Unmarshal(raw, &spans) != nil || len(spans) == 0 {
		return nil
	}
	var start, end time.Time
	var walk func([]engine.TraceSpan)
	walk = func(ss []engine.TraceSpan) {
		for _, s := range ss {
			if !s.StartTime.IsZero() && (start.IsZero() || s.StartTime.Before(start)) {
				start = s.StartTime
			}
			if s.EndTime.After(end) {
				end = s.EndTime
			}
			walk(s.Children)
		}
	}
	walk(spans)
	total := end.Sub(start)
	var out []spanRow
	var add func([]engine.TraceSpan, int)
	add = func(ss []engine.TraceSpan, depth int) {
		for _, s := range ss {
			row := spanRow{Span: s, Depth: depth, Width: 100}
			if total > 0 {
				row.Offset = float64(s.StartTime.Sub(start)) / float64(total) * 100
				row.Width = float64(s.EndTime.Sub(s.StartTime)) / float64(total) * 100
			}
			row.Width = max(row.Width, 0.5)
			row.Offset = min(max(row.Offset, 0), 100-row.Width)
			if s.Input != nil {
				b, _ := json.MarshalIndent(s.Input, "", "  ")
				row.Input = string(b)
			}
			if s.Output != nil {
				b, _ := json.MarshalIndent(s.Output, "", "  ")
				row.Output = string(b)
			}
			children := s.Children
			row.Span.Children = nil
			out = append(out, row)
			add(children, depth+1)
		}
	}
	add(spans, 0)
	return out
}
