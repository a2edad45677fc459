package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// The logs API (Sim's v1 and v2 shapes) and aggregate metrics. core narrows every
// listing to what the caller may read.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/v1/logs", a.listLogsV1)
		a.handle("GET /api/v1/logs/metrics", a.logMetrics)
		a.handle("GET /api/v1/logs/{id}", a.getLogV1)
		a.handle("GET /api/v1/logs/executions/{executionId}", a.getLogExecutionV1)
		a.handle("GET /api/v2/logs", a.listLogsV2)
		a.handle("GET /api/v2/logs/{runId}", a.getLogV2)
	})
}

// logCursor wraps the store's cursor with the order it was made for, so a cursor
// cannot be replayed with another sort.
type logCursor struct {
	Order string `json:"o"`
	Pos   string `json:"c"`
}

func encodeLogCursor(order, pos string) string {
	if pos == "" {
		return ""
	}
	b, _ := json.Marshal(logCursor{Order: order, Pos: pos})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeLogCursor(s, order string) (string, error) {
	if s == "" {
		return "", nil
	}
	bad := &apiError{Status: http.StatusBadRequest, Code: "invalid_cursor", Message: "Invalid cursor",
		Details: []map[string]string{{"field": "cursor", "message": "Invalid cursor"}}}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", bad
	}
	var c logCursor
	if json.Unmarshal(b, &c) != nil || c.Pos == "" {
		return "", bad
	}
	if c.Order != order {
		return "", &apiError{Status: http.StatusBadRequest, Code: "invalid_cursor", Message: "Cursor was made for another order",
			Details: []map[string]string{{"field": "cursor", "message": "cursor order does not match order"}}}
	}
	return c.Pos, nil
}

// logParams are the filters shared by v1 and v2 listings.
type logParams struct {
	q                  store.LogQuery
	full               bool
	traceSpans, output bool
}

func boolParam(q url.Values, field string) (bool, error) {
	switch strings.ToLower(q.Get(field)) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, badRequest(field, field+" must be true or false")
}

func durationParam(q url.Values, field string) (*int64, error) {
	s := q.Get(field)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return nil, badRequest(field, field+" must be a non-negative integer")
	}
	return &n, nil
}

// parseLogParams reads the listing filters; v2 has strict UTC dates and runId.
func parseLogParams(q url.Values, v2 bool) (*logParams, error) {
	lp := &logParams{q: store.LogQuery{
		WorkspaceID: q.Get("workspaceId"), WorkflowIDs: csvParam(q.Get("workflowIds")),
		Triggers: csvParam(q.Get("triggers")), Level: q.Get("level"), Order: "desc", Limit: 100,
	}}
	if lp.q.WorkspaceID == "" {
		return nil, badRequest("workspaceId", "workspaceId is required")
	}
	if lp.q.Level != "" && lp.q.Level != "info" && lp.q.Level != "error" {
		return nil, badRequest("level", "level must be info or error")
	}
	if o := q.Get("order"); o != "" {
		if o != "asc" && o != "desc" {
			return nil, badRequest("order", "order must be asc or desc")
		}
		lp.q.Order = o
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, badRequest("limit", "limit must be a positive integer")
		}
		hi := 1000
		if v2 {
			hi = 100
		}
		lp.q.Limit = min(n, hi)
	} else if v2 {
		lp.q.Limit = 50
	}
	var err error
	if lp.q.Start, err = parseUTC("startDate", q.Get("startDate"), v2); err != nil {
		return nil, err
	}
	if lp.q.End, err = parseUTC("endDate", q.Get("endDate"), v2); err != nil {
		return nil, err
	}
	if !lp.q.Start.IsZero() && !lp.q.End.IsZero() && lp.q.Start.After(lp.q.End) {
		return nil, badRequest("startDate", "startDate must not be after endDate")
	}
	if v2 {
		lp.q.ExecutionID = q.Get("runId")
		lp.q.Statuses = csvParam(q.Get("status"))
	} else {
		lp.q.ExecutionID = q.Get("executionId")
	}
	if lp.q.MinDurationMs, err = durationParam(q, "minDurationMs"); err != nil {
		return nil, err
	}
	if lp.q.MaxDurationMs, err = durationParam(q, "maxDurationMs"); err != nil {
		return nil, err
	}
	if lp.q.MinDurationMs != nil && lp.q.MaxDurationMs != nil && *lp.q.MinDurationMs > *lp.q.MaxDurationMs {
		return nil, badRequest("minDurationMs", "minDurationMs must not exceed maxDurationMs")
	}
	switch d := q.Get("details"); d {
	case "", "basic":
	case "full":
		lp.full = true
	default:
		return nil, badRequest("details", "details must be basic or full")
	}
	if lp.traceSpans, err = boolParam(q, "includeTraceSpans"); err != nil {
		return nil, err
	}
	if lp.output, err = boolParam(q, "includeFinalOutput"); err != nil {
		return nil, err
	}
	if lp.q.Cursor, err = decodeLogCursor(q.Get("cursor"), lp.q.Order); err != nil {
		return nil, err
	}
	return lp, nil
}

