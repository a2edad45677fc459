package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/steelengine/steelengine/store"
)

// v1 workflow management: list, get and export need read; import, deploy, undeploy
// and delete need admin — all decided by Authorize inside core.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/v1/workflows", a.listWorkflowsV1)
		a.handle("POST /api/v1/workflows/import", a.importWorkflowV1)
		a.handle("GET /api/v1/workflows/{id}", a.getWorkflowV1)
		a.handle("DELETE /api/v1/workflows/{id}", a.deleteWorkflowV1)
		a.handle("GET /api/v1/workflows/{id}/export", a.exportWorkflowV1)
		a.handle("POST /api/v1/workflows/{id}/deploy", a.deployWorkflowV1)
		a.handle("DELETE /api/v1/workflows/{id}/deploy", a.undeployWorkflowV1)
	})
}

func workflowV1View(wf *store.Workflow) map[string]any {
	return map[string]any{
		"id": wf.ID, "workspaceId": wf.WorkspaceID, "name": wf.Name, "description": wf.Description,
		"isDeployed": wf.IsDeployed(), "deployedAt": wf.DeployedAt, "activeVersion": wf.ActiveVersion,
		"latestVersion": wf.LatestVersion, "createdAt": wf.CreatedAt, "updatedAt": wf.UpdatedAt,
	}
}

func (a *API) listWorkflowsV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	wfs, err := a.deps.Service.ListWorkflows(r.Context(), p, r.URL.Query().Get("workspaceId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(wfs))
	for _, wf := range wfs {
		out = append(out, workflowV1View(wf))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (a *API) getWorkflowV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	wf, needs, err := a.deps.Service.Status(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	v := workflowV1View(wf)
	v["needsRedeployment"] = needs
	writeJSON(w, http.StatusOK, map[string]any{"data": v})
}

func (a *API) exportWorkflowV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	data, err := a.deps.Service.ExportWorkflow(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// importWorkflowV1 accepts {workspaceId, workflow: <Sim JSON object or its text>} or
// the Sim JSON itself with ?workspaceId=.
func (a *API) importWorkflowV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	wsID := r.URL.Query().Get("workspaceId")
	data := raw
	var root map[string]json.RawMessage
	if err := json.Unmarshal(raw, &root); err != nil {
		writeError(w, r, badRequest("body", "invalid JSON body: "+err.Error()))
		return
	}
	if inner, wrapped := root["workflow"]; wrapped && root["state"] == nil && root["blocks"] == nil {
		if v, ok := root["workspaceId"]; ok {
			var s string
			if json.Unmarshal(v, &s) != nil {
				writeError(w, r, badRequest("workspaceId", "workspaceId must be a string"))
				return
			}
			if s != "" {
				wsID = s
			}
		}
		data = inner
		if t := bytes.TrimSpace(inner); len(t) > 0 && t[0] == '"' {
			var s string
			if json.Unmarshal(t, &s) != nil {
				writeError(w, r, badRequest("workflow", "workflow must be a JSON object"))
				return
			}
			data = []byte(s)
		}
	}
	if wsID == "" {
		writeError(w, r, badRequest("workspaceId", "workspaceId is required"))
		return
	}
	wf, err := a.deps.Service.ImportWorkflow(r.Context(), p, wsID, data)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"data": workflowV1View(wf)})
}

func (a *API) deployWorkflowV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	dep, err := a.deps.Service.Deploy(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"workflowId": dep.WorkflowID, "isDeployed": true, "version": dep.Version, "deployedAt": dep.CreatedAt,
	}})
}

func (a *API) undeployWorkflowV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	wf, err := a.deps.Service.Undeploy(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": workflowV1View(wf)})
}

func (a *API) deleteWorkflowV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	if err := a.deps.Service.DeleteWorkflow(r.Context(), p, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}
