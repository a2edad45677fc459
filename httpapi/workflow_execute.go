package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// Sim's legacy execute surface (used by its SDK 0.1.x): execute, status, one
// execution's status, and cancel. Access is decided in core.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("POST /api/workflows/{id}/execute", a.executeLegacy)
		a.handle("GET /api/workflows/{id}/status", a.workflowStatus)
		a.handle("GET /api/workflows/{id}/executions/{executionId}", a.executionStatus)
		a.handle("POST /api/workflows/{id}/executions/{executionId}/cancel", a.cancelExecution)
	})
}

// legacyControlKeys are body fields that steer the run and are not workflow input.
var legacyControlKeys = map[string]bool{
	"stream": true, "selectedOutputs": true, "triggerType": true, "executionId": true,
	"useDraftState": true, "inputFromExecutionId": true, "includeFileBase64": true,
	"base64MaxBytes": true, "workflowStateOverride": true, "deploymentVersionId": true,
	"triggerBlockId": true, "startBlockId": true, "stopAfterBlockId": true, "runFromBlock": true,
	"copilotToolCallId": true, "workflowId": true, "parentWorkspaceId": true,
	"includeThinking": true, "includeToolCalls": true, "isClientSession": true,
}

var executionIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// reserveBody reads an execute body and reserves its size in the server's in-flight
// input budget before it is decoded (decoding multiplies it), so concurrent large
// bodies get 503 instead of memory. The body is put back for the decoder. The caller
// passes the reservation to the run and releases it when done.
func (a *API) reserveBody(r *http.Request) (*core.Reservation, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "Could not read request body"}
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	return a.deps.Service.ReserveInput(int64(len(data)))
}

// readJSONObject reads a JSON object body; an empty body is {}.
func readJSONObject(r *http.Request) (map[string]any, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "Could not read request body"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "Invalid JSON in request body"}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "Request body must be a JSON object"}
	}
	return normalizeNumbers(m).(map[string]any), nil
}

// normalizeNumbers turns json.Number into int64 (when integral) or float64.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return float64(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	}
	return v
}

// legacyInput is the workflow input of a legacy execute body: the body minus control
// fields, with the objects under "inputs" and "input" merged in ("input" wins, as
// Sim's start block reads input[field] first). A non-object "input" stays as is.
func legacyInput(body map[string]any) map[string]any {
	in := map[string]any{}
	for k, v := range body {
		if !legacyControlKeys[k] && k != "input" && k != "inputs" {
			in[k] = v
		}
	}
	for _, k := range []string{"inputs", "input"} {
		v, ok := body[k]
		if !ok {
			continue
		}
		if m, isObj := v.(map[string]any); isObj {
			for f, fv := range m {
				in[f] = fv
			}
		} else if v != nil {
			in[k] = v
		}
	}
	return in
}