// logsFailure maps store validation errors to 400 and keeps everything else.
func logsFailure(err error) error {
	if errors.Is(err, store.ErrInvalid) {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: cleanMessage(err)}
	}
	return err
}

// workflowVersion is the deployed version number that ran; null for draft runs.
func workflowVersion(e *store.Execution) any {
	if e.Version == 0 {
		return nil
	}
	return e.Version
}

func deploymentVersionID(e *store.Execution) any {
	if e.Version == 0 {
		return nil
	}
	return e.WorkflowID + "@" + strconv.FormatUint(uint64(e.Version), 10)
}

func endedAt(e *store.Execution) any {
	if e.EndedAt == nil {
		return nil
	}
	return e.EndedAt.UTC()
}

func workflowBrief(id string, wf *store.Workflow) map[string]any {
	if wf == nil {
		return map[string]any{"id": id, "name": "Deleted Workflow", "description": nil, "deleted": true}
	}
	return map[string]any{"id": wf.ID, "name": wf.Name, "description": wf.Description, "deleted": false}
}

func workflowFull(id string, wf *store.Workflow) map[string]any {
	v := workflowBrief(id, wf)
	v["folderId"] = nil
	if wf != nil {
		v["workspaceId"], v["createdAt"], v["updatedAt"] = wf.WorkspaceID, wf.CreatedAt, wf.UpdatedAt
	}
	return v
}

func (a *API) workflowsOf(r *http.Request, p *auth.Principal, items []*store.Execution) map[string]*store.Workflow {
	ids := make([]string, 0, len(items))
	for _, e := range items {
		ids = append(ids, e.WorkflowID)
	}
	return a.deps.Service.WorkflowsByID(r.Context(), p, ids)
}

func (a *API) listLogsV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	lp, err := parseLogParams(r.URL.Query(), false)
	if err != nil {
		writeError(w, r, err)
		return
	}
	page, err := a.deps.Service.ListLogs(r.Context(), p, lp.q)
	if err != nil {
		writeError(w, r, logsFailure(err))
		return
	}
	var wfs map[string]*store.Workflow
	if lp.full {
		wfs = a.workflowsOf(r, p, page.Items)
	}
	data := make([]map[string]any, 0, len(page.Items))
	for _, e := range page.Items {
		v := map[string]any{
			"id": e.ID, "workflowId": e.WorkflowID, "executionId": e.ID, "deploymentVersionId": deploymentVersionID(e), "workflowVersion": workflowVersion(e),
			"level": e.Level, "status": e.Status, "trigger": e.Trigger, "startedAt": e.StartedAt, "endedAt": endedAt(e),
			"totalDurationMs": e.DurationMs, "cost": costOf(e), "files": nil,
		}
		if lp.full {
			v["workflow"] = workflowBrief(e.WorkflowID, wfs[e.WorkflowID])
			if lp.output {
				v["finalOutput"] = rawJSON(e.Output)
			}
			if lp.traceSpans {
				v["traceSpans"] = nonNilAny(rawJSON(e.TraceSpans))
			}
		}
		data = append(data, v)
	}
	out := map[string]any{"data": data, "limits": limitsView(p)}
	if c := encodeLogCursor(lp.q.Order, page.NextCursor); c != "" {
		out["nextCursor"] = c
	}
	writeJSON(w, http.StatusOK, out)
}

func nonNilAny(v any) any {
	if v == nil {
		return []any{}
	}
	return v
}

// logNotFound turns any not-found into the logs API's message.
func logNotFound(err error) error {
	var ce *core.Error
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "Log not found"}
	}
	return err
}

