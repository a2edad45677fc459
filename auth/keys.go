package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/steelengine/steelengine/store"
)

// CreateKeyRequest describes a new key. Exactly one owner field matches Type.
type CreateKeyRequest struct {
	Type        store.KeyType
	Name        string
	UserID      string // personal
	WorkspaceID string // workspace
	OrgID       string // organization
	// Level (workspace keys; default write) and Workflows narrow a workspace key.
	Level     store.Level
	Workflows []string
	// Grants of an organization key: at least one, each on a workspace of the org or
	// one of its workflows.
	Grants       []store.Grant
	ExpiresIn    time.Duration // 0 = never, unless the workspace or org sets a maximum
	AllowedCIDRs []string
	RateLimit    int // requests per minute; 0 = the server default
}

// DisplayKey is how lists show a key: the prefix, an ellipsis and the last four.
func DisplayKey(k *store.APIKey) string { return KeyPrefix + "…" + k.Suffix }

// CreateKey checks that actor may create the key, then creates it and returns the
// plaintext — the only time it exists outside the caller's hands.
func (r *Resolver) CreateKey(ctx context.Context, actor *Principal, req CreateKeyRequest) (string, *store.APIKey, error) {
	k := &store.APIKey{
		ID: store.NewID(), Type: req.Type, Name: req.Name,
		UserID: req.UserID, WorkspaceID: req.WorkspaceID, OrgID: req.OrgID,
		Level: req.Level, Workflows: req.Workflows, Grants: req.Grants,
		AllowedCIDRs: req.AllowedCIDRs, RateLimit: req.RateLimit, CreatedBy: actor.actorID(),
	}
	if err := RequireHuman(actor); err != nil {
		return "", nil, err
	}
	if !k.Type.Valid() {
		return "", nil, fmt.Errorf("key type %q must be personal, workspace or organization: %w", k.Type, store.ErrInvalid)
	}
	if err := r.canManage(ctx, actor, k); err != nil {
		return "", nil, err
	}
	for _, c := range k.AllowedCIDRs {
		if _, err := parsePrefix(c); err != nil {
			return "", nil, fmt.Errorf("allowed address %q is not an IP or CIDR: %w", c, store.ErrInvalid)
		}
	}
	if req.RateLimit < 0 {
		return "", nil, fmt.Errorf("rate limit must not be negative: %w", store.ErrInvalid)
	}
	now := r.opts.Now().UTC()
	exp, err := r.expiry(ctx, k, req.ExpiresIn, now)
	if err != nil {
		return "", nil, err
	}
	k.ExpiresAt = exp
	plain, err := r.seal(k)
	if err != nil {
		return "", nil, err
	}
	k.CreatedAt = now
	if err := r.st.CreateKey(ctx, k); err != nil {
		return "", nil, fmt.Errorf("create key: %w", err)
	}
	r.record(ctx, "created", actor, k, "")
	return plain, k, nil
}

// seal gives k a fresh secret: its digest, its ciphertext and its display suffix.
func (r *Resolver) seal(k *store.APIKey) (string, error) {
	plain, err := NewKey()
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	ct, err := r.sec.Seal(k.ID, []byte(plain))
	if err != nil {
		return "", fmt.Errorf("seal key: %w", err)
	}
	k.Digest, k.Ciphertext, k.Suffix = r.sec.Digest(plain), ct, Suffix(plain)
	return plain, nil
}

// expiry applies the workspace's or organization's maximum key lifetime.
func (r *Resolver) expiry(ctx context.Context, k *store.APIKey, in time.Duration, now time.Time) (*time.Time, error) {
	if in < 0 {
		return nil, fmt.Errorf("expiry must be in the future: %w", store.ErrInvalid)
	}
	max := r.maxLifetime(ctx, k)
	if max > 0 {
		if in > max {
			return nil, fmt.Errorf("expiry %s exceeds the maximum key lifetime %s: %w", in, max, store.ErrInvalid)
		}
		if in == 0 {
			in = max
		}
	}
	if in == 0 {
		return nil, nil
	}
	t := now.Add(in)
	return &t, nil
}

