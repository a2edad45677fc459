package httpapi

import (
	"net/http"
	"time"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Workspaces and their settings (name, allowPersonalApiKeys, organization).
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces", a.listWorkspaces)
		a.handle("POST /api/workspaces", a.createWorkspace)
		a.handle("GET /api/workspaces/{id}", a.getWorkspace)
		a.handle("PATCH /api/workspaces/{id}", a.updateWorkspace)
	})
}

func workspaceView(ws *store.Workspace, lvl store.Level) map[string]any {
	v := map[string]any{
		"id": ws.ID, "name": ws.Name, "ownerId": ws.OwnerID, "billedAccountUserId": ws.OwnerID,
		"organizationId": nil, "allowPersonalApiKeys": ws.AllowPersonalKeys,
		"maxKeyLifetimeSeconds": int64(ws.MaxKeyLifetime / time.Second), "createdAt": ws.CreatedAt,
	}
	if ws.OrgID != "" {
		v["organizationId"] = ws.OrgID
	}
	if lvl != store.LevelNone {
		v["permission"] = lvl
	}
	return v
}

func (a *API) listWorkspaces(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	wss, err := a.deps.Service.ListWorkspaces(r.Context(), p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(wss))
	for _, wa := range wss {
		out = append(out, workspaceView(wa.Workspace, wa.Level))
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspaces": out})
}

func (a *API) createWorkspace(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Name           string `json:"name"`
		OrganizationID string `json:"organizationId"`
		OwnerID        string `json:"ownerId"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Name == "" {
		writeError(w, r, badRequest("name", "name is required"))
		return
	}
	ws, err := a.deps.Service.CreateWorkspace(r.Context(), p, core.NewWorkspace{Name: body.Name, OrgID: body.OrganizationID, OwnerID: body.OwnerID})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"workspace": workspaceView(ws, store.LevelAdmin)})
}

func (a *API) getWorkspace(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	wa, err := a.deps.Service.GetWorkspace(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspace": workspaceView(wa.Workspace, wa.Level)})
}

func (a *API) updateWorkspace(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Name                  *string   `json:"name"`
		AllowPersonalAPIKeys  *bool     `json:"allowPersonalApiKeys"`
		OrganizationID        optString `json:"organizationId"`
		MaxKeyLifetimeSeconds *int64    `json:"maxKeyLifetimeSeconds"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	patch := core.WorkspacePatch{Name: body.Name, AllowPersonalKeys: body.AllowPersonalAPIKeys}
	if body.OrganizationID.Set {
		org := body.OrganizationID.Value // "" or null: out of its organization
		patch.OrgID = &org
	}
	if body.MaxKeyLifetimeSeconds != nil {
		d := time.Duration(*body.MaxKeyLifetimeSeconds) * time.Second
		patch.MaxKeyLifetime = &d
	}
	id := r.PathValue("id")
	if _, err := a.deps.Service.UpdateWorkspace(r.Context(), p, id, patch); err != nil {
		writeError(w, r, err)
		return
	}
	wa, err := a.deps.Service.GetWorkspace(r.Context(), p, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspace": workspaceView(wa.Workspace, wa.Level)})
}
