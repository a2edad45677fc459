package httpapi

import (
	"net/http"
	"time"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Organizations, their members and their API keys (org owners and admins).
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/organizations", a.listOrgs)
		a.handle("POST /api/organizations", a.createOrg)
		a.handle("GET /api/organizations/{id}", a.getOrg)
		a.handle("PATCH /api/organizations/{id}", a.updateOrg)
		a.handle("GET /api/organizations/{id}/members", a.listOrgMembers)
		a.handle("PATCH /api/organizations/{id}/members/{userId}", a.updateOrgMember)
		a.handle("DELETE /api/organizations/{id}/members/{userId}", a.removeOrgMember)
		a.handle("GET /api/organizations/{id}/api-keys", a.listOrgKeys)
		a.handle("POST /api/organizations/{id}/api-keys", a.createOrgKey)
		a.handle("DELETE /api/organizations/{id}/api-keys/{keyId}", a.revokeOrgKey)
		a.handle("POST /api/organizations/{id}/api-keys/{keyId}/rotate", a.rotateOrgKey)
	})
}

func orgView(o *store.Org, lvl store.Level) map[string]any {
	v := map[string]any{"id": o.ID, "name": o.Name, "createdAt": o.CreatedAt,
		"maxKeyLifetimeSeconds": int64(o.MaxKeyLifetime / time.Second)}
	if lvl != store.LevelNone {
		v["permission"] = lvl
	}
	return v
}

func orgMemberView(m core.OrgMember) map[string]any {
	return map[string]any{"userId": m.User.ID, "email": m.User.Email, "name": m.User.Name, "role": m.Role}
}

func (a *API) listOrgs(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	os, err := a.deps.Service.ListOrgs(r.Context(), p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(os))
	for _, o := range os {
		out = append(out, orgView(o.Org, o.Level))
	}
	writeJSON(w, http.StatusOK, map[string]any{"organizations": out})
}

func (a *API) createOrg(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Name    string `json:"name"`
		OwnerID string `json:"ownerId"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Name == "" {
		writeError(w, r, badRequest("name", "name is required"))
		return
	}
	o, err := a.deps.Service.CreateOrg(r.Context(), p, body.Name, body.OwnerID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"organization": orgView(o, store.LevelAdmin)})
}

func (a *API) getOrg(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	o, err := a.deps.Service.GetOrg(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"organization": orgView(o.Org, o.Level)})
}

func (a *API) updateOrg(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Name                  *string `json:"name"`
		MaxKeyLifetimeSeconds *int64  `json:"maxKeyLifetimeSeconds"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	patch := core.OrgPatch{Name: body.Name}
	if body.MaxKeyLifetimeSeconds != nil {
		d := time.Duration(*body.MaxKeyLifetimeSeconds) * time.Second
		patch.MaxKeyLifetime = &d
	}
	o, err := a.deps.Service.UpdateOrg(r.Context(), p, r.PathValue("id"), patch)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"organization": orgView(o, store.LevelAdmin)})
}

func (a *API) listOrgMembers(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	ms, err := a.deps.Service.OrgMembers(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		out = append(out, orgMemberView(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": out})
}

type orgMemberBody struct {
	UserID string        `json:"userId"`
	Email  string        `json:"email"`
	Role   store.OrgRole `json:"role"`
}

func (a *API) updateOrgMember(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body orgMemberBody
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if !body.Role.Valid() {
		writeError(w, r, badRequest("role", "role must be one of owner, admin, member"))
		return
	}
	m, err := a.deps.Service.SetOrgMember(r.Context(), p, r.PathValue("id"), r.PathValue("userId"), body.Role)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"member": orgMemberView(*m)})
}

func (a *API) removeOrgMember(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	if err := a.deps.Service.RemoveOrgMember(r.Context(), p, r.PathValue("id"), r.PathValue("userId")); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}

func (a *API) listOrgKeys(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	a.writeKeyList(w, r, p, store.KeyFilter{Type: store.KeyOrganization, OrgID: r.PathValue("id")})
}

func (a *API) createOrgKey(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	req, err := decodeKeyCreate(r, store.KeyOrganization)
	if err != nil {
		writeError(w, r, err)
		return
	}
	req.OrgID = r.PathValue("id")
	a.createKey(w, r, p, req)
}

func (a *API) revokeOrgKey(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	a.revokeKeyOf(w, r, p, r.PathValue("keyId"), store.KeyOrganization, r.PathValue("id"))
}

func (a *API) rotateOrgKey(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	a.rotateKeyOf(w, r, p, r.PathValue("keyId"), store.KeyOrganization, r.PathValue("id"))
}
