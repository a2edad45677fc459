package store

import (
	"context"
	"errors"
	"time"
)

// KeyOAuth is the principal kind of an OAuth access token (never a stored API key).
const KeyOAuth KeyType = "oauth"

// OAuthClient is a dynamically registered public client (RFC 7591).
type OAuthClient struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	RedirectURIs []string  `json:"redirectUris"`
	CreatedAt    time.Time `json:"createdAt"`
	// LastUsedAt moves on every authorization and token refresh; a client unused for
	// long is forgotten.
	LastUsedAt time.Time `json:"lastUsedAt"`
}

// OAuthGrant is one consent: a user let a client act as them on one workspace (all
// workflows or the listed ones) at a level, for one MCP resource. It is what the
// dashboard calls a connected app.
type OAuthGrant struct {
	ID           string     `json:"id"`
	ClientID     string     `json:"clientId"`
	ClientName   string     `json:"clientName"`
	RedirectHost string     `json:"redirectHost"`
	UserID       string     `json:"userId"`
	WorkspaceID  string     `json:"workspaceId"`
	Workflows    []string   `json:"workflows,omitempty"`
	Level        Level      `json:"level"`
	Resource     string     `json:"resource"`
	CreatedAt    time.Time  `json:"createdAt"`
	LastUsedAt   *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt    *time.Time `json:"revokedAt,omitempty"`
	// ExpiresAt is when the newest refresh token runs out; the grant is dead after it.
	ExpiresAt time.Time `json:"expiresAt"`
}

// Live reports whether g still works at t.
func (g *OAuthGrant) Live(t time.Time) bool { return g.RevokedAt == nil && t.Before(g.ExpiresAt) }

