package store

import (
	"context"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
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

var (
	bOAuthClients      = []byte("oauth_clients")
	bOAuthGrants       = []byte("oauth_grants")
	bOAuthGrantsByUser = []byte("oauth_grants_by_user")  // user id, grant id
	bOAuthGrantsByWs   = []byte("oauth_grants_by_ws")    // workspace id, grant id
	bOAuthTokens       = []byte("oauth_tokens")          // digest → OAuthToken
	bOAuthTokensByGnt  = []byte("oauth_tokens_by_grant") // grant id, digest
)

var oauthBuckets = [][]byte{bOAuthClients, bOAuthGrants, bOAuthGrantsByUser, bOAuthGrantsByWs, bOAuthTokens, bOAuthTokensByGnt}

// ErrRefreshReused is returned (after the grant was revoked, in the same
// transaction) when a rotated refresh token comes back.
var ErrRefreshReused = errors.New("refresh token reused")

// maxPrunedClients bounds the clean-up one registration does.
const maxPrunedClients = 100

// CreateOAuthClient stores a new client and forgets up to 100 clients not used since
// idleBefore (with their grants revoked).
func (s *Store) CreateOAuthClient(ctx context.Context, c *OAuthClient, idleBefore time.Time) error {
	if c.ID == "" || len(c.RedirectURIs) == 0 {
		return invalid("oauth client needs an id and redirect URIs")
	}
	return s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bOAuthClients)
		var stale [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(stale) >= maxPrunedClients {
				return nil
			}
			o, err := decodeJSON[OAuthClient](v)
			if err == nil && o.LastUsedAt.Before(idleBefore) {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return putJSON(b, []byte(c.ID), c)
	})
}

// OAuthClient returns the client with id.
func (r *Reader) OAuthClient(id string) (*OAuthClient, error) {
	return getJSON[OAuthClient](r.tx.Bucket(bOAuthClients), []byte(id))
}

// GetOAuthClient returns the client with id.
func (s *Store) GetOAuthClient(ctx context.Context, id string) (c *OAuthClient, err error) {
	err = s.View(ctx, func(r *Reader) error {
		c, err = r.OAuthClient(id)
		return err
	})
	return c, err
}

// OAuthGrant returns the grant with id.
func (r *Reader) OAuthGrant(id string) (*OAuthGrant, error) {
	return getJSON[OAuthGrant](r.tx.Bucket(bOAuthGrants), []byte(id))
}

// OAuthToken returns the token stored under digest.
func (r *Reader) OAuthToken(digest []byte) (*OAuthToken, error) {
	t, err := getJSON[OAuthToken](r.tx.Bucket(bOAuthTokens), digest)
	if err == nil {
		t.Digest = digest
	}
	return t, err
}

// GetOAuthGrant returns the grant with id.
func (s *Store) GetOAuthGrant(ctx context.Context, id string) (g *OAuthGrant, err error) {
	err = s.View(ctx, func(r *Reader) error {
		g, err = r.OAuthGrant(id)
		return err
	})
	return g, err
}

// CreateOAuthGrant stores a consented grant with its first tokens and marks the
// client used.
func (s *Store) CreateOAuthGrant(ctx context.Context, g *OAuthGrant, tokens ...*OAuthToken) error {
	if g.ID == "" || g.UserID == "" || g.WorkspaceID == "" || g.ClientID == "" {
		return invalid("oauth grant needs an id, a user, a workspace and a client")
	}
	return s.update(ctx, func(w *writer) error {
		if _, err := w.User(g.UserID); err != nil {
			return err
		}
		if _, err := w.Workspace(g.WorkspaceID); err != nil {
			return err
		}
		c, err := w.OAuthClient(g.ClientID)
		if err != nil {
			return err
		}
		c.LastUsedAt = g.CreatedAt
		if err := putJSON(w.tx.Bucket(bOAuthClients), []byte(c.ID), c); err != nil {
			return err
		}
		if err := putJSON(w.tx.Bucket(bOAuthGrants), []byte(g.ID), g); err != nil {
			return err
		}
		if err := w.tx.Bucket(bOAuthGrantsByUser).Put(ckey(g.UserID, g.ID), nil); err != nil {
			return err
		}
		if err := w.tx.Bucket(bOAuthGrantsByWs).Put(ckey(g.WorkspaceID, g.ID), nil); err != nil {
			return err
		}
		if err := w.putOAuthTokens(g.ID, tokens); err != nil {
			return err
		}
		// Resolvers cache unknown token digests per auth epoch.
		return w.bumpAuth()
	})
}

func (w *writer) putOAuthTokens(grantID string, tokens []*OAuthToken) error {
	for _, t := range tokens {
		t.GrantID = grantID
		if err := putJSON(w.tx.Bucket(bOAuthTokens), t.Digest, t); err != nil {
			return err
		}
		if err := w.tx.Bucket(bOAuthTokensByGnt).Put(append(ckey(grantID, ""), t.Digest...), nil); err != nil {
			return err
		}
	}
	return nil
}

