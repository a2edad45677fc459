package httpapi

import (
	"net/http"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Workspaces and their settings (name, allowPersonalApiKeys, organization).
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces", a.listWorkspaces())
		a.handle("POST /api/workspaces", a.createWorkspace())
		a.handle("GET /api/workspaces/{id}", a.getWorkspace())
		a.handle("PATCH /api/workspaces/{id}", a.updateWorkspace())
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

func (a *API) listWorkspaces() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		wss, err := a.deps.Service.ListWorkspaces(r.Context(), p)
		if err != nil {
			return reply{}, err
		}
		out := make([]map[string]any, 0, len(wss))
		for _, wa := range wss {
			out = append(out, workspaceView(wa.Workspace, wa.Level))
		}
		return reply{http.StatusOK, map[string]any{"workspaces": out}}, nil
	})
}

type workspaceCreateBody struct {
	Name           string `json:"name"`
	OrganizationID string `json:"organizationId"`
	OwnerID        string `json:"ownerId"`
}

func (a *API) createWorkspace() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *workspaceCreateBody) (reply, error) {
		if b.Name == "" {
			return reply{}, badRequest("name", "name is required")
		}
		ws, err := a.deps.Service.CreateWorkspace(r.Context(), p, core.NewWorkspace{Name: b.Name, OrgID: b.OrganizationID, OwnerID: b.OwnerID})
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusCreated, map[string]any{"workspace": workspaceView(ws, store.LevelAdmin)}}, nil
	})
}

func (a *API) getWorkspace() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		wa, err := a.deps.Service.GetWorkspace(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"workspace": workspaceView(wa.Workspace, wa.Level)}}, nil
	})
}

type workspaceUpdateBody struct {
	Name                  *string   `json:"name"`
	AllowPersonalAPIKeys  *bool     `json:"allowPersonalApiKeys"`
	OrganizationID        optString `json:"organizationId"`
	MaxKeyLifetimeSeconds *int64    `json:"maxKeyLifetimeSeconds"`
}

func (a *API) updateWorkspace() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *workspaceUpdateBody) (reply, error) {
		patch := core.WorkspacePatch{Name: b.Name, AllowPersonalKeys: b.AllowPersonalAPIKeys}
		if b.OrganizationID.Set {
			org := b.OrganizationID.Value // "" or null: out of its organization
			patch.OrgID = &org
		}
		if b.MaxKeyLifetimeSeconds != nil {
			d := time.Duration(*b.MaxKeyLifetimeSeconds) * time.Second
			patch.MaxKeyLifetime = &d
		}
		id := r.PathValue("id")
		if _, err := a.deps.Service.UpdateWorkspace(r.Context(), p, id, patch); err != nil {
			return reply{}, err
		}
		wa, err := a.deps.Service.GetWorkspace(r.Context(), p, id)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"workspace": workspaceView(wa.Workspace, wa.Level)}}, nil
	})
}
