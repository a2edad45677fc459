package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Workspace membership: listing needs read on the workspace, changes need admin.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/members", a.listWorkspaceMembers)
		a.handle("PATCH /api/workspaces/{id}/members/{userId}", a.updateWorkspaceMember)
		a.handle("DELETE /api/workspaces/{id}/members/{userId}", a.removeWorkspaceMember)
	})
}

func memberView(m core.Member) map[string]any {
	return map[string]any{"userId": m.User.ID, "email": m.User.Email, "name": m.User.Name, "permission": m.Permission}
}

func (a *API) listWorkspaceMembers(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	ms, err := a.deps.Service.WorkspaceMembers(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberView(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": out})
}

type memberBody struct {
	UserID     string      `json:"userId"`
	Email      string      `json:"email"`
	Permission store.Level `json:"permission"`
}

func (b memberBody) check() error {
	if !b.Permission.Valid() {
		return badRequest("permission", "permission must be one of read, write, admin")
	}
	return nil
}

func (a *API) updateWorkspaceMember(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body memberBody
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if err := body.check(); err != nil {
		writeError(w, r, err)
		return
	}
	m, err := a.deps.Service.SetWorkspaceMember(r.Context(), p, r.PathValue("id"), r.PathValue("userId"), body.Permission)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"member": memberView(*m)})
}

func (a *API) removeWorkspaceMember(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	if err := a.deps.Service.RemoveWorkspaceMember(r.Context(), p, r.PathValue("id"), r.PathValue("userId")); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}
