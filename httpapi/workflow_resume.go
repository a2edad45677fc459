package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// Paused runs and their resume, as Sim serves them: the legacy resume route
// (apps/sim/app/api/resume/[workflowId]/[executionId]/[contextId]/route.ts, whose body
// is the payload itself or {"input": payload}), the v2 route
// (apps/sim/app/api/v2/workflows/[id]/runs/[runId]/resume/route.ts, body {contextId,
// input?}), and the paused-runs listing. Access is decided in core: write on the
// workflow to resume, read to look.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("POST /api/resume/{workflowId}/{executionId}/{contextId}", a.resumeLegacy)
		a.handle("GET /api/resume/{workflowId}/{executionId}", a.getPausedExecution)
		a.handle("GET /api/workflows/{id}/paused", a.listPaused)
		a.handle("POST /api/v2/workflows/{id}/runs/{runId}/resume", a.resumeV2)
	})
}

// pausedView is Sim's "paused" object of a run's status (lib/api/contracts/v2/
// workflows.ts), plus every pause point with its resume URL (human pauses).
func pausedView(base, wfID, execID string, pts []store.PausePoint) map[string]any {
	if len(pts) == 0 {
		return nil
	}
	list := make([]any, 0, len(pts))
	first := pts[0]
	for _, pt := range pts {
		v := map[string]any{"contextId": pt.ContextID, "blockId": pt.BlockID, "blockName": pt.BlockName,
			"pauseKind": pt.Kind, "pausedAt": pt.PausedAt.UTC(), "resumeAt": nil}
		if pt.ResumeAt != nil {
			v["resumeAt"] = pt.ResumeAt.UTC()
		}
		if pt.Kind == store.PauseHuman {
			v["resumeUrl"] = engine.ResumeLinks(base, wfID, execID, pt.ContextID)["apiUrl"]
		}
		list = append(list, v)
		if pt.PausedAt.Before(first.PausedAt) {
			first = pt
		}
	}
	out := map[string]any{"contextId": first.ContextID, "pausedAt": first.PausedAt.UTC(), "resumeAt": nil,
		"pauseKind": first.Kind, "blockedOnBlockId": first.BlockID, "automaticResumeWaitingReason": nil,
		"pausePointCount": len(pts), "pausePoints": list}
	if first.ResumeAt != nil {
		out["resumeAt"] = first.ResumeAt.UTC()
	}
	if first.Kind == store.PauseHuman {
		out["resumeUrl"] = list[0].(map[string]any)["resumeUrl"]
		for _, v := range list {
			if v.(map[string]any)["contextId"] == first.ContextID {
				out["resumeUrl"] = v.(map[string]any)["resumeUrl"]
			}
		}
	}
	return out
}

// resultPausePoints are the pause points of a run that just paused.
func resultPausePoints(res *engine.Result) []store.PausePoint {
	if res == nil || res.Paused == nil {
		return nil
	}
	out := make([]store.PausePoint, len(res.Paused.Points))
	for i, p := range res.Paused.Points {
		out[i] = store.PausePoint{ContextID: p.ContextID, BlockID: p.BlockID, BlockName: p.BlockName, Kind: p.Kind,
			PausedAt: p.PausedAt, ResumeAt: p.ResumeAt}
	}
	return out
}

// pausedOf returns the paused view of e when it is paused, else nil.
func (a *API) pausedOf(r *http.Request, p *auth.Principal, e *store.Execution) any {
	if e.Status != store.StatusPaused {
		return nil
	}
	pr, err := a.deps.Service.PausedRun(r.Context(), p, e.WorkflowID, e.ID)
	if err != nil {
		return nil
	}
	return pausedView(a.baseURL(r), e.WorkflowID, e.ID, pr.PausePoints)
}

