package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/core"
)

// Environment variables for {{NAME}}: a workspace's (admin sets and unsets, read lists)
// and the calling user's personal ones, which override the workspace's in runs that
// user starts. Values are write-only: no response ever carries one.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/environment", a.listEnv(wsEnvScope))
		a.handle("PUT /api/workspaces/{id}/environment/{name}", a.setEnv(wsEnvScope))
		a.handle("DELETE /api/workspaces/{id}/environment/{name}", a.unsetEnv(wsEnvScope))
		a.handle("GET /api/users/me/environment", a.listEnv(personalEnvScope))
		a.handle("PUT /api/users/me/environment/{name}", a.setEnv(personalEnvScope))
		a.handle("DELETE /api/users/me/environment/{name}", a.unsetEnv(personalEnvScope))
	})
}

func wsEnvScope(r *http.Request) core.EnvScope { return core.EnvScope{WorkspaceID: r.PathValue("id")} }

func personalEnvScope(*http.Request) core.EnvScope { return core.EnvScope{Personal: true} }

func (a *API) listEnv(scope func(*http.Request) core.EnvScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.principal(w, r)
		if !ok {
			return
		}
		vars, err := a.deps.Service.ListEnv(r.Context(), p, scope(r))
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": vars})
	}
}

func (a *API) setEnv(scope func(*http.Request) core.EnvScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.principal(w, r)
		if !ok {
			return
		}
		var body struct {
			Value *string `json:"value"`
		}
		if err := mgmtDecode(r, &body); err != nil {
			writeError(w, r, err)
			return
		}
		if body.Value == nil {
			writeError(w, r, badRequest("value", "value is required (a string)"))
			return
		}
		info, err := a.deps.Service.SetEnv(r.Context(), p, scope(r), r.PathValue("name"), *body.Value)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": info})
	}
}

func (a *API) unsetEnv(scope func(*http.Request) core.EnvScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.principal(w, r)
		if !ok {
			return
		}
		if err := a.deps.Service.UnsetEnv(r.Context(), p, scope(r), r.PathValue("name")); err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"success": true})
	}
}
