package httpapi

import (
	"errors"
	"net/http"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// GET /api/jobs/{jobId}: the status of an async execution (job id = execution id), as
// Sim's SDK polls it. Reading needs read on the job's workflow, decided in core.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/jobs/{jobId}", a.getJob)
	})
}

// jobStatus maps an execution status to Sim's job statuses.
func jobStatus(s string) string {
	switch s {
	case store.StatusQueued:
		return "pending"
	case store.StatusRunning:
		return "processing"
	}
	return s // paused | completed | failed | cancelled
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	e, err := a.deps.Service.GetExecution(r.Context(), p, "", r.PathValue("jobId"))
	if err != nil {
		var ce *core.Error
		if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
			err = &apiError{Status: http.StatusNotFound, Code: "task_not_found", Message: "Task not found"}
		}
		writeError(w, r, err)
		return
	}
	meta := map[string]any{
		"executionId": e.ID, "workflowId": e.WorkflowID, "workspaceId": e.WorkspaceID,
		"userId": e.UserID, "trigger": e.Trigger, "startedAt": e.StartedAt, "completedAt": nil, "duration": nil,
		"workflowVersion": workflowVersion(e),
	}
	if e.EndedAt != nil {
		meta["completedAt"] = e.EndedAt.UTC()
		meta["duration"] = e.DurationMs
	}
	out := map[string]any{"success": true, "taskId": e.ID, "status": jobStatus(e.Status), "metadata": meta}
	if e.EndedAt != nil {
		out["output"] = jobOutput(e)
	}
	if e.Error != "" {
		out["error"] = e.Error
	}
	if pv := a.pausedOf(r, p, e); pv != nil {
		// Paused: the output so far (what the pause blocks show) and where to resume.
		out["output"], out["paused"] = jobOutput(e), pv
	}
	writeJSON(w, http.StatusOK, out)
}

// jobOutput is a finished job's output as Sim's async workflow job stores it
// (apps/sim/background/workflow-execution.ts): {success, workflowId, executionId,
// output, executedAt}, the workflow's output under output.
func jobOutput(e *store.Execution) map[string]any {
	executedAt := e.StartedAt.UTC()
	if e.EndedAt != nil {
		executedAt = e.EndedAt.UTC()
	}
	return map[string]any{"success": e.Status == store.StatusCompleted || e.Status == store.StatusPaused,
		"workflowId": e.WorkflowID, "executionId": e.ID, "output": rawJSON(e.Output), "executedAt": executedAt}
}
