package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// KeyFilter selects keys by owner; empty fields match everything.
type KeyFilter struct {
	Type        KeyType
	UserID      string
	WorkspaceID string
	OrgID       string
	// IncludeRevoked also returns revoked keys.
	IncludeRevoked bool
}

// LastUsed is a key's most recent successful use.
type LastUsed struct {
	At  time.Time
	Via string // http | mcp
}

// Keys holds API keys, their grants and last use.
type Keys interface {
	// CreateKey stores a new key with its grants and indexes. Names are 1–100 characters and
	// unique among the owner's live keys (ErrConflict). An organization key needs at least
	// one grant, each targeting a workspace of that organization or one of its workflows.
	CreateKey(ctx context.Context, k *APIKey) error

	// SetKeyGrants replaces an organization key's grants.
	SetKeyGrants(ctx context.Context, keyID string, grants []Grant) error

	// UpdateKey applies fn to a key's mutable fields (name, expiry, allowlist, rate limit)
	// and saves it.
	UpdateKey(ctx context.Context, id string, fn func(k *APIKey) error) (*APIKey, error)

	// RevokeKey marks a key revoked; it stops resolving on the next request.
	RevokeKey(ctx context.Context, id string, at time.Time) (*APIKey, error)

	// RotateKey creates newKey as the successor of oldID, which keeps working until
	// graceUntil (a past time ends it at once; the caller's clock decides). Both happen in one transaction.
	// The successor inherits the owner, scope, allowlist and rate limit; its expiry is the
	// caller's (newKey.ExpiresAt), since the lifetime policy lives above the store.
	RotateKey(ctx context.Context, oldID string, newKey *APIKey, graceUntil time.Time) error

	// GetKey returns the key with id.
	GetKey(ctx context.Context, id string) (k *APIKey, err error)

	// ListKeys lists keys matching f.
	ListKeys(ctx context.Context, f KeyFilter) (ks []*APIKey, err error)

	// OrgKeysReachingWorkspace lists the live organization keys with a grant on the
	// workspace or on one of its workflows, each with all of its grants.
	OrgKeysReachingWorkspace(ctx context.Context, wsID string) (ks []*APIKey, err error)

	// SetKeysLastUsed records last-used times in one transaction. It does not change any
	// access decision, so the auth epoch stays as it is and warm caches survive.
	SetKeysLastUsed(ctx context.Context, used map[string]LastUsed) error
}

// KeyRefs reads, inside a backend's write transaction, the records ValidateKey checks a key
// against. A backend may lock what it reads so the checks hold until it commits.
type KeyRefs interface {
	// KeyOwner returns nil when the user, workspace or organization (by t) with id exists.
	KeyOwner(t KeyType, id string) error
	// WorkflowWorkspace returns the id of the workspace holding workflow id.
	WorkflowWorkspace(id string) (string, error)
	// WorkspaceOrg returns the organization of workspace id ("" when it has none).
	WorkspaceOrg(id string) (string, error)
	// KeyNameTaken reports whether another live key (id other than keyID) of owner is named name.
	KeyNameTaken(owner, keyID, name string) (bool, error)
}

// ValidateKey checks k before it is stored: a known type, a name of 1 to 100 characters
// unique among the owner's live keys (ErrConflict), an existing owner, a valid level for
// workspace keys (write when unset) with narrowing workflows of that workspace, and at
// least one valid grant for organization keys. It clears the fields k's type does not use.
// rotating keeps deleted workflows in a successor's narrowing list: dropping one could
// leave the list empty, which would widen the key to the whole workspace.
func ValidateKey(k *APIKey, rotating bool, refs KeyRefs) error {
	if !k.Type.Valid() {
		return invalidf("key type %q must be one of personal, workspace, organization", k.Type)
	}
	if n := utf8.RuneCountInString(k.Name); n < 1 || n > 100 {
		return invalidf("key name must be 1 to 100 characters")
	}
	switch k.Type {
	case KeyPersonal:
		if err := refs.KeyOwner(k.Type, k.UserID); err != nil {
			return fmt.Errorf("personal key owner: %w", err)
		}
		k.WorkspaceID, k.OrgID, k.Level, k.Workflows, k.Grants = "", "", "", nil, nil
	case KeyWorkspace:
		if err := refs.KeyOwner(k.Type, k.WorkspaceID); err != nil {
			return fmt.Errorf("workspace key owner: %w", err)
		}
		if k.Level == LevelNone {
			k.Level = LevelWrite
		}
		if !k.Level.Valid() {
			return invalidf("key level %q must be one of read, write, admin", k.Level)
		}
		for _, id := range k.Workflows {
			wsID, err := refs.WorkflowWorkspace(id)
			if errors.Is(err, ErrNotFound) && rotating {
				continue
			}
			if err != nil {
				return err
			}
			if wsID != k.WorkspaceID {
				return invalidf("workflow %s is not in workspace %s", id, k.WorkspaceID)
			}
		}
		k.UserID, k.OrgID, k.Grants = "", "", nil
	case KeyOrganization:
		if err := refs.KeyOwner(k.Type, k.OrgID); err != nil {
			return fmt.Errorf("organization key owner: %w", err)
		}
		if err := ValidateGrants(k.OrgID, k.Grants, refs); err != nil {
			return err
		}
		k.UserID, k.WorkspaceID, k.Level, k.Workflows = "", "", "", nil
	}
	taken, err := refs.KeyNameTaken(k.OwnerID(), k.ID, k.Name)
	if err != nil {
		return err
	}
	if taken {
		return fmt.Errorf("an API key named %q already exists: %w", k.Name, ErrConflict)
	}
	return nil
}