// maxLifetime is the longest a key of k's owner may live (0 = no limit).
func (r *Resolver) maxLifetime(ctx context.Context, k *store.APIKey) time.Duration {
	switch k.Type {
	case store.KeyWorkspace:
		if ws, err := r.st.GetWorkspace(ctx, k.WorkspaceID); err == nil {
			return ws.MaxKeyLifetime
		}
	case store.KeyOrganization:
		if o, err := r.st.GetOrg(ctx, k.OrgID); err == nil {
			return o.MaxKeyLifetime
		}
	}
	return 0
}

// RevokeKey revokes a key at once. Sessions and the operator revoke any key they
// manage; an API key may revoke only itself (a leaked key can be killed by whoever
// holds it, but no key takes another down).
func (r *Resolver) RevokeKey(ctx context.Context, actor *Principal, id string) (*store.APIKey, error) {
	var k *store.APIKey
	var err error
	if actor != nil && actor.KeyID != "" && actor.KeyID == id {
		k, err = r.st.GetKey(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound("API key")
		}
	} else {
		if err := RequireHuman(actor); err != nil {
			return nil, err
		}
		k, err = r.managedKey(ctx, actor, id)
	}
	if err != nil {
		return nil, err
	}
	if k, err = r.st.RevokeKey(ctx, id, r.opts.Now()); err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	r.record(ctx, "revoked", actor, k, "")
	return k, nil
}

// RotateKey replaces a key with a new one (returned once); the old key keeps working
// for grace (0 = stops at once).
func (r *Resolver) RotateKey(ctx context.Context, actor *Principal, id string, grace time.Duration) (string, *store.APIKey, error) {
	if err := RequireHuman(actor); err != nil {
		return "", nil, err
	}
	if grace < 0 {
		return "", nil, fmt.Errorf("grace must not be negative: %w", store.ErrInvalid)
	}
	old, err := r.managedKey(ctx, actor, id)
	if err != nil {
		return "", nil, err
	}
	now := r.opts.Now().UTC()
	if deadReason(old, false, now) != "" {
		return "", nil, fmt.Errorf("key %s no longer works and cannot be rotated: %w", id, store.ErrInvalid)
	}
	// The successor keeps the old key's expiry, but never outlives the owner's maximum
	// lifetime counted from now: rotation must not be a way around the policy.
	exp := old.ExpiresAt
	if max := r.maxLifetime(ctx, old); max > 0 {
		if limit := now.Add(max); exp == nil || exp.After(limit) {
			exp = &limit
		}
	}
	nk := &store.APIKey{ID: store.NewID(), CreatedAt: now, CreatedBy: actor.actorID(), ExpiresAt: exp}
	plain, err := r.seal(nk)
	if err != nil {
		return "", nil, err
	}
	if err := r.st.RotateKey(ctx, id, nk, now.Add(grace)); err != nil {
		return "", nil, fmt.Errorf("rotate key: %w", err)
	}
	r.record(ctx, "rotated", actor, old, "rotated to "+nk.ID)
	r.record(ctx, "created", actor, nk, "rotated from "+old.ID)
	return plain, nk, nil
}

