package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// Sim's public v2 execute and runs API: {data} envelopes and {error:{code,message}}
// errors, API keys only.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("POST /api/v2/workflows/{id}/execute", a.executeV2)
		a.handle("GET /api/v2/workflows/{id}/runs", a.listRunsV2)
		a.handle("GET /api/v2/workflows/{id}/runs/{runId}", a.getRunV2)
		a.handle("POST /api/v2/workflows/{id}/runs/{runId}/cancel", a.cancelRunV2)
	})
}

// v2Principal resolves the API key and sets the v2 cache header; it answers errors in
// the v2 shape.
func (a *API) v2Principal(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	w.Header().Set("Cache-Control", "private, no-store")
	p, err := a.deps.Resolver.Resolve(r.Context(), auth.RequestKey(r), auth.ClientIP(r), auth.TransportHTTP)
	if err != nil {
		writeV2Error(w, r, err)
		return nil, false
	}
	p.Rate.SetHeaders(w.Header())
	return p, true
}

type v2ExecuteBody struct {
	Input                   map[string]any `json:"input"`
	Async                   bool           `json:"async"`
	Stream                  bool           `json:"stream"`
	SelectedOutputs         []string       `json:"selectedOutputs"`
	ExecutionTimeoutSeconds *int           `json:"executionTimeoutSeconds"`
	// Accepted for Sim compatibility; SteelEngine has no file outputs or thinking events.
	IncludeThinking   bool  `json:"includeThinking"`
	IncludeToolCalls  bool  `json:"includeToolCalls"`
	IncludeFileBase64 *bool `json:"includeFileBase64"`
	Base64MaxBytes    *int  `json:"base64MaxBytes"`
}

func decodeV2Execute(r *http.Request) (*v2ExecuteBody, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("body", "Could not read request body")
	}
	b := &v2ExecuteBody{}
	if len(bytes.TrimSpace(data)) == 0 {
		return b, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(b); err != nil || dec.More() {
		msg := "Invalid request body"
		field := "body"
		if err != nil {
			if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				field = strings.Trim(f, `"`)
				msg = "Unrecognized key: " + field
			} else {
				var ute *json.UnmarshalTypeError
				if errors.As(err, &ute) && ute.Field != "" {
					field = ute.Field
					msg = field + " must be " + ute.Type.String()
				}
			}
		}
		return nil, badRequest(field, msg)
	}
	switch {
	case b.Async && b.Stream:
		return nil, badRequest("stream", "async and stream cannot be combined")
	case b.Async && len(b.SelectedOutputs) > 0:
		return nil, badRequest("selectedOutputs", "selectedOutputs cannot be combined with async")
	case len(b.SelectedOutputs) > 100:
		return nil, badRequest("selectedOutputs", "selectedOutputs allows at most 100 entries")
	case b.ExecutionTimeoutSeconds != nil && (*b.ExecutionTimeoutSeconds < 1 || *b.ExecutionTimeoutSeconds > 604800):
		return nil, badRequest("executionTimeoutSeconds", "executionTimeoutSeconds must be between 1 and 604800")
	case b.Base64MaxBytes != nil && (*b.Base64MaxBytes < 1 || *b.Base64MaxBytes > 10<<20):
		return nil, badRequest("base64MaxBytes", "base64MaxBytes must be between 1 and 10485760")
	}
	return b, nil
}

// writeV2ExecError reports a failure to start a run in the v2 shape.
func writeV2ExecError(w http.ResponseWriter, r *http.Request, err error, runID string) {
	if errors.Is(err, core.ErrRunIDConflict) {
		err = &apiError{Status: http.StatusConflict, Code: "run_id_conflict", Message: "Run ID has already been used",
			Details: map[string]any{"code": "RUN_ID_CONFLICT", "runId": runID}}
	}
	writeV2Error(w, r, err)
}

// v2ErrorCode maps the engine's error codes to Sim's v2 run error codes.
func v2ErrorCode(code string) string {
	switch code {
	case engine.CodeTimeout:
		return "TIMEOUT"
	case engine.CodeCancelled:
		return "CANCELLED"
	case engine.CodeBlockError:
		return "BLOCK_EXECUTION_FAILED"
	}
	return "EXECUTION_FAILED"
}

