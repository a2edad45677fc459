package httpapi

import (
	"net/http"
	"strconv"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// Keys by id, of any owner: the command line's view (keys create|list|revoke|rotate|
// audit). Whether the caller may manage a key is the key lifecycle's decision (auth):
// the operator may manage all; others only the keys the owner-scoped endpoints would
// let them manage.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/api-keys", a.listKeys())
		a.handle("POST /api/api-keys", a.createAnyKey())
		a.handle("DELETE /api/api-keys/{id}", a.revokeKeyOf(managedKeys(a)))
		a.handle("POST /api/api-keys/{id}/rotate", a.rotateKeyOf(managedKeys(a)))
		a.handle("GET /api/api-keys/{id}/audit", a.keyAudit())
	})
}

// managedKeys are keys by id: the owner is the key's own; a key p may not manage reads
// as not found.
func managedKeys(a *API) keyScope {
	return keyScope{keyParam: "id", owner: func(r *http.Request, p *auth.Principal) (store.KeyType, string, error) {
		k, err := a.deps.Resolver.ManagedKey(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return "", "", err
		}
		return k.Type, k.OwnerID(), nil
	}}
}

func (a *API) listKeys() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		q := r.URL.Query()
		f := store.KeyFilter{UserID: q.Get("userId"), WorkspaceID: q.Get("workspaceId"), OrgID: q.Get("organizationId")}
		f.IncludeRevoked, _ = strconv.ParseBool(q.Get("includeRevoked"))
		return a.keyList(r, p, f)
	})
}

type anyKeyCreateBody struct {
	keyCreateBody
	Type           store.KeyType `json:"type"`
	UserID         string        `json:"userId"`
	WorkspaceID    string        `json:"workspaceId"`
	OrganizationID string        `json:"organizationId"`
}

func (a *API) createAnyKey() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *anyKeyCreateBody) (reply, error) {
		owner := map[store.KeyType]struct{ field, id string }{
			store.KeyPersonal:     {"userId", b.UserID},
			store.KeyWorkspace:    {"workspaceId", b.WorkspaceID},
			store.KeyOrganization: {"organizationId", b.OrganizationID},
		}
		o, known := owner[b.Type]
		if !known {
			return reply{}, badRequest("type", "type must be one of personal, workspace, organization")
		}
		if o.id == "" {
			return reply{}, badRequest(o.field, "a "+string(b.Type)+" key needs "+o.field)
		}
		req, err := b.request(b.Type)
		if err != nil {
			return reply{}, err
		}
		f := ownerFilter(b.Type, o.id)
		req.UserID, req.WorkspaceID, req.OrgID = f.UserID, f.WorkspaceID, f.OrgID
		return a.createKey(r, p, req)
	})
}

func (a *API) keyAudit() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		limit := 100
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 1000 {
				return reply{}, badRequest("limit", "limit must be between 1 and 1000")
			}
			limit = n
		}
		evs, err := a.deps.Resolver.KeyAudit(r.Context(), p, r.PathValue("id"), limit)
		if evs == nil {
			evs = []*store.AuditEvent{}
		}
		return answer(http.StatusOK, map[string]any{"events": evs}, err)
	})
}