// UpdateKey renames a key or changes its allowlist, expiry or rate limit.
func (r *Resolver) UpdateKey(ctx context.Context, actor *Principal, id string, fn func(k *store.APIKey) error) (*store.APIKey, error) {
	if err := RequireHuman(actor); err != nil {
		return nil, err
	}
	if _, err := r.managedKey(ctx, actor, id); err != nil {
		return nil, err
	}
	k, err := r.st.UpdateKey(ctx, id, func(k *store.APIKey) error {
		if err := fn(k); err != nil {
			return err
		}
		for _, c := range k.AllowedCIDRs {
			if _, err := parsePrefix(c); err != nil {
				return fmt.Errorf("allowed address %q is not an IP or CIDR: %w", c, store.ErrInvalid)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update key: %w", err)
	}
	r.record(ctx, "updated", actor, k, "")
	return k, nil
}

// Keys lists the keys of one owner (f names exactly one), if actor may manage them.
func (r *Resolver) Keys(ctx context.Context, actor *Principal, f store.KeyFilter) ([]*store.APIKey, error) {
	probe := &store.APIKey{Type: f.Type, UserID: f.UserID, WorkspaceID: f.WorkspaceID, OrgID: f.OrgID}
	switch {
	case f.UserID != "":
		probe.Type = store.KeyPersonal
	case f.WorkspaceID != "":
		probe.Type = store.KeyWorkspace
	case f.OrgID != "":
		probe.Type = store.KeyOrganization
	default:
		if !actor.IsOperator() {
			return nil, errForbidden()
		}
	}
	if probe.Type.Valid() {
		if err := r.canManage(ctx, actor, probe); err != nil {
			return nil, err
		}
	}
	return r.st.ListKeys(ctx, f)
}

// KeyAudit returns a key's audit trail, newest first.
func (r *Resolver) KeyAudit(ctx context.Context, actor *Principal, id string, limit int) ([]*store.AuditEvent, error) {
	if _, err := r.managedKey(ctx, actor, id); err != nil {
		return nil, err
	}
	if err := r.flushAudit(ctx); err != nil {
		return nil, err
	}
	return r.st.ListAudit(ctx, id, limit)
}

// OwnedKey returns the live (unrevoked) key id if it is of type typ and belongs to
// owner (a user, workspace or organization id), else a not-found error. It decides no
// access: front doors use it to check that a key id belongs under the path they serve
// before asking the lifecycle methods, which decide.
func (r *Resolver) OwnedKey(ctx context.Context, id string, typ store.KeyType, owner string) (*store.APIKey, error) {
	k, err := r.st.GetKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (k.Type != typ || k.OwnerID() != owner || k.RevokedAt != nil)) {
		return nil, errNotFound("API key")
	}
	return k, err
}

// ManagedKey returns key id if actor may manage it; keys outside actor's reach read as
// not found. Front doors that address keys by id alone (the command line's) use it to
// learn the key's owner.
func (r *Resolver) ManagedKey(ctx context.Context, actor *Principal, id string) (*store.APIKey, error) {
	return r.managedKey(ctx, actor, id)
}

// managedKey loads a key actor may manage; keys outside actor's reach read as not found.
func (r *Resolver) managedKey(ctx context.Context, actor *Principal, id string) (*store.APIKey, error) {
	k, err := r.st.GetKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound("API key")
	}
	if err != nil {
		return nil, err
	}
	if err := r.canManage(ctx, actor, k); err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
			return nil, errNotFound("API key")
		}
		return nil, err
	}
	return k, nil
}

// canManage: personal keys by their user; workspace keys by workspace admins;
// organization keys by org owners and admins. Decided through Authorize.
func (r *Resolver) canManage(ctx context.Context, actor *Principal, k *store.APIKey) error {
	if actor == nil {
		return ErrUnauthenticated()
	}
	if actor.IsOperator() {
		return nil
	}
	switch k.Type {
	case store.KeyPersonal:
		if actor.UserID != "" && actor.UserID == k.UserID && (actor.Session || actor.KeyType == store.KeyPersonal) {
			return nil
		}
		if actor.Session && actor.InstanceAdmin {
			return nil
		}
		return errForbidden()
	case store.KeyWorkspace:
		return r.az.Authorize(ctx, actor, WorkspaceTarget(k.WorkspaceID), store.LevelAdmin)
	case store.KeyOrganization:
		return r.az.Authorize(ctx, actor, OrgTarget(k.OrgID), store.LevelAdmin)
	}
	return errForbidden()
}

func (r *Resolver) record(ctx context.Context, action string, actor *Principal, k *store.APIKey, reason string) {
	ev := &store.AuditEvent{Action: action, KeyID: k.ID, ActorID: actor.actorID(), WorkspaceID: k.WorkspaceID, OrgID: k.OrgID, Reason: reason}
	if err := r.st.AddAudit(context.WithoutCancel(ctx), ev); err != nil {
		r.log.Warn("write audit event", "action", action, "key", k.ID, "err", err)
	}
}

// actorID names who did something, for audit trails.
func (p *Principal) actorID() string {
	switch {
	case p == nil:
		return ""
	case p.operator:
		return "operator"
	case p.UserID != "":
		return p.UserID
	}
	return "key:" + p.KeyID
}
