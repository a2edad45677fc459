package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/engine"
)

// Block types: what the engine runs, so a user can tell before deploying which blocks of
// a Sim export need replacing. Any authenticated caller may read it.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/v1/block-types", a.listBlockTypes)
	})
}

func (a *API) listBlockTypes(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.principal(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": engine.BlockTypes()})
}