// runID is the id a v2 caller knows a run by: its X-Run-Id, else the execution id.
func runID(e *store.Execution) string {
	if e.RunID != "" {
		return e.RunID
	}
	return e.ID
}

func (a *API) executeV2(w http.ResponseWriter, r *http.Request) {
	p, ok := a.v2Principal(w, r)
	if !ok {
		return
	}
	wfID := r.PathValue("id")
	resv, err := a.reserveBody(r)
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	defer resv.Release()
	body, err := decodeV2Execute(r)
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	via, err := core.ParseVia(r.Header.Get(engine.ViaHeader))
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	req := core.RunRequest{WorkflowID: wfID, Input: body.Input, Trigger: store.TriggerAPI,
		Async: body.Async, RunID: r.Header.Get("X-Run-Id"), Via: via, Reservation: resv, BaseURL: a.baseURL(r)}
	if req.Input == nil {
		req.Input = map[string]any{}
	}
	if req.RunID != "" && !executionIDPattern.MatchString(req.RunID) {
		writeV2Error(w, r, badRequest("X-Run-Id", "X-Run-Id must be 1-128 characters of A-Z a-z 0-9 . _ : -"))
		return
	}
	if body.ExecutionTimeoutSeconds != nil {
		req.Timeout = time.Duration(*body.ExecutionTimeoutSeconds) * time.Second
	}
	if body.Stream {
		a.executeStream(w, r, p, req, body.SelectedOutputs, true)
		return
	}
	run, err := a.deps.Service.Execute(r.Context(), p, req)
	if err != nil {
		writeV2ExecError(w, r, err, req.RunID)
		return
	}
	e := run.Execution
	w.Header().Set("X-Run-Id", runID(e))
	if body.Async {
		writeJSON(w, http.StatusAccepted, map[string]any{"data": map[string]any{
			"runId": runID(e), "executionId": e.ID, "status": "queued",
			"statusUrl": a.baseURL(r) + "/api/v2/workflows/" + wfID + "/runs/" + runID(e),
		}})
		return
	}
	res := run.Result
	var output any = res.Output
	if len(body.SelectedOutputs) > 0 {
		output = selectOutputs(parseSelectors(body.SelectedOutputs, indexBlocks(res.BlockLogs)), blockOutputsOf(res))
	}
	if output == nil || (res.Output == nil && len(body.SelectedOutputs) == 0) {
		output = nil
	}
	var runErr any
	if !res.Success {
		ev := map[string]any{"message": res.Error, "code": v2ErrorCode(res.ErrorCode)}
		if res.ErrorBlockID != "" {
			ev["blockId"] = res.ErrorBlockID
		}
		runErr = ev
	}
	data := map[string]any{
		"runId": runID(e), "executionId": e.ID, "workflowId": e.WorkflowID, "status": e.Status,
		"output": output, "error": runErr, "startedAt": e.StartedAt,
		"endedAt": e.EndedAt, "durationMs": e.DurationMs,
	}
	if pv := pausedView(a.baseURL(r), e.WorkflowID, e.ID, resultPausePoints(res)); pv != nil {
		data["paused"] = pv
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// runView is the v2 run shape.
func runView(e *store.Execution) map[string]any {
	v := map[string]any{
		"runId": runID(e), "executionId": e.ID, "workflowId": e.WorkflowID, "status": e.Status,
		"trigger": e.Trigger, "startedAt": e.StartedAt, "endedAt": nil, "durationMs": nil, "cost": costOf(e),
		"workflowVersion": workflowVersion(e),
	}
	if e.EndedAt != nil {
		v["endedAt"] = e.EndedAt.UTC()
		v["durationMs"] = e.DurationMs
	}
	return v
}

func (a *API) getRunV2(w http.ResponseWriter, r *http.Request) {
	p, ok := a.v2Principal(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	for k := range q {
		if k != "includeOutput" && k != "selectedOutputs" {
			writeV2Error(w, r, badRequest(k, "Unrecognized query parameter: "+k))
			return
		}
	}
	e, err := a.deps.Service.GetRun(r.Context(), p, r.PathValue("id"), r.PathValue("runId"))
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	v := runView(e)
	v["paused"] = a.pausedOf(r, p, e)
	v["error"] = nil
	if e.Error != "" {
		v["error"] = map[string]any{"message": e.Error, "code": v2ErrorCode(e.ErrorCode)}
	}
	v["output"], v["blockOutputs"] = nil, nil
	if inc := q.Get("includeOutput"); inc != "false" && inc != "0" {
		v["output"] = rawJSON(e.Output)
		v["blockOutputs"] = execBlockOutputs(e, csvParam(q.Get("selectedOutputs")))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": v})
}

func (a *API) cancelRunV2(w http.ResponseWriter, r *http.Request) {
	p, ok := a.v2Principal(w, r)
	if !ok {
		return
	}
	wfID := r.PathValue("id")
	e, err := a.deps.Service.GetRun(r.Context(), p, wfID, r.PathValue("runId"))
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	v, err := a.cancelRun(r, p, wfID, e.ID)
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	v["runId"] = runID(e)
	writeJSON(w, http.StatusOK, map[string]any{"data": v})
}

// parseUTC parses a v2 date: ISO-8601 in UTC with a trailing Z.
func parseUTC(field, s string, strictZ bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if strictZ && !strings.HasSuffix(s, "Z") {
		return time.Time{}, badRequest(field, field+" must be an ISO-8601 UTC timestamp ending in Z")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if d, derr := time.Parse("2006-01-02", s); derr == nil && !strictZ {
			return d, nil
		}
		return time.Time{}, badRequest(field, field+" must be an ISO-8601 timestamp")
	}
	return t.UTC(), nil
}

func (a *API) listRunsV2(w http.ResponseWriter, r *http.Request) {
	p, ok := a.v2Principal(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	allowed := map[string]bool{"status": true, "trigger": true, "startDate": true, "endDate": true, "limit": true, "cursor": true, "order": true}
	for k := range q {
		if !allowed[k] {
			writeV2Error(w, r, badRequest(k, "Unrecognized query parameter: "+k))
			return
		}
	}
	lq := store.LogQuery{Limit: 50, Order: "desc", Cursor: q.Get("cursor"),
		Statuses: csvParam(q.Get("status")), Triggers: csvParam(q.Get("trigger"))}
	for _, st := range lq.Statuses {
		switch st {
		case store.StatusQueued, store.StatusRunning, store.StatusPaused, store.StatusCompleted, store.StatusFailed, store.StatusCancelled:
		default:
			writeV2Error(w, r, badRequest("status", "status must be one of queued, running, paused, completed, failed, cancelled"))
			return
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			writeV2Error(w, r, badRequest("limit", "limit must be an integer between 1 and 100"))
			return
		}
		lq.Limit = n
	}
	if o := q.Get("order"); o != "" {
		if o != "asc" && o != "desc" {
			writeV2Error(w, r, badRequest("order", "order must be asc or desc"))
			return
		}
		lq.Order = o
	}
	var err error
	if lq.Cursor, err = decodeLogCursor(lq.Cursor, lq.Order); err != nil {
		writeV2Error(w, r, err)
		return
	}
	if lq.Start, err = parseUTC("startDate", q.Get("startDate"), true); err != nil {
		writeV2Error(w, r, err)
		return
	}
	if lq.End, err = parseUTC("endDate", q.Get("endDate"), true); err != nil {
		writeV2Error(w, r, err)
		return
	}
	if !lq.Start.IsZero() && !lq.End.IsZero() && lq.Start.After(lq.End) {
		writeV2Error(w, r, badRequest("startDate", "startDate must not be after endDate"))
		return
	}
	wf, err := a.deps.Service.GetWorkflow(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	lq.WorkspaceID, lq.WorkflowIDs = wf.WorkspaceID, []string{wf.ID}
	page, err := a.deps.Service.ListLogs(r.Context(), p, lq)
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(page.Items))
	for _, e := range page.Items {
		out = append(out, runView(e))
	}
	var next any
	if c := encodeLogCursor(lq.Order, page.NextCursor); c != "" {
		next = c
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out, "nextCursor": next})
}
