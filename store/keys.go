package store

import (
	"context"
	"time"
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
