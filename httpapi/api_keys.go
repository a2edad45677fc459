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
		a.handle("GET /api/api-keys", a.listKeys)
		a.handle("POST /api/api-keys", a.createAnyKey)
		a.handle("DELETE /api/api-keys/{id}", a.revokeKey)
		a.handle("POST /api/api-keys/{id}/rotate", a.rotateKey)
		a.handle("GET /api/api-keys/{id}/audit", a.keyAudit)
	})
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := store.KeyFilter{UserID: q.Get("userId"), WorkspaceID: q.Get("workspaceId"), OrgID: q.Get("organizationId")}
	f.IncludeRevoked, _ = strconv.ParseBool(q.Get("includeRevoked"))
	a.writeKeyList(w, r, p, f)
}

func (a *API) createAnyKey(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		keyCreateBody
		Type           store.KeyType `json:"type"`
		UserID         string        `json:"userId"`
		WorkspaceID    string        `json:"workspaceId"`
		OrganizationID string        `json:"organizationId"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	owner := map[store.KeyType]struct{ field, id string }{
		store.KeyPersonal:     {"userId", body.UserID},
		store.KeyWorkspace:    {"workspaceId", body.WorkspaceID},
		store.KeyOrganization: {"organizationId", body.OrganizationID},
	}
	o, known := owner[body.Type]
	if !known {
		writeError(w, r, badRequest("type", "type must be one of personal, workspace, organization"))
		return
	}
	if o.id == "" {
		writeError(w, r, badRequest(o.field, "a "+string(body.Type)+" key needs "+o.field))
		return
	}
	req, err := body.request(body.Type)
	if err != nil {
		writeError(w, r, err)
		return
	}
	req.UserID, req.WorkspaceID, req.OrgID = body.UserID, body.WorkspaceID, body.OrganizationID
	switch body.Type {
	case store.KeyPersonal:
		req.WorkspaceID, req.OrgID = "", ""
	case store.KeyWorkspace:
		req.UserID, req.OrgID = "", ""
	case store.KeyOrganization:
		req.UserID, req.WorkspaceID = "", ""
	}
	a.createKey(w, r, p, req)
}

// keyOwner finds key id's type and owner for the owner-scoped revoke and rotate; a key
// p may not manage reads as not found.
func (a *API) keyOwner(w http.ResponseWriter, r *http.Request, p *auth.Principal) (store.KeyType, string, bool) {
	k, err := a.deps.Resolver.ManagedKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return "", "", false
	}
	return k.Type, k.OwnerID(), true
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	typ, owner, ok := a.keyOwner(w, r, p)
	if !ok {
		return
	}
	a.revokeKeyOf(w, r, p, r.PathValue("id"), typ, owner)
}

func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	typ, owner, ok := a.keyOwner(w, r, p)
	if !ok {
		return
	}
	a.rotateKeyOf(w, r, p, r.PathValue("id"), typ, owner)
}

func (a *API) keyAudit(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, r, badRequest("limit", "limit must be between 1 and 1000"))
			return
		}
		limit = n
	}
	evs, err := a.deps.Resolver.KeyAudit(r.Context(), p, r.PathValue("id"), limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if evs == nil {
		evs = []*store.AuditEvent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
}
