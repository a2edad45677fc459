package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/auth"
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
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		vars, err := a.deps.Service.ListEnv(r.Context(), p, scope(r))
		return answer(http.StatusOK, map[string]any{"data": vars}, err)
	})
}

type envSetBody struct {
	Value *string `json:"value"`
}

func (a *API) setEnv(scope func(*http.Request) core.EnvScope) http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *envSetBody) (reply, error) {
		if b.Value == nil {
			return reply{}, badRequest("value", "value is required (a string)")
		}
		info, err := a.deps.Service.SetEnv(r.Context(), p, scope(r), r.PathValue("name"), *b.Value)
		return answer(http.StatusOK, map[string]any{"data": info}, err)
	})
}

func (a *API) unsetEnv(scope func(*http.Request) core.EnvScope) http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		err := a.deps.Service.UnsetEnv(r.Context(), p, scope(r), r.PathValue("name"))
		return answer(http.StatusOK, success, err)
	})
}