func (a *API) resumeLegacy(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	payload, err := readResumeBody(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Sim: the body's "input" when it has one, else the whole body.
	var input any = payload
	if m, ok := payload.(map[string]any); ok {
		if in, has := m["input"]; has {
			input = in
		}
	}
	wfID, execID := r.PathValue("workflowId"), r.PathValue("executionId")
	run, err := a.deps.Service.Resume(r.Context(), p, core.ResumeRequest{WorkflowID: wfID, ExecutionID: execID,
		ContextID: r.PathValue("contextId"), Input: input, BaseURL: a.baseURL(r)})
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, e := run.Result, run.Execution
	// Sim's presentResumeResult, kind "sync" (apps/sim/app/api/resume/resume-handler.ts).
	out := map[string]any{
		"success": res.Success, "status": runStatus(e, res), "executionId": e.ID, "output": nonNilMap(res.Output),
		"error": nil, "metadata": map[string]any{"duration": e.DurationMs, "startTime": e.StartedAt.UTC(), "endTime": endedAt(e)},
	}
	if !res.Success {
		out["error"] = res.Error
	}
	if pv := pausedView(a.baseURL(r), e.WorkflowID, e.ID, resultPausePoints(res)); pv != nil {
		out["paused"], out["resumeUrl"] = pv, pv["resumeUrl"]
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) resumeV2(w http.ResponseWriter, r *http.Request) {
	p, ok := a.v2Principal(w, r)
	if !ok {
		return
	}
	payload, err := readResumeBody(r)
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	body, _ := payload.(map[string]any)
	if body == nil {
		writeV2Error(w, r, badRequest("body", "Request body must be a JSON object"))
		return
	}
	for k := range body {
		if k != "contextId" && k != "input" {
			writeV2Error(w, r, badRequest(k, "Unrecognized key in object: "+k))
			return
		}
	}
	ctxID, _ := body["contextId"].(string)
	if ctxID == "" {
		writeV2Error(w, r, badRequest("contextId", "contextId cannot be empty"))
		return
	}
	wfID := r.PathValue("id")
	e, err := a.deps.Service.GetRun(r.Context(), p, wfID, r.PathValue("runId"))
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	input := body["input"]
	if input == nil {
		input = map[string]any{}
	}
	run, err := a.deps.Service.Resume(r.Context(), p, core.ResumeRequest{WorkflowID: wfID, ExecutionID: e.ID,
		ContextID: ctxID, Input: input, BaseURL: a.baseURL(r)})
	if err != nil {
		writeV2Error(w, r, err)
		return
	}
	res, e := run.Result, run.Execution
	w.Header().Set("X-Run-Id", runID(e))
	var runErr any
	if !res.Success {
		runErr = map[string]any{"message": res.Error, "code": v2ErrorCode(res.ErrorCode)}
	}
	data := map[string]any{
		"runId": runID(e), "executionId": e.ID, "workflowId": e.WorkflowID, "status": runStatus(e, res),
		"output": nonNilMap(res.Output), "error": runErr, "startedAt": e.StartedAt, "endedAt": endedAt(e),
		"durationMs": e.DurationMs,
	}
	if pv := pausedView(a.baseURL(r), e.WorkflowID, e.ID, resultPausePoints(res)); pv != nil {
		data["paused"] = pv
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

// getPausedExecution is Sim's paused execution detail (GET /api/resume/{workflowId}/
// {executionId}); the url a human_in_the_loop block hands out points here.
func (a *API) getPausedExecution(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	wfID, execID := r.PathValue("workflowId"), r.PathValue("executionId")
	pr, err := a.deps.Service.PausedRun(r.Context(), p, wfID, execID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pausedRunView(a.baseURL(r), pr))
}

func pausedRunView(base string, pr *store.PausedRun) map[string]any {
	v := pausedView(base, pr.WorkflowID, pr.ExecutionID, pr.PausePoints)
	v["executionId"], v["workflowId"], v["status"] = pr.ExecutionID, pr.WorkflowID, pr.Status
	v["workflowVersion"], v["trigger"] = pr.Version, pr.Trigger
	if pr.Version == 0 {
		v["workflowVersion"] = nil
	}
	return v
}

// listPaused lists a workflow's paused runs (Sim: GET /api/workflows/{id}/paused).
func (a *API) listPaused(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	list, err := a.deps.Service.PausedRuns(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]any, 0, len(list))
	for _, pr := range list {
		out = append(out, pausedRunView(a.baseURL(r), pr))
	}
	writeJSON(w, http.StatusOK, map[string]any{"pausedExecutions": out})
}

// readResumeBody reads any JSON value (Sim accepts a non-object payload, kept under
// "value" by the merge); an empty body is {}.
func readResumeBody(r *http.Request) (any, error) {
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
	return normalizeNumbers(v), nil
}

// runStatus is the run's status after a sync call: the record's, which says paused
// when the run paused again.
func runStatus(e *store.Execution, res *engine.Result) string {
	if res != nil && res.Paused != nil {
		return store.StatusPaused
	}
	return e.Status
}
