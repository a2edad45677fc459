package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// What the personal, workspace, organization and by-id key endpoints share: the create
// body, the views, and list/create/revoke/rotate over a keyScope.

// keyCreateBody is the body of every key-create request; fields that do not apply to
// the key's type are rejected by the key lifecycle.
type keyCreateBody struct {
	Name string `json:"name"`
	// Workspace keys.
	Level       store.Level `json:"level"`
	WorkflowIDs []string    `json:"workflowIds"`
	Workflows   []string    `json:"workflows"`
	// Organization keys: each grant names workspaceId or workflowId (or targetType and
	// targetId) and a level.
	Grants []grantBody `json:"grants"`
	// Expiry: seconds from now, or an absolute time.
	ExpiresIn    *int64     `json:"expiresIn"`
	ExpiresAt    *time.Time `json:"expiresAt"`
	AllowedCIDRs []string   `json:"allowedCidrs"`
	RateLimit    int        `json:"rateLimit"`
	Source       string     `json:"source"` // Sim: settings | deploy_modal (ignored)
}

type grantBody struct {
	WorkspaceID string           `json:"workspaceId"`
	WorkflowID  string           `json:"workflowId"`
	TargetType  store.TargetType `json:"targetType"`
	TargetID    string           `json:"targetId"`
	Level       store.Level      `json:"level"`
}

// request checks the body for a key of type typ.
func (b *keyCreateBody) request(typ store.KeyType) (auth.CreateKeyRequest, error) {
	req := auth.CreateKeyRequest{Type: typ, Name: strings.TrimSpace(b.Name), AllowedCIDRs: b.AllowedCIDRs, RateLimit: b.RateLimit}
	if req.Name == "" {
		return req, badRequest("name", "name is required")
	}
	switch {
	case b.ExpiresIn != nil:
		if *b.ExpiresIn <= 0 {
			return req, badRequest("expiresIn", "expiresIn must be a positive number of seconds")
		}
		req.ExpiresIn = time.Duration(*b.ExpiresIn) * time.Second
	case b.ExpiresAt != nil:
		d := time.Until(*b.ExpiresAt)
		if d <= 0 {
			return req, badRequest("expiresAt", "expiresAt must be in the future")
		}
		req.ExpiresIn = d
	}
	switch typ {
	case store.KeyPersonal:
		if b.Level != "" || len(b.WorkflowIDs)+len(b.Workflows) > 0 || len(b.Grants) > 0 {
			return req, badRequest("level", "personal keys take their access from the user's memberships; level, workflowIds and grants do not apply")
		}
	case store.KeyWorkspace:
		if len(b.Grants) > 0 {
			return req, badRequest("grants", "grants apply to organization keys only")
		}
		if b.Level != "" && !b.Level.Valid() {
			return req, badRequest("level", "level must be one of read, write, admin")
		}
		req.Level = b.Level
		req.Workflows = append(append([]string(nil), b.WorkflowIDs...), b.Workflows...)
	case store.KeyOrganization:
		if b.Level != "" || len(b.WorkflowIDs)+len(b.Workflows) > 0 {
			return req, badRequest("level", "organization keys take their access from grants")
		}
		if len(b.Grants) == 0 {
			return req, badRequest("grants", "an organization key needs at least one grant")
		}
		for _, g := range b.Grants {
			sg := store.Grant{TargetType: g.TargetType, TargetID: g.TargetID, Level: g.Level}
			switch {
			case g.WorkspaceID != "" && g.WorkflowID == "":
				sg.TargetType, sg.TargetID = store.TargetWorkspace, g.WorkspaceID
			case g.WorkflowID != "" && g.WorkspaceID == "":
				sg.TargetType, sg.TargetID = store.TargetWorkflow, g.WorkflowID
			case g.WorkflowID != "" && g.WorkspaceID != "":
				return req, badRequest("grants", "a grant names either workspaceId or workflowId")
			}
			if (sg.TargetType != store.TargetWorkspace && sg.TargetType != store.TargetWorkflow) || sg.TargetID == "" {
				return req, badRequest("grants", "each grant needs workspaceId or workflowId")
			}
			if !sg.Level.Valid() {
				return req, badRequest("grants", "grant level must be one of read, write, admin")
			}
			req.Grants = append(req.Grants, sg)
		}
	}
	return req, nil
}

// keyScope is whose keys a route group manages: the path parameter that names a key,
// and the key type and owner id the request names (the path, or the caller).
type keyScope struct {
	keyParam string
	owner    func(r *http.Request, p *auth.Principal) (store.KeyType, string, error)
}

// filter selects the scope's keys of owner.
func ownerFilter(typ store.KeyType, owner string) store.KeyFilter {
	f := store.KeyFilter{Type: typ}
	switch typ {
	case store.KeyPersonal:
		f.UserID = owner
	case store.KeyWorkspace:
		f.WorkspaceID = owner
	case store.KeyOrganization:
		f.OrgID = owner
	}
	return f
}

// key finds the key the path names and checks it belongs to the scope's owner; a key
// of another owner reads as not found. Whether p may manage it is the key lifecycle's
// decision (auth).
func (a *API) key(r *http.Request, p *auth.Principal, sc keyScope) (id string, typ store.KeyType, owner string, err error) {
	if typ, owner, err = sc.owner(r, p); err != nil {
		return "", "", "", err
	}
	id = r.PathValue(sc.keyParam)
	_, err = a.deps.Resolver.OwnedKey(r.Context(), id, typ, owner)
	return id, typ, owner, err
}