// OAuthToken is an access or refresh token of a grant, stored under its digest.
type OAuthToken struct {
	Digest    []byte    `json:"-"`
	GrantID   string    `json:"grantId"`
	Refresh   bool      `json:"refresh,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
	// RotatedAt marks a refresh token already exchanged: presenting it again means it
	// leaked, and the grant is revoked.
	RotatedAt *time.Time `json:"rotatedAt,omitempty"`
}

// ErrRefreshReused is returned (after the grant was revoked, in the same
// transaction) when a rotated refresh token comes back.
var ErrRefreshReused = errors.New("refresh token reused")

// OAuthCode is an authorization code between consent and token exchange, stored under
// the digest of the code (never the code itself) so that any replica can exchange a code
// another issued. It carries the consent the exchange checks; none of it is secret (ids
// and URLs).
type OAuthCode struct {
	Digest        []byte    `json:"-"`
	ClientID      string    `json:"clientId"`
	RedirectURI   string    `json:"redirectUri"`
	CodeChallenge string    `json:"codeChallenge"`
	Resource      string    `json:"resource"`
	ServerID      string    `json:"serverId,omitempty"`
	WorkspaceID   string    `json:"workspaceId"`
	Workflows     []string  `json:"workflows,omitempty"`
	Level         Level     `json:"level"`
	UserID        string    `json:"userId"`
	ExpiresAt     time.Time `json:"expiresAt"`
	// UsedAt is when the code was first presented; any later presentation is a replay.
	UsedAt *time.Time `json:"usedAt,omitempty"`
	// GrantID is the grant the first exchange created, revoked if the code comes back.
	GrantID string `json:"grantId,omitempty"`
	// Replayed: the code came back while its first exchange had not yet recorded a
	// grant; that exchange revokes the grant it creates (SetOAuthCodeGrant says so).
	Replayed bool `json:"replayed,omitempty"`
}

// Check checks a code before it is stored: a digest, a client, a user, a workspace, an
// expiry, and not yet used.
func (c *OAuthCode) Check() error {
	if len(c.Digest) == 0 || c.ClientID == "" || c.UserID == "" || c.WorkspaceID == "" || c.ExpiresAt.IsZero() ||
		c.UsedAt != nil || c.GrantID != "" || c.Replayed {
		return invalidf("oauth code needs a digest, a client, a user, a workspace and an expiry, and must be new")
	}
	return nil
}

// ErrTooManyCodes is returned by CreateOAuthCode when the user already holds as many
// codes as the bound allows.
var ErrTooManyCodes = errors.New("too many pending oauth codes")

// OAuthGrantFilter selects grants: of a user, or reaching a workspace.
type OAuthGrantFilter struct {
	UserID      string
	WorkspaceID string
}

// OAuth holds the MCP OAuth authorization server's clients, grants and tokens.
type OAuth interface {
	// CreateOAuthClient stores a new client and forgets up to 100 clients not used since
	// idleBefore. A forgotten client's grants cannot refresh any more (auth finds no
	// client); their last access tokens, long expired for an idle client, are not touched.
	CreateOAuthClient(ctx context.Context, c *OAuthClient, idleBefore time.Time) error

	// GetOAuthClient returns the client with id.
	GetOAuthClient(ctx context.Context, id string) (c *OAuthClient, err error)

	// GetOAuthGrant returns the grant with id.
	GetOAuthGrant(ctx context.Context, id string) (g *OAuthGrant, err error)

	// CreateOAuthGrant stores a consented grant with its first tokens and marks the
	// client used.
	CreateOAuthGrant(ctx context.Context, g *OAuthGrant, tokens ...*OAuthToken) error

	// RotateOAuthRefresh exchanges the refresh token stored under digest for the new
	// tokens, at t. A token already rotated revokes its grant (committed) and returns
	// ErrRefreshReused with the grant; an unknown, expired or dead one is ErrNotFound.
	RotateOAuthRefresh(ctx context.Context, digest []byte, t time.Time, newTokens ...*OAuthToken) (g *OAuthGrant, err error)

	// RevokeOAuthGrant ends grant id and deletes its tokens; revoking a revoked grant is
	// a no-op that returns it.
	RevokeOAuthGrant(ctx context.Context, id string, t time.Time) (g *OAuthGrant, err error)

	// ListOAuthGrants returns the live grants matching f at t, newest first.
	ListOAuthGrants(ctx context.Context, f OAuthGrantFilter, t time.Time) (out []*OAuthGrant, err error)

	// SetOAuthGrantsLastUsed records when grants were last used (batched by the
	// resolver).
	SetOAuthGrantsLastUsed(ctx context.Context, used map[string]time.Time) error

	// ListOAuthClients returns every registered client, idle ones too, in id order.
	// CreateOAuthClient with a zero idleBefore stores one back as it is (migrate-store).
	ListOAuthClients(ctx context.Context) (out []*OAuthClient, err error)

	// EachOAuthGrant calls fn with every grant, revoked and expired ones too, and the
	// tokens stored for it (digests, in byte order), grants in id order, a page at a time
	// and outside any transaction of the store (no snapshot across pages: each page is
	// one). An error from fn stops the walk and is returned. migrate-store reads grants
	// with it (server stopped).
	EachOAuthGrant(ctx context.Context, fn func(g *OAuthGrant, tokens []*OAuthToken) error) error

	// PutOAuthGrant stores g with exactly tokens as they are (ids, digests, expiries,
	// rotation, revocation and last use kept), replacing the grant with g's id and its
	// tokens. Unlike CreateOAuthGrant it neither checks nor touches the client, user or
	// workspace: a copied grant may outlive its client, as on the source. It bumps the
	// auth epoch (resolvers cache unknown digests per epoch).
	PutOAuthGrant(ctx context.Context, g *OAuthGrant, tokens ...*OAuthToken) error

	// CreateOAuthCode stores a new, unused code, and in the same write deletes every code
	// that expired before expiredBefore (callers pass a time well behind now, so that no
	// exchange still in flight loses its code). A digest already stored is ErrConflict.
	// When c's user already holds maxPerUser codes (used or not, not pruned) it stores
	// nothing and returns ErrTooManyCodes; 0 means no bound. The bound is against
	// floods, not an invariant: on PostgreSQL concurrent creations may pass it together.
	// It does not touch the epochs: codes are never cached.
	CreateOAuthCode(ctx context.Context, c *OAuthCode, expiredBefore time.Time, maxPerUser int) error

	// UseOAuthCode presents the code stored under digest at t, atomically: it returns the
	// code as it was before this call, and records the use. A first use (UsedAt nil in
	// the answer) sets UsedAt to t. A later use changes nothing but, while the first use
	// has recorded no grant yet (GrantID empty in the answer), sets Replayed so that the
	// first exchange learns of it from SetOAuthCodeGrant. Of any number of concurrent
	// calls exactly one sees a first use. A code unknown, pruned, or expired at t
	// (t not before ExpiresAt) is ErrNotFound and nothing is recorded.
	UseOAuthCode(ctx context.Context, digest []byte, t time.Time) (c *OAuthCode, err error)

	// SetOAuthCodeGrant records the grant the first use of the code under digest created,
	// and reports whether the code was presented again before that (Replayed): the
	// caller then revokes the grant. Expiry does not matter here; an unknown code is
	// ErrNotFound.
	SetOAuthCodeGrant(ctx context.Context, digest []byte, grantID string) (replayed bool, err error)
}

// Check checks a client before it is stored: an id and redirect URIs.
func (c *OAuthClient) Check() error {
	if c.ID == "" || len(c.RedirectURIs) == 0 {
		return invalidf("oauth client needs an id and redirect URIs")
	}
	return nil
}

// Check checks a grant before it is stored: an id, a user, a workspace and a client.
func (g *OAuthGrant) Check() error {
	if g.ID == "" || g.UserID == "" || g.WorkspaceID == "" || g.ClientID == "" {
		return invalidf("oauth grant needs an id, a user, a workspace and a client")
	}
	return nil
}
