package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/core"
)

// A named user's personal environment variables, for the local operator (the command
// line's env --personal --user): users manage their own under /api/users/me, and core
// refuses anyone but the operator and the user themselves here.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/admin/users/{id}/environment", a.listEnv(userEnvScope))
		a.handle("PUT /api/admin/users/{id}/environment/{name}", a.setEnv(userEnvScope))
		a.handle("DELETE /api/admin/users/{id}/environment/{name}", a.unsetEnv(userEnvScope))
	})
}

func userEnvScope(r *http.Request) core.EnvScope {
	return core.EnvScope{Personal: true, UserID: r.PathValue("id")}
}
