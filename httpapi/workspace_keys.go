package httpapi

import (
	"net/http"
	"strings"

	"github.com/steelengine/steelengine/store"
)

// Workspace API keys (workspace admins) and the organization keys that reach a
// workspace.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/api-keys", a.listWorkspaceKeys)
		a.handle("POST /api/workspaces/{id}/api-keys", a.createWorkspaceKey)
		a.handle("PUT /api/workspaces/{id}/api-keys/{keyId}", a.updateWorkspaceKey)
		a.handle("DELETE /api/workspaces/{id}/api-keys/{keyId}", a.revokeWorkspaceKey)
		a.handle("POST /api/workspaces/{id}/api-keys/{keyId}/rotate", a.rotateWorkspaceKey)
		a.handle("GET /api/workspaces/{id}/organization-api-keys", a.listOrgKeysReachingWorkspace)
	})
}

func (a *API) listWorkspaceKeys(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	a.writeKeyList(w, r, p, store.KeyFilter{Type: store.KeyWorkspace, WorkspaceID: r.PathValue("id")})
}

func (a *API) createWorkspaceKey(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	req, err := decodeKeyCreate(r, store.KeyWorkspace)
	if err != nil {
		writeError(w, r, err)
		return
	}
	req.WorkspaceID = r.PathValue("id")
	a.createKey(w, r, p, req)
}

func (a *API) updateWorkspaceKey(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Name         *string   `json:"name"`
		AllowedCIDRs *[]string `json:"allowedCidrs"`
		RateLimit    *int      `json:"rateLimit"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Name != nil && strings.TrimSpace(*body.Name) == "" {
		writeError(w, r, badRequest("name", "name must not be empty"))
		return
	}
	if body.RateLimit != nil && *body.RateLimit < 0 {
		writeError(w, r, badRequest("rateLimit", "rateLimit must not be negative"))
		return
	}
	id := r.PathValue("keyId")
	if err := a.keyOf(r.Context(), id, store.KeyWorkspace, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	k, err := a.deps.Resolver.UpdateKey(r.Context(), p, id, func(k *store.APIKey) error {
		if body.Name != nil {
			k.Name = strings.TrimSpace(*body.Name)
		}
		if body.AllowedCIDRs != nil {
			k.AllowedCIDRs = *body.AllowedCIDRs
		}
		if body.RateLimit != nil {
			k.RateLimit = *body.RateLimit
		}
		return nil
	})
	if err != nil {
		writeError(w, r, keyErr(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": keyView(k)})
}

func (a *API) revokeWorkspaceKey(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	a.revokeKeyOf(w, r, p, r.PathValue("keyId"), store.KeyWorkspace, r.PathValue("id"))
}

func (a *API) rotateWorkspaceKey(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	a.rotateKeyOf(w, r, p, r.PathValue("keyId"), store.KeyWorkspace, r.PathValue("id"))
}

func (a *API) listOrgKeysReachingWorkspace(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	ks, err := a.deps.Service.OrgKeysReachingWorkspace(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(ks))
	for _, k := range ks {
		out = append(out, keyView(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}