// executionData is a log's executionData under Sim's names (WorkflowExecutionLog
// .executionData in apps/sim/lib/logs/types.ts): workflowInput (SteelEngine's "input"
// before), finalOutput, traceSpans, tokens {input,output,total} and models summed from
// the trace, executionDataTruncated ("truncated" before) when the record was cut;
// blockLogs is SteelEngine's own addition.
func executionData(e *store.Execution) map[string]any {
	tok, models := engine.TraceUsage(e.TraceSpans)
	v := map[string]any{
		"workflowInput": rawJSON(e.Input), "finalOutput": rawJSON(e.Output),
		"traceSpans": nonNilAny(rawJSON(e.TraceSpans)), "blockLogs": nonNilAny(rawJSON(e.BlockLogs)),
		"error": nil, "tokens": tok, "models": models,
	}
	if e.Truncated {
		v["executionDataTruncated"] = true
	}
	if e.Error != "" {
		v["error"] = e.Error
		v["errorCode"] = e.ErrorCode
	}
	return v
}

func (a *API) getLogV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	st, err := a.deps.Service.GetExecutionState(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, logNotFound(err))
		return
	}
	e := st.Execution
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"id": e.ID, "workflowId": e.WorkflowID, "executionId": e.ID, "level": e.Level, "status": e.Status,
		"trigger": e.Trigger, "startedAt": e.StartedAt, "endedAt": endedAt(e), "totalDurationMs": e.DurationMs,
		"files": nil, "workflow": workflowFull(e.WorkflowID, st.Workflow), "executionData": executionData(e),
		"cost": costOf(e), "createdAt": e.StartedAt, "deploymentVersionId": deploymentVersionID(e), "workflowVersion": workflowVersion(e),
	}, "limits": limitsView(p)})
}

// workflowState is the definition's state part (blocks, edges, loops, parallels).
func workflowState(def json.RawMessage) any {
	var m map[string]any
	if len(def) == 0 || json.Unmarshal(def, &m) != nil {
		return nil
	}
	if s, ok := m["state"].(map[string]any); ok {
		return s
	}
	return m
}

func (a *API) getLogExecutionV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	st, err := a.deps.Service.GetExecutionState(r.Context(), p, r.PathValue("executionId"))
	if err != nil {
		var ce *core.Error
		if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
			err = &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "Workflow execution not found"}
		}
		writeError(w, r, err)
		return
	}
	e := st.Execution
	writeJSON(w, http.StatusOK, map[string]any{
		"executionId": e.ID, "workflowId": e.WorkflowID, "workflowState": workflowState(st.Definition),
		"executionMetadata": map[string]any{"trigger": e.Trigger, "status": e.Status, "startedAt": e.StartedAt,
			"endedAt": endedAt(e), "totalDurationMs": e.DurationMs, "cost": costOf(e)},
		"limits": limitsView(p),
	})
}

func (a *API) listLogsV2(w http.ResponseWriter, r *http.Request) {
	p, ok := a.v2Principal(w, r)
	if !ok {
		return
	}
	lp, err := parseLogParams(r.URL.Query(), true)
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	page, err := a.deps.Service.ListLogs(r.Context(), p, lp.q)
	if err != nil {
		writeV2Error(w, r, logsFailure(err))
		return
	}
	wfs := a.workflowsOf(r, p, page.Items)
	data := make([]map[string]any, 0, len(page.Items))
	for _, e := range page.Items {
		data = append(data, map[string]any{
			"runId": runID(e), "executionId": e.ID, "workflowId": e.WorkflowID, "deploymentVersionId": deploymentVersionID(e),
			"workflowVersion": workflowVersion(e), "status": e.Status, "level": e.Level,
			"trigger": e.Trigger, "startedAt": e.StartedAt, "endedAt": endedAt(e), "totalDurationMs": e.DurationMs,
			"cost": costOf(e), "files": nil, "workflow": workflowBrief(e.WorkflowID, wfs[e.WorkflowID]),
		})
	}
	var next any
	if c := encodeLogCursor(lp.q.Order, page.NextCursor); c != "" {
		next = c
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "nextCursor": next})
}

func (a *API) getLogV2(w http.ResponseWriter, r *http.Request) {
	p, ok := a.v2Principal(w, r)
	if !ok {
		return
	}
	st, err := a.deps.Service.GetExecutionState(r.Context(), p, r.PathValue("runId"))
	if err != nil {
		writeV2Error(w, r, logNotFound(err))
		return
	}
	e := st.Execution
	wf := workflowFull(e.WorkflowID, st.Workflow)
	wf["folderPath"] = nil
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"runId": runID(e), "executionId": e.ID, "workflowId": e.WorkflowID, "deploymentVersionId": deploymentVersionID(e), "workflowVersion": workflowVersion(e),
		"status": e.Status, "level": e.Level, "trigger": e.Trigger, "startedAt": e.StartedAt, "endedAt": endedAt(e),
		"totalDurationMs": e.DurationMs, "files": nil, "workflow": wf, "workflowState": workflowState(st.Definition),
		"traceSpans": nonNilAny(rawJSON(e.TraceSpans)), "finalOutput": rawJSON(e.Output), "error": nilIfEmpty(e.Error),
		"cost": costOf(e), "createdAt": e.StartedAt,
	}})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// parseBucket reads a bucket width: a Go duration ("1h", "6h") or days ("1d", "7d").