func (a *API) listKeysOf(sc keyScope) http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		typ, owner, err := sc.owner(r, p)
		if err != nil {
			return reply{}, err
		}
		return a.keyList(r, p, ownerFilter(typ, owner))
	})
}

func (a *API) createKeyOf(sc keyScope) http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *keyCreateBody) (reply, error) {
		typ, owner, err := sc.owner(r, p)
		if err != nil {
			return reply{}, err
		}
		req, err := b.request(typ)
		if err != nil {
			return reply{}, err
		}
		f := ownerFilter(typ, owner)
		req.UserID, req.WorkspaceID, req.OrgID = f.UserID, f.WorkspaceID, f.OrgID
		return a.createKey(r, p, req)
	})
}

func (a *API) revokeKeyOf(sc keyScope) http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		id, _, _, err := a.key(r, p, sc)
		if err != nil {
			return reply{}, err
		}
		_, err = a.deps.Resolver.RevokeKey(r.Context(), p, id)
		return answer(http.StatusOK, success, err)
	})
}

type keyRotateBody struct {
	GraceSeconds *int64   `json:"graceSeconds"`
	GraceHours   *float64 `json:"graceHours"`
}

func (a *API) rotateKeyOf(sc keyScope) http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *keyRotateBody) (reply, error) {
		var grace time.Duration
		switch {
		case b.GraceSeconds != nil:
			grace = time.Duration(*b.GraceSeconds) * time.Second
		case b.GraceHours != nil:
			grace = time.Duration(*b.GraceHours * float64(time.Hour))
		}
		if grace < 0 || grace > 30*24*time.Hour {
			return reply{}, badRequest("graceSeconds", "grace must be between 0 and 30 days")
		}
		id, typ, owner, err := a.key(r, p, sc)
		if err != nil {
			return reply{}, err
		}
		plain, nk, err := a.deps.Resolver.RotateKey(r.Context(), p, id, grace)
		if err != nil {
			return reply{}, keyErr(err)
		}
		// The successor carries the old key's settings (the store filled them in).
		v := keyView(nk)
		v["key"] = plain
		out := map[string]any{"key": v, "previousKeyId": id}
		if old, err := a.deps.Resolver.OwnedKey(r.Context(), id, typ, owner); err == nil && old.GraceUntil != nil {
			out["previousKeyValidUntil"] = old.GraceUntil
		}
		return reply{http.StatusOK, secret{out}}, nil
	})
}

// createKey creates the key and answers with its plaintext, the only time it is shown.
func (a *API) createKey(r *http.Request, p *auth.Principal, req auth.CreateKeyRequest) (reply, error) {
	plain, k, err := a.deps.Resolver.CreateKey(r.Context(), p, req)
	if err != nil {
		return reply{}, keyErr(err)
	}
	v := keyView(k)
	v["key"] = plain
	return reply{http.StatusCreated, secret{map[string]any{"key": v}}}, nil
}

// keyList answers with the keys matching f that p may see.
func (a *API) keyList(r *http.Request, p *auth.Principal, f store.KeyFilter) (reply, error) {
	ks, err := a.deps.Resolver.Keys(r.Context(), p, f)
	return answer(http.StatusOK, map[string]any{"keys": keyViews(ks)}, err)
}

func keyViews(ks []*store.APIKey) []map[string]any {
	out := make([]map[string]any, 0, len(ks))
	for _, k := range ks {
		out = append(out, keyView(k))
	}
	return out
}

// keyErr gives duplicate names Sim's message; a record the request names that does not
// exist (a workflow to narrow to, a grant target) is a bad request — the key's owner was
// already found by the access check.
func keyErr(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		msg := strings.TrimSuffix(err.Error(), ": "+store.ErrNotFound.Error())
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: msg + " not found"}
	}
	if errors.Is(err, store.ErrConflict) {
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: cleanMessage(err) + ". Please choose a different name."}
	}
	return err
}

// keyView is a key as lists show it: displayKey, never the secret or its digest.
func keyView(k *store.APIKey) map[string]any {
	v := map[string]any{
		"id": k.ID, "name": k.Name, "type": k.Type, "displayKey": auth.DisplayKey(k),
		"createdAt": k.CreatedAt, "createdBy": k.CreatedBy, "updatedAt": k.UpdatedAt,
		"lastUsed": k.LastUsedAt, "lastUsedVia": k.LastUsedVia, "expiresAt": k.ExpiresAt,
	}
	if k.RevokedAt != nil {
		v["revokedAt"] = k.RevokedAt
	}
	if k.GraceUntil != nil {
		v["graceUntil"] = k.GraceUntil
		v["rotatedTo"] = k.RotatedTo
	}
	switch k.Type {
	case store.KeyPersonal:
		v["userId"] = k.UserID
	case store.KeyWorkspace:
		v["workspaceId"] = k.WorkspaceID
		v["level"] = k.Level
		v["workflowIds"] = nonNil(k.Workflows)
	case store.KeyOrganization:
		v["organizationId"] = k.OrgID
		gs := make([]map[string]any, 0, len(k.Grants))
		for _, g := range k.Grants {
			gv := map[string]any{"targetType": g.TargetType, "targetId": g.TargetID, "level": g.Level}
			if g.TargetType == store.TargetWorkspace {
				gv["workspaceId"] = g.TargetID
			} else {
				gv["workflowId"] = g.TargetID
			}
			gs = append(gs, gv)
		}
		v["grants"] = gs
	}
	if len(k.AllowedCIDRs) > 0 {
		v["allowedCidrs"] = k.AllowedCIDRs
	}
	if k.RateLimit > 0 {
		v["rateLimit"] = k.RateLimit
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
