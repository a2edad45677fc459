package httpapi

import (
	"net/http"
	"strings"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// Workspace API keys (workspace admins) and the organization keys that reach a
// workspace.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/api-keys", a.listKeysOf(workspaceKeys))
		a.handle("POST /api/workspaces/{id}/api-keys", a.createKeyOf(workspaceKeys))
		a.handle("PUT /api/workspaces/{id}/api-keys/{keyId}", a.updateWorkspaceKey())
		a.handle("DELETE /api/workspaces/{id}/api-keys/{keyId}", a.revokeKeyOf(workspaceKeys))
		a.handle("POST /api/workspaces/{id}/api-keys/{keyId}/rotate", a.rotateKeyOf(workspaceKeys))
		a.handle("GET /api/workspaces/{id}/organization-api-keys", a.listOrgKeysReachingWorkspace())
	})
}

// workspaceKeys are the keys of the workspace {id}; {keyId} names the key.
var workspaceKeys = keyScope{keyParam: "keyId", owner: func(r *http.Request, _ *auth.Principal) (store.KeyType, string, error) {
	return store.KeyWorkspace, r.PathValue("id"), nil
}}

type workspaceKeyUpdateBody struct {
	Name         *string   `json:"name"`
	AllowedCIDRs *[]string `json:"allowedCidrs"`
	RateLimit    *int      `json:"rateLimit"`
}

func (a *API) updateWorkspaceKey() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *workspaceKeyUpdateBody) (reply, error) {
		if b.Name != nil && strings.TrimSpace(*b.Name) == "" {
			return reply{}, badRequest("name", "name must not be empty")
		}
		if b.RateLimit != nil && *b.RateLimit < 0 {
			return reply{}, badRequest("rateLimit", "rateLimit must not be negative")
		}
		id, _, _, err := a.key(r, p, workspaceKeys)
		if err != nil {
			return reply{}, err
		}
		k, err := a.deps.Resolver.UpdateKey(r.Context(), p, id, func(k *store.APIKey) error {
			if b.Name != nil {
				k.Name = strings.TrimSpace(*b.Name)
			}
			if b.AllowedCIDRs != nil {
				k.AllowedCIDRs = *b.AllowedCIDRs
			}
			if b.RateLimit != nil {
				k.RateLimit = *b.RateLimit
			}
			return nil
		})
		if err != nil {
			return reply{}, keyErr(err)
		}
		return reply{http.StatusOK, map[string]any{"key": keyView(k)}}, nil
	})
}

func (a *API) listOrgKeysReachingWorkspace() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		ks, err := a.deps.Service.OrgKeysReachingWorkspace(r.Context(), p, r.PathValue("id"))
		return answer(http.StatusOK, map[string]any{"keys": keyViews(ks)}, err)
	})
}