func parseBucket(s string) (time.Duration, error) {
	if s == "" {
		return time.Hour, nil
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, badRequest("bucket", "bucket must be a whole number of hours, e.g. 1h, 6h, 1d")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, badRequest("bucket", "bucket must be a whole number of hours, e.g. 1h, 6h, 1d")
		}
	}
	if d < time.Hour || d%time.Hour != 0 || d > 366*24*time.Hour {
		return 0, badRequest("bucket", "bucket must be a whole number of hours, e.g. 1h, 6h, 1d")
	}
	return d, nil
}

func bucketsView(bs []store.MetricsBucket, width time.Duration) []map[string]any {
	out := make([]map[string]any, 0, len(bs))
	for _, b := range bs {
		out = append(out, map[string]any{
			"start": b.Start.UTC(), "end": b.Start.Add(width).UTC(), "count": b.Count, "errors": b.Errors,
			"errorRate": b.ErrorRate, "p50": b.P50Ms, "p95": b.P95Ms, "p99": b.P99Ms, "cost": b.Cost,
		})
	}
	return out
}

// logMetrics: per-bucket count, errors, error rate, duration percentiles (ms) and
// cost over the executions the caller may read; groupBy=workflow adds the same per
// workflow.
// maxMetricsWorkflows bounds groupBy=workflow, which reads the rollups once per workflow.
const maxMetricsWorkflows = 100

func (a *API) logMetrics(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	mq := store.MetricsQuery{WorkspaceID: q.Get("workspaceId"), WorkflowIDs: csvParam(q.Get("workflowIds"))}
	if mq.WorkspaceID == "" {
		writeError(w, r, badRequest("workspaceId", "workspaceId is required"))
		return
	}
	var err error
	if mq.Bucket, err = parseBucket(q.Get("bucket")); err != nil {
		writeError(w, r, err)
		return
	}
	if mq.Start, err = parseUTC("startDate", q.Get("startDate"), false); err != nil {
		writeError(w, r, err)
		return
	}
	if mq.End, err = parseUTC("endDate", q.Get("endDate"), false); err != nil {
		writeError(w, r, err)
		return
	}
	if !mq.Start.IsZero() && !mq.End.IsZero() && mq.Start.After(mq.End) {
		writeError(w, r, badRequest("startDate", "startDate must not be after endDate"))
		return
	}
	groupBy := q.Get("groupBy")
	if groupBy != "" && groupBy != "workflow" {
		writeError(w, r, badRequest("groupBy", "groupBy must be workflow"))
		return
	}
	slices.Sort(mq.WorkflowIDs)
	mq.WorkflowIDs = slices.Compact(mq.WorkflowIDs)
	if len(mq.WorkflowIDs) > maxMetricsWorkflows {
		writeError(w, r, badRequest("workflowIds", fmt.Sprintf("at most %d workflowIds", maxMetricsWorkflows)))
		return
	}
	bs, err := a.deps.Service.Metrics(r.Context(), p, mq)
	if err != nil {
		writeError(w, r, logsFailure(err))
		return
	}
	out := map[string]any{"data": bucketsView(bs, mq.Bucket), "bucket": mq.Bucket.String(), "workspaceId": mq.WorkspaceID}
	if groupBy == "workflow" {
		ids := mq.WorkflowIDs
		if len(ids) == 0 {
			wfs, err := a.deps.Service.ListWorkflows(r.Context(), p, mq.WorkspaceID)
			if err != nil {
				writeError(w, r, err)
				return
			}
			for _, wf := range wfs {
				ids = append(ids, wf.ID)
			}
		}
		if len(ids) > maxMetricsWorkflows {
			ids = ids[:maxMetricsWorkflows] // one rollup scan each: bounded per request
		}
		per := make([]map[string]any, 0, len(ids))
		for _, id := range ids {
			one := mq
			one.WorkflowIDs = []string{id}
			wbs, err := a.deps.Service.Metrics(r.Context(), p, one)
			if err != nil {
				writeError(w, r, logsFailure(err))
				return
			}
			per = append(per, map[string]any{"workflowId": id, "data": bucketsView(wbs, mq.Bucket)})
		}
		out["workflows"] = per
	}
	writeJSON(w, http.StatusOK, out)
}
