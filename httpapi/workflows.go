package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// v1 workflow management: list, get, versions and export need read; import, update,
// deploy (and roll back), undeploy and delete need admin — all decided by Authorize
// inside core.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/v1/workflows", a.listWorkflowsV1())
		a.handle("POST /api/v1/workflows/import", a.importWorkflowV1)
		a.handle("GET /api/v1/workflows/{id}", a.getWorkflowV1())
		a.handle("PUT /api/v1/workflows/{id}", a.updateWorkflowV1)
		a.handle("GET /api/v1/workflows/{id}/versions", a.listVersionsV1())
		a.handle("DELETE /api/v1/workflows/{id}", a.deleteWorkflowV1())
		a.handle("GET /api/v1/workflows/{id}/export", a.exportWorkflowV1)
		a.handle("POST /api/v1/workflows/{id}/deploy", a.deployWorkflowV1())
		a.handle("DELETE /api/v1/workflows/{id}/deploy", a.undeployWorkflowV1())
	})
}

func workflowV1View(wf *store.Workflow) map[string]any {
	return map[string]any{
		"id": wf.ID, "workspaceId": wf.WorkspaceID, "name": wf.Name, "description": wf.Description,
		"isDeployed": wf.IsDeployed(), "deployedAt": wf.DeployedAt, "activeVersion": wf.ActiveVersion,
		"latestVersion": wf.LatestVersion, "createdAt": wf.CreatedAt, "updatedAt": wf.UpdatedAt,
	}
}

func (a *API) listWorkflowsV1() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		wfs, err := a.deps.Service.ListWorkflows(r.Context(), p, r.URL.Query().Get("workspaceId"))
		if err != nil {
			return reply{}, err
		}
		out := make([]map[string]any, 0, len(wfs))
		for _, wf := range wfs {
			out = append(out, workflowV1View(wf))
		}
		return reply{http.StatusOK, map[string]any{"data": out}}, nil
	})
}

func (a *API) getWorkflowV1() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		wf, needs, err := a.deps.Service.Status(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		v := workflowV1View(wf)
		v["needsRedeployment"] = needs
		return reply{http.StatusOK, map[string]any{"data": v}}, nil
	})
}

func (a *API) exportWorkflowV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var version uint32
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			writeError(w, r, badRequest("version", "version must be a positive integer"))
			return
		}
		version = uint32(n)
	}
	data, err := a.deps.Service.ExportWorkflow(r.Context(), p, r.PathValue("id"), version)
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
	wsID, data, err := decodeWorkflowBody(r)
	if err != nil {
		writeError(w, r, err)
		return
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

// decodeWorkflowBody reads a Sim export, either as the body itself or wrapped as
// {workspaceId?, workflow: <object or its JSON text>}; wsID is the wrapper's
// workspaceId, else ?workspaceId=.
func decodeWorkflowBody(r *http.Request) (wsID string, data []byte, err error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return "", nil, err
	}
	wsID = r.URL.Query().Get("workspaceId")
	data = raw
	var root map[string]json.RawMessage
	if err := json.Unmarshal(raw, &root); err != nil {
		return "", nil, badRequest("body", "invalid JSON body: "+err.Error())
	}
	if inner, wrapped := root["workflow"]; wrapped && root["state"] == nil && root["blocks"] == nil {
		if v, ok := root["workspaceId"]; ok {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return "", nil, badRequest("workspaceId", "workspaceId must be a string")
			}
			if s != "" {
				wsID = s
			}
		}
		data = inner
		if t := bytes.TrimSpace(inner); len(t) > 0 && t[0] == '"' {
			var s string
			if json.Unmarshal(t, &s) != nil {
				return "", nil, badRequest("workflow", "workflow must be a JSON object")
			}
			data = []byte(s)
		}
	}
	return wsID, data, nil
}

// updateWorkflowV1 replaces the draft in place (same body forms as import); the id,
// keys, grants, MCP servers and deployed versions stay.
func (a *API) updateWorkflowV1(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	_, data, err := decodeWorkflowBody(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	wf, err := a.deps.Service.UpdateWorkflow(r.Context(), p, r.PathValue("id"), data)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": workflowV1View(wf)})
}

func (a *API) listVersionsV1() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		wf, versions, err := a.deps.Service.Versions(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"data": versions, "activeVersion": wf.ActiveVersion}}, nil
	})
}

type deployWorkflowV1Body struct {
	Version *int64 `json:"version"`
	Note    string `json:"note"`
}

func (a *API) deployWorkflowV1() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *deployWorkflowV1Body) (reply, error) {
		var req core.DeployRequest
		if b.Version != nil {
			if *b.Version < 1 || *b.Version > math.MaxUint32 {
				return reply{}, badRequest("version", "version must be a positive integer")
			}
			req.Version = uint32(*b.Version)
		}
		req.Note = b.Note
		res, err := a.deps.Service.Deploy(r.Context(), p, r.PathValue("id"), req)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"data": deployView(res)}}, nil
	})
}

// deployView answers a deploy or rollback: the active version and the warnings.
func deployView(res *core.DeployResult) map[string]any {
	dep := res.Deployment
	warnings := res.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	return map[string]any{
		"workflowId": dep.WorkflowID, "isDeployed": true, "version": dep.Version, "deployedAt": dep.CreatedAt,
		"note": dep.Note, "createdBy": dep.CreatedBy, "rollback": res.Rollback, "warnings": warnings,
	}
}

func (a *API) undeployWorkflowV1() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		wf, err := a.deps.Service.Undeploy(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"data": workflowV1View(wf)}}, nil
	})
}

func (a *API) deleteWorkflowV1() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		if err := a.deps.Service.DeleteWorkflow(r.Context(), p, r.PathValue("id")); err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"success": true}}, nil
	})
}