// ValidateGrants checks an organization key's grants: at least one, each with a valid
// level on a workspace of organization orgID or on a workflow in one.
func ValidateGrants(orgID string, grants []Grant, refs KeyRefs) error {
	if len(grants) == 0 {
		return invalidf("an organization key needs at least one grant")
	}
	for _, g := range grants {
		if err := validateGrant(orgID, g, refs); err != nil {
			return err
		}
	}
	return nil
}

func validateGrant(orgID string, g Grant, refs KeyRefs) error {
	if !g.Level.Valid() {
		return invalidf("grant level %q must be one of read, write, admin", g.Level)
	}
	wsID := g.TargetID
	switch g.TargetType {
	case TargetWorkspace:
	case TargetWorkflow:
		id, err := refs.WorkflowWorkspace(g.TargetID)
		if err != nil {
			return err
		}
		wsID = id
	default:
		return invalidf("grant target type %q must be workspace or workflow", g.TargetType)
	}
	wsOrg, err := refs.WorkspaceOrg(wsID)
	if err != nil {
		return err
	}
	if wsOrg != orgID {
		return invalidf("grant target %s is not in organization %s", g.TargetID, orgID)
	}
	return nil
}

// CheckSecret checks that k carries its lookup digest and its sealed secret.
func (k *APIKey) CheckSecret() error {
	if len(k.Digest) == 0 || len(k.Ciphertext) == 0 {
		return invalidf("key %s has no digest or ciphertext", k.ID)
	}
	return nil
}

// CheckGrants checks grants as k's new set (SetKeyGrants): only organization keys have
// grants, and they must pass ValidateGrants.
func (k *APIKey) CheckGrants(grants []Grant, refs KeyRefs) error {
	if k.Type != KeyOrganization {
		return invalidf("only organization keys have grants")
	}
	return ValidateGrants(k.OrgID, grants, refs)
}

// KeepFixed restores on k what UpdateKey may not change, from was (k before the caller's
// edit): identity, ownership, secret and scope are fixed at creation.
func (k *APIKey) KeepFixed(was *APIKey) {
	k.ID, k.Type, k.UserID, k.WorkspaceID, k.OrgID = was.ID, was.Type, was.UserID, was.WorkspaceID, was.OrgID
	k.Digest, k.Ciphertext, k.Suffix, k.CreatedAt, k.CreatedBy = was.Digest, was.Ciphertext, was.Suffix, was.CreatedAt, was.CreatedBy
	k.Level, k.Workflows, k.Grants = was.Level, was.Workflows, was.Grants
}

// Rotate makes next the successor of k, as RotateKey stores them: k must be live and not
// rotated yet; it keeps working until graceUntil and points at next. next inherits the
// owner, scope, allowlist and rate limit, and k's name when it has none (k is then renamed
// "… (rotated)" so the owner's names stay unique while both exist); next gets an id if it
// has none. now is the update time, at the backend's precision.
func (k *APIKey) Rotate(next *APIKey, graceUntil, now time.Time) error {
	if k.RevokedAt != nil {
		return invalidf("key %s is revoked", k.ID)
	}
	if k.RotatedTo != "" {
		return invalidf("key %s was already rotated to %s; rotate that one", k.ID, k.RotatedTo)
	}
	k.GraceUntil = &graceUntil
	k.UpdatedAt = now
	next.Type, next.UserID, next.WorkspaceID, next.OrgID = k.Type, k.UserID, k.WorkspaceID, k.OrgID
	next.Level, next.Workflows, next.Grants = k.Level, k.Workflows, k.Grants
	next.AllowedCIDRs, next.RateLimit = k.AllowedCIDRs, k.RateLimit
	if next.Name == "" {
		next.Name = k.Name
	}
	if next.ID == "" {
		next.ID = NewID()
	}
	k.RotatedTo = next.ID
	if next.Name == k.Name {
		k.Name = truncateRunes(k.Name, 90) + " (rotated)"
	}
	return nil
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
