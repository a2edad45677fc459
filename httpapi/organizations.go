package httpapi

import (
	"net/http"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Organizations, their members and their API keys (org owners and admins).
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/organizations", a.listOrgs())
		a.handle("POST /api/organizations", a.createOrg())
		a.handle("GET /api/organizations/{id}", a.getOrg())
		a.handle("PATCH /api/organizations/{id}", a.updateOrg())
		a.handle("GET /api/organizations/{id}/members", a.listOrgMembers())
		a.handle("PATCH /api/organizations/{id}/members/{userId}", a.updateOrgMember())
		a.handle("DELETE /api/organizations/{id}/members/{userId}", a.removeOrgMember())
		a.handle("GET /api/organizations/{id}/api-keys", a.listKeysOf(orgKeys))
		a.handle("POST /api/organizations/{id}/api-keys", a.createKeyOf(orgKeys))
		a.handle("DELETE /api/organizations/{id}/api-keys/{keyId}", a.revokeKeyOf(orgKeys))
		a.handle("POST /api/organizations/{id}/api-keys/{keyId}/rotate", a.rotateKeyOf(orgKeys))
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

func (a *API) listOrgs() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		os, err := a.deps.Service.ListOrgs(r.Context(), p)
		if err != nil {
			return reply{}, err
		}
		out := make([]map[string]any, 0, len(os))
		for _, o := range os {
			out = append(out, orgView(o.Org, o.Level))
		}
		return reply{http.StatusOK, map[string]any{"organizations": out}}, nil
	})
}

type createOrgBody struct {
	Name    string `json:"name"`
	OwnerID string `json:"ownerId"`
}

func (a *API) createOrg() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *createOrgBody) (reply, error) {
		if b.Name == "" {
			return reply{}, badRequest("name", "name is required")
		}
		o, err := a.deps.Service.CreateOrg(r.Context(), p, b.Name, b.OwnerID)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusCreated, map[string]any{"organization": orgView(o, store.LevelAdmin)}}, nil
	})
}

func (a *API) getOrg() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		o, err := a.deps.Service.GetOrg(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"organization": orgView(o.Org, o.Level)}}, nil
	})
}

type updateOrgBody struct {
	Name                  *string `json:"name"`
	MaxKeyLifetimeSeconds *int64  `json:"maxKeyLifetimeSeconds"`
}

func (a *API) updateOrg() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *updateOrgBody) (reply, error) {
		patch := core.OrgPatch{Name: b.Name}
		if b.MaxKeyLifetimeSeconds != nil {
			d := time.Duration(*b.MaxKeyLifetimeSeconds) * time.Second
			patch.MaxKeyLifetime = &d
		}
		o, err := a.deps.Service.UpdateOrg(r.Context(), p, r.PathValue("id"), patch)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"organization": orgView(o, store.LevelAdmin)}}, nil
	})
}

func (a *API) listOrgMembers() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		ms, err := a.deps.Service.OrgMembers(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		out := make([]map[string]any, 0, len(ms))
		for _, m := range ms {
			out = append(out, orgMemberView(m))
		}
		return reply{http.StatusOK, map[string]any{"members": out}}, nil
	})
}

type orgMemberBody struct {
	UserID string        `json:"userId"`
	Email  string        `json:"email"`
	Role   store.OrgRole `json:"role"`
}

func (a *API) updateOrgMember() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *orgMemberBody) (reply, error) {
		if !b.Role.Valid() {
			return reply{}, badRequest("role", "role must be one of owner, admin, member")
		}
		m, err := a.deps.Service.SetOrgMember(r.Context(), p, r.PathValue("id"), r.PathValue("userId"), b.Role)
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"member": orgMemberView(*m)}}, nil
	})
}

func (a *API) removeOrgMember() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		if err := a.deps.Service.RemoveOrgMember(r.Context(), p, r.PathValue("id"), r.PathValue("userId")); err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"success": true}}, nil
	})
}

// orgKeys are the keys of the organization {id}; {keyId} names the key.
var orgKeys = keyScope{keyParam: "keyId", owner: func(r *http.Request, _ *auth.Principal) (store.KeyType, string, error) {
	return store.KeyOrganization, r.PathValue("id"), nil
}}