func stringList(v any, field string) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, badRequest(field, field+" must be an array of strings")
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, badRequest(field, field+" must be an array of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// baseURL is the public base URL for links.
func (a *API) baseURL(r *http.Request) string {
	if a.cfg.PublicURL != "" {
		return strings.TrimRight(a.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func triggerFor(p *auth.Principal) string {
	if p.Session {
		return store.TriggerManual
	}
	return store.TriggerAPI
}

// timeoutHeader reads X-Execution-Timeout-Seconds.
func timeoutHeader(r *http.Request) (time.Duration, error) {
	h := r.Header.Get("X-Execution-Timeout-Seconds")
	if h == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(h)
	if err != nil || n <= 0 || n > 604800 {
		return 0, badRequest("X-Execution-Timeout-Seconds", "X-Execution-Timeout-Seconds must be a positive integer of seconds")
	}
	return time.Duration(n) * time.Second, nil
}

func (a *API) executeLegacy(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	wfID := r.PathValue("id")
	resv, err := a.reserveBody(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer resv.Release()
	body, err := readJSONObject(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	stream := strings.EqualFold(r.Header.Get("X-Stream-Response"), "true")
	if v, ok := body["stream"]; ok && v != nil {
		b, isBool := v.(bool)
		if !isBool {
			writeError(w, r, badRequest("stream", "stream must be a boolean"))
			return
		}
		stream = stream || b
	}
	selected, err := stringList(body["selectedOutputs"], "selectedOutputs")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if tt, ok := body["triggerType"]; ok && tt != nil && tt != "api" && !(p.Session && tt == "manual") {
		writeError(w, r, badRequest("triggerType", "External callers cannot override triggerType"))
		return
	}
	execID := r.Header.Get("X-Execution-Id")
	if execID == "" {
		execID, _ = body["executionId"].(string)
	}
	if execID != "" && !executionIDPattern.MatchString(execID) {
		writeError(w, r, badRequest("executionId", "Execution ID must be 1-128 characters of A-Z a-z 0-9 . _ : -"))
		return
	}
	timeout, err := timeoutHeader(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	async := strings.EqualFold(r.Header.Get("X-Execution-Mode"), "async")
	if async && stream {
		writeError(w, r, badRequest("stream", "Streaming cannot be combined with async execution"))
		return
	}
	if async && len(selected) > 0 {
		writeError(w, r, badRequest("selectedOutputs", "selectedOutputs cannot be combined with async execution"))
		return
	}
	via, err := core.ParseVia(r.Header.Get(engine.ViaHeader))
	if err != nil {
		writeError(w, r, err)
		return
	}
	req := core.RunRequest{WorkflowID: wfID, Input: legacyInput(body), Trigger: triggerFor(p),
		Async: async, RunID: execID, Timeout: timeout, Via: via, Reservation: resv, BaseURL: a.baseURL(r)}

	if async {
		run, err := a.deps.Service.Execute(r.Context(), p, req)
		if err != nil {
			writeLegacyExecError(w, r, err, execID)
			return
		}
		e := run.Execution
		statusURL := a.baseURL(r) + "/api/jobs/" + e.ID
		writeJSON(w, http.StatusAccepted, map[string]any{
			"success": true, "async": true, "jobId": e.ID, "taskId": e.ID, "executionId": e.ID,
			"status": "queued", "createdAt": e.StartedAt, "message": "Workflow execution queued",
			"statusUrl": statusURL, "links": map[string]any{"status": statusURL},
		})
		return
	}
	if stream {
		a.executeStream(w, r, p, req, selected, false)
		return
	}
	run, err := a.deps.Service.Execute(r.Context(), p, req)
	if err != nil {
		writeLegacyExecError(w, r, err, execID)
		return
	}
	res, e := run.Result, run.Execution
	if r.Context().Err() != nil {
		writeJSON(w, 499, map[string]any{"success": false, "executionId": e.ID, "error": "Client cancelled request", "code": "client_cancelled"})
		return
	}
	if res.Success && res.Response != nil {
		writeResponseBlock(w, res.Response)
		return
	}
	out := map[string]any{
		"success":     res.Success,
		"executionId": e.ID,
		"output":      nonNilMap(res.Output),
		"metadata": map[string]any{
			"duration": res.DurationMs, "executionId": e.ID, "workflowId": e.WorkflowID,
			"startTime": res.StartedAt.UTC(), "endTime": res.EndedAt.UTC(),
		},
		"logs":          nonNilSlice(res.BlockLogs),
		"traceSpans":    nonNilSlice(res.TraceSpans),
		"totalDuration": res.DurationMs,
	}
	if len(selected) > 0 {
		sels := parseSelectors(selected, indexBlocks(res.BlockLogs))
		out["output"] = selectOutputs(sels, blockOutputsOf(res))
	}
	if pv := pausedView(a.baseURL(r), e.WorkflowID, e.ID, resultPausePoints(res)); pv != nil {
		// Sim's paused result (executor/execution/engine.ts buildPausedResult) is a
		// success whose output is the pause blocks' response; status and where to
		// resume are added so a caller need not dig them out of the output.
		out["status"], out["paused"], out["resumeUrl"] = store.StatusPaused, pv, pv["resumeUrl"]
	}
	status := http.StatusOK
	if !res.Success {
		out["error"] = res.Error
		// Sim's execute route rethrows a failed run and answers with
		// getExecutionErrorStatus: 408 for a timeout, else 500, with
		// {success:false, output, error, metadata}; a block failure carries no code, so
		// the Sim SDK throws SimStudioError(error, undefined, 500) as against Sim
		// (apps/sim/app/api/workflows/[id]/execute/route.ts, executor/utils/errors.ts).
		// SteelEngine's own outcomes (cancelled through the cancel endpoint, run
		// budgets, overload) keep 200 with their code.
		switch res.ErrorCode {
		case engine.CodeBlockError:
			status = http.StatusInternalServerError
		case engine.CodeTimeout:
			status = http.StatusRequestTimeout
			out["code"] = res.ErrorCode
		default:
			out["code"] = res.ErrorCode
		}
	}
	writeJSON(w, status, out)
}

// writeLegacyExecError reports a failure to start a run; an X-Execution-Id reuse
// carries Sim's code and the id.
func writeLegacyExecError(w http.ResponseWriter, r *http.Request, err error, execID string) {
	if errors.Is(err, core.ErrRunIDConflict) {
		writeJSON(w, http.StatusConflict, map[string]any{"error": "Execution ID has already been used",
			"code": "execution_id_conflict", "executionId": execID})
		return
	}
	writeError(w, r, err)
}

// writeResponseBlock sends what a Response block asked for: its data as JSON with its
// status (default 200) and the headers responseHeaderAllowed lets through, over
// Content-Type: application/json. Whatever type the block claims, the body is
// sandboxed and never sniffed: it is workflow data served from the API's origin.
func writeResponseBlock(w http.ResponseWriter, spec *engine.ResponseSpec) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	for k, v := range spec.Headers {
		if responseHeaderAllowed(k, v) {
			h.Set(k, v)
		}
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	status := spec.Status
	if status < 100 || status > 999 {
		status = http.StatusOK
	}
	b, err := json.Marshal(spec.Body)
	if err != nil {
		b = []byte("null")
	}
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

// deniedResponseHeaders may not be set by a Response block: they would act on the API
// origin itself (cookies, CORS, security policies, auth prompts, alternative services),
// contradict the server's own framing of the body (hop-by-hop and encoding headers), or
// impersonate SteelEngine's request and rate-limit reporting.
var deniedResponseHeaders = map[string]bool{
	"set-cookie": true, "set-cookie2": true,
	"strict-transport-security": true, "content-security-policy": true, "content-security-policy-report-only": true,
	"x-frame-options": true, "x-content-type-options": true, "x-xss-protection": true,
	"cross-origin-opener-policy": true, "cross-origin-embedder-policy": true, "cross-origin-resource-policy": true,
	"permissions-policy": true, "feature-policy": true, "referrer-policy": true, "clear-site-data": true,
	"origin-agent-cluster": true, "report-to": true, "reporting-endpoints": true, "nel": true, "alt-svc": true,
	"public-key-pins": true, "public-key-pins-report-only": true, "expect-ct": true,
	"x-permitted-cross-domain-policies": true, "www-authenticate": true, "proxy-authenticate": true,
	"refresh": true, "link": true, "service-worker-allowed": true, "sourcemap": true, "x-sourcemap": true,
	"connection": true, "keep-alive": true, "proxy-connection": true, "transfer-encoding": true, "te": true,
	"trailer": true, "upgrade": true, "content-length": true, "content-encoding": true,
	"x-request-id": true,
}

// responseHeaderAllowed is the one rule for Response block headers on the API origin.
// Location is kept only as a path or an http(s) URL, so a redirect cannot carry a
// javascript: or data: URL.
func responseHeaderAllowed(name, value string) bool {
	if !validHeaderName(name) || strings.ContainsAny(value, "\r\n\x00") {
		return false
	}
	n := strings.ToLower(name)
	switch {
	case deniedResponseHeaders[n], strings.HasPrefix(n, "access-control-"), strings.HasPrefix(n, "x-ratelimit-"),
		strings.HasPrefix(n, "sec-"), strings.HasPrefix(n, "proxy-"):
		return false
	case n == "location":
		v := strings.TrimSpace(value)
		if strings.HasPrefix(v, "/") {
			return !strings.HasPrefix(v, "//") && !strings.HasPrefix(v, "/\\")
		}
		u, err := url.Parse(v)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	}
	return true
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// executeStream runs req and reports it as Server-Sent Events. The stream opens with
// the first block event, so errors before the run (access, not deployed) are plain
// JSON errors; v2 selects the v2 error shape for those.
func (a *API) executeStream(w http.ResponseWriter, r *http.Request, p *auth.Principal, req core.RunRequest, selected []string, v2 bool) {
	s := newSSE(w)
	req.Hooks = streamHooks(s, selected)
	run, err := a.deps.Service.Execute(r.Context(), p, req)
	if err != nil {
		if !s.isStarted() {
			if v2 {
				writeV2ExecError(w, r, err, req.RunID)
			} else {
				writeLegacyExecError(w, r, err, req.RunID)
			}
			return
		}
		s.send(map[string]any{"event": "error", "error": toAPIError(err).Message})
		s.done()
		return
	}
	s.start()
	res := run.Result
	switch {
	case r.Context().Err() != nil:
		s.send(map[string]any{"event": "error", "error": "Client cancelled request"})
	case !res.Success:
		frame := map[string]any{"event": "error", "error": res.Error}
		if res.ErrorBlockID != "" {
			frame["blockId"] = res.ErrorBlockID
		}
		if res.ErrorCode != "" {
			frame["code"] = res.ErrorCode
		}
		s.send(frame)
	default:
		var output any = nonNilMap(res.Output)
		if len(selected) > 0 {
			output = selectOutputs(parseSelectors(selected, indexBlocks(res.BlockLogs)), blockOutputsOf(res))
		}
		final := map[string]any{
			"success": true, "error": nil, "output": output, "executionId": run.Execution.ID,
			"metadata": map[string]any{"duration": res.DurationMs, "startTime": res.StartedAt.UTC(), "endTime": res.EndedAt.UTC()},
		}
		if pv := pausedView(a.baseURL(r), run.Execution.WorkflowID, run.Execution.ID, resultPausePoints(res)); pv != nil {
			// Sim's final frame carries status "paused" (lib/workflows/streaming).
			final["status"], final["paused"], final["resumeUrl"] = store.StatusPaused, pv, pv["resumeUrl"]
		}
		s.send(map[string]any{"event": "final", "data": final})
	}
	s.done()
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// rawJSON decodes stored JSON for a response (nil for empty).
func rawJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return v
}

func costOf(e *store.Execution) map[string]any {
	return map[string]any{"total": e.Cost}
}

func (a *API) workflowStatus(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	wf, needs, err := a.deps.Service.Status(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	var deployedAt any
	if wf.DeployedAt != nil && wf.IsDeployed() {
		deployedAt = wf.DeployedAt.UTC()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"isDeployed": wf.IsDeployed(), "deployedAt": deployedAt, "isPublished": false,
		"needsRedeployment": needs, "activeVersion": wf.ActiveVersion,
	})
}

// executionView is Sim's execution status shape.
func executionView(e *store.Execution, includeOutput bool, selected []string) map[string]any {
	v := map[string]any{
		"executionId": e.ID, "workflowId": e.WorkflowID, "status": e.Status, "trigger": e.Trigger,
		"level": e.Level, "startedAt": e.StartedAt, "endedAt": nil, "totalDurationMs": nil,
		"paused": nil, "cost": costOf(e), "error": nil, "finalOutput": nil, "blockOutputs": nil,
		"workflowVersion": workflowVersion(e),
	}
	if e.RunID != "" {
		v["runId"] = e.RunID
	}
	if e.EndedAt != nil {
		v["endedAt"] = e.EndedAt.UTC()
		v["totalDurationMs"] = e.DurationMs
	}
	if e.Error != "" {
		v["error"] = e.Error
		v["errorCode"] = e.ErrorCode
	}
	if includeOutput {
		v["finalOutput"] = rawJSON(e.Output)
		v["blockOutputs"] = execBlockOutputs(e, selected)
	}
	return v
}

// execBlockOutputs returns a logged execution's block outputs, narrowed to selected
// block ids (or id.path) when given.
func execBlockOutputs(e *store.Execution, selected []string) any {
	var logs []engine.BlockLog
	if len(e.BlockLogs) == 0 || json.Unmarshal(e.BlockLogs, &logs) != nil {
		return nil
	}
	blocks := blockOutputsFromLogs(logs)
	if len(selected) == 0 {
		return blocks
	}
	return selectOutputs(parseSelectors(selected, indexBlocks(logs)), blocks)
}

func csvParam(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (a *API) executionStatus(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	e, err := a.deps.Service.GetExecution(r.Context(), p, r.PathValue("id"), r.PathValue("executionId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	v := executionView(e, q.Get("includeOutput") == "true", csvParam(q.Get("selectedOutputs")))
	v["paused"] = a.pausedOf(r, p, e)
	writeJSON(w, http.StatusOK, v)
}

// cancelView is Sim's cancel answer; SteelEngine cancels in process, so the run is
// aborted locally and its record is durably written when it stops.
func cancelView(e *store.Execution, reason string) map[string]any {
	return map[string]any{
		"success": true, "executionId": e.ID, "redisAvailable": false, "durablyRecorded": true,
		"locallyAborted": reason == "recorded", "pausedCancelled": false, "reason": reason,
	}
}

// cancelRun cancels and returns the view, or the error to report.
func (a *API) cancelRun(r *http.Request, p *auth.Principal, wfID, id string) (map[string]any, error) {
	e, err := a.deps.Service.Cancel(r.Context(), p, wfID, id)
	if err == nil {
		// A run that finished but is still being recorded is no longer cancelled.
		switch {
		case e.Status == store.StatusCancelled && e.ErrorCode == core.ErrorCodePausedCancelled:
			v := cancelView(e, "recorded")
			v["locallyAborted"], v["pausedCancelled"] = false, true
			return v, nil
		}
		switch e.Status {
		case store.StatusCancelled:
			return cancelView(e, "already_cancelled"), nil
		case store.StatusCompleted, store.StatusFailed:
			return nil, &apiError{Status: http.StatusConflict, Code: "not_cancellable",
				Message: "Execution cannot be cancelled while " + e.Status, Details: map[string]any{"status": e.Status, "executionId": e.ID}}
		}
		return cancelView(e, "recorded"), nil
	}
	if e != nil {
		if e.Status == store.StatusCancelled {
			return cancelView(e, "already_cancelled"), nil
		}
		return nil, &apiError{Status: http.StatusConflict, Code: "not_cancellable",
			Message: "Execution cannot be cancelled while " + e.Status, Details: map[string]any{"status": e.Status, "executionId": e.ID}}
	}
	return nil, err
}

func (a *API) cancelExecution(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	v, err := a.cancelRun(r, p, r.PathValue("id"), r.PathValue("executionId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
