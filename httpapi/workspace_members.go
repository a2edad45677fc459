package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Workspace membership: listing needs read on the workspace, changes need a signed-in
// admin (adding someone is an invitation: invitations.go).
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/members", a.listWorkspaceMembers())
		a.handle("PATCH /api/workspaces/{id}/members/{userId}", a.updateWorkspaceMember())
		a.handle("DELETE /api/workspaces/{id}/members/{userId}", a.removeWorkspaceMember())
	})
}

func memberView(m core.Member) map[string]any {
	return map[string]any{"userId": m.User.ID, "email": m.User.Email, "name": m.User.Name, "permission": m.Permission}
}

func (a *API) listWorkspaceMembers() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		ms, err := a.deps.Service.WorkspaceMembers(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		out := make([]map[string]any, 0, len(ms))
		for _, m := range ms {
			out = append(out, memberView(m))
		}
		return reply{http.StatusOK, map[string]any{"members": out}}, nil
	})
}

type memberBody struct {
	Permission store.Level `json:"permission"`
}

func (a *API) updateWorkspaceMember() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *memberBody) (reply, error) {
		if !b.Permission.Valid() {
			return reply{}, badRequest("permission", "permission must be one of read, write, admin")
		}
		m, err := a.deps.Service.SetWorkspaceMember(r.Context(), p, r.PathValue("id"), r.PathValue("userId"), b.Permission)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"member": memberView(*m)}}, nil
	})
}

func (a *API) removeWorkspaceMember() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		err := a.deps.Service.RemoveWorkspaceMember(r.Context(), p, r.PathValue("id"), r.PathValue("userId"))
		return answer(http.StatusOK, success, err)
	})
}