// RotateOAuthRefresh exchanges the refresh token stored under digest for the new
// tokens, at t. A token already rotated revokes its grant (committed) and returns
// ErrRefreshReused with the grant; an unknown, expired or dead one is ErrNotFound.
func (s *Store) RotateOAuthRefresh(ctx context.Context, digest []byte, t time.Time, newTokens ...*OAuthToken) (g *OAuthGrant, err error) {
	reused := false
	err = s.update(ctx, func(w *writer) error {
		old, err := w.OAuthToken(digest)
		if err != nil || !old.Refresh {
			return ErrNotFound
		}
		g, err = w.OAuthGrant(old.GrantID)
		if err != nil {
			return ErrNotFound
		}
		if old.RotatedAt != nil {
			reused = true
			if g.RevokedAt == nil {
				return w.revokeOAuthGrant(g, t)
			}
			return nil
		}
		if !g.Live(t) || !t.Before(old.ExpiresAt) {
			return ErrNotFound
		}
		old.RotatedAt = &t
		if err := putJSON(w.tx.Bucket(bOAuthTokens), digest, old); err != nil {
			return err
		}
		if err := w.dropExpiredOAuthTokens(g.ID, t); err != nil {
			return err
		}
		if err := w.putOAuthTokens(g.ID, newTokens); err != nil {
			return err
		}
		for _, nt := range newTokens {
			if nt.Refresh {
				g.ExpiresAt = nt.ExpiresAt
			}
		}
		g.LastUsedAt = &t
		if err := putJSON(w.tx.Bucket(bOAuthGrants), []byte(g.ID), g); err != nil {
			return err
		}
		if c, err := w.OAuthClient(g.ClientID); err == nil {
			c.LastUsedAt = t
			if err := putJSON(w.tx.Bucket(bOAuthClients), []byte(c.ID), c); err != nil {
				return err
			}
		}
		return w.bumpAuth()
	})
	if err == nil && reused {
		return g, ErrRefreshReused
	}
	return g, err
}

// dropExpiredOAuthTokens deletes a grant's expired tokens (rotated refresh tokens are
// kept until they expire, so their reuse is still recognised).
func (w *writer) dropExpiredOAuthTokens(grantID string, t time.Time) error {
	idx, toks := w.tx.Bucket(bOAuthTokensByGnt), w.tx.Bucket(bOAuthTokens)
	var doomed [][]byte
	err := scanPrefix(idx, grantID, func(d, _ []byte) error {
		tok, err := decodeJSON[OAuthToken](toks.Get(d))
		if err != nil || !t.Before(tok.ExpiresAt) {
			doomed = append(doomed, append([]byte(nil), d...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return deleteOAuthTokens(idx, toks, grantID, doomed)
}

func deleteOAuthTokens(idx, toks *bolt.Bucket, grantID string, digests [][]byte) error {
	for _, d := range digests {
		if err := toks.Delete(d); err != nil {
			return err
		}
		if err := idx.Delete(append(ckey(grantID, ""), d...)); err != nil {
			return err
		}
	}
	return nil
}

// RevokeOAuthGrant ends grant id and deletes its tokens; revoking a revoked grant is
// a no-op that returns it.
func (s *Store) RevokeOAuthGrant(ctx context.Context, id string, t time.Time) (g *OAuthGrant, err error) {
	err = s.update(ctx, func(w *writer) error {
		g, err = w.OAuthGrant(id)
		if err != nil {
			return err
		}
		if g.RevokedAt != nil {
			return nil
		}
		return w.revokeOAuthGrant(g, t)
	})
	return g, err
}

func (w *writer) revokeOAuthGrant(g *OAuthGrant, t time.Time) error {
	g.RevokedAt = &t
	if err := putJSON(w.tx.Bucket(bOAuthGrants), []byte(g.ID), g); err != nil {
		return err
	}
	idx := w.tx.Bucket(bOAuthTokensByGnt)
	var all [][]byte
	if err := scanPrefix(idx, g.ID, func(d, _ []byte) error {
		all = append(all, append([]byte(nil), d...))
		return nil
	}); err != nil {
		return err
	}
	if err := deleteOAuthTokens(idx, w.tx.Bucket(bOAuthTokens), g.ID, all); err != nil {
		return err
	}
	return w.bumpAuth()
}

// OAuthGrantFilter selects grants: of a user, or reaching a workspace.
type OAuthGrantFilter struct {
	UserID      string
	WorkspaceID string
}

// ListOAuthGrants returns the live grants matching f at t, newest first.
func (s *Store) ListOAuthGrants(ctx context.Context, f OAuthGrantFilter, t time.Time) (out []*OAuthGrant, err error) {
	err = s.View(ctx, func(r *Reader) error {
		idx, prefix := r.tx.Bucket(bOAuthGrantsByUser), f.UserID
		if f.WorkspaceID != "" {
			idx, prefix = r.tx.Bucket(bOAuthGrantsByWs), f.WorkspaceID
		}
		ids, err := idsUnder(idx, prefix)
		if err != nil {
			return err
		}
		for _, id := range ids {
			g, err := r.OAuthGrant(id)
			if err != nil {
				continue
			}
			if g.Live(t) && (f.UserID == "" || g.UserID == f.UserID) {
				out = append(out, g)
			}
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// SetOAuthGrantsLastUsed records when grants were last used (batched by the
// resolver).
func (s *Store) SetOAuthGrantsLastUsed(ctx context.Context, used map[string]time.Time) error {
	return s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bOAuthGrants)
		for id, t := range used {
			g, err := w.OAuthGrant(id)
			if err != nil {
				continue
			}
			if g.LastUsedAt == nil || t.After(*g.LastUsedAt) {
				t := t
				g.LastUsedAt = &t
				if err := putJSON(b, []byte(id), g); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
