package bolt

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

var (
	bOAuthClients      = []byte("oauth_clients")
	bOAuthGrants       = []byte("oauth_grants")
	bOAuthGrantsByUser = []byte("oauth_grants_by_user")  // user id, grant id
	bOAuthGrantsByWs   = []byte("oauth_grants_by_ws")    // workspace id, grant id
	bOAuthTokens       = []byte("oauth_tokens")          // digest → OAuthToken
	bOAuthTokensByGnt  = []byte("oauth_tokens_by_grant") // grant id, digest
)

var oauthBuckets = [][]byte{bOAuthClients, bOAuthGrants, bOAuthGrantsByUser, bOAuthGrantsByWs, bOAuthTokens, bOAuthTokensByGnt}

// maxPrunedClients bounds the clean-up one registration does.
const maxPrunedClients = 100

// CreateOAuthClient stores a new client and forgets up to 100 clients not used since
// idleBefore; see store.OAuth.
func (s *Store) CreateOAuthClient(ctx context.Context, c *store.OAuthClient, idleBefore time.Time) error {
	if err := c.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bOAuthClients)
		var stale [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(stale) >= maxPrunedClients {
				return nil
			}
			o, err := decodeJSON[store.OAuthClient](v)
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
func (r *Reader) OAuthClient(id string) (*store.OAuthClient, error) {
	return getJSON[store.OAuthClient](r.tx.Bucket(bOAuthClients), []byte(id))
}

// GetOAuthClient returns the client with id.
func (s *Store) GetOAuthClient(ctx context.Context, id string) (c *store.OAuthClient, err error) {
	err = s.view(ctx, func(r *Reader) error {
		c, err = r.OAuthClient(id)
		return err
	})
	return c, err
}

// OAuthGrant returns the grant with id.
func (r *Reader) OAuthGrant(id string) (*store.OAuthGrant, error) {
	return getJSON[store.OAuthGrant](r.tx.Bucket(bOAuthGrants), []byte(id))
}

// OAuthToken returns the token stored under digest.
func (r *Reader) OAuthToken(digest []byte) (*store.OAuthToken, error) {
	t, err := getJSON[store.OAuthToken](r.tx.Bucket(bOAuthTokens), digest)
	if err == nil {
		t.Digest = digest
	}
	return t, err
}

// GetOAuthGrant returns the grant with id.
func (s *Store) GetOAuthGrant(ctx context.Context, id string) (g *store.OAuthGrant, err error) {
	err = s.view(ctx, func(r *Reader) error {
		g, err = r.OAuthGrant(id)
		return err
	})
	return g, err
}

// CreateOAuthGrant stores a consented grant with its first tokens and marks the
// client used.
func (s *Store) CreateOAuthGrant(ctx context.Context, g *store.OAuthGrant, tokens ...*store.OAuthToken) error {
	if err := g.Check(); err != nil {
		return err
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
		if err := w.putOAuthGrant(g, tokens); err != nil {
			return err
		}
		// Resolvers cache unknown token digests per auth epoch.
		return w.bumpAuth()
	})
}

// putOAuthGrant stores grant g, its indexes by user and workspace, and tokens.
func (w *writer) putOAuthGrant(g *store.OAuthGrant, tokens []*store.OAuthToken) error {
	if err := putJSON(w.tx.Bucket(bOAuthGrants), []byte(g.ID), g); err != nil {
		return err
	}
	if err := w.tx.Bucket(bOAuthGrantsByUser).Put(ckey(g.UserID, g.ID), nil); err != nil {
		return err
	}
	if err := w.tx.Bucket(bOAuthGrantsByWs).Put(ckey(g.WorkspaceID, g.ID), nil); err != nil {
		return err
	}
	return w.putOAuthTokens(g.ID, tokens)
}

func (w *writer) putOAuthTokens(grantID string, tokens []*store.OAuthToken) error {
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
func (s *Store) RotateOAuthRefresh(ctx context.Context, digest []byte, t time.Time, newTokens ...*store.OAuthToken) (g *store.OAuthGrant, err error) {
	reused := false
	err = s.update(ctx, func(w *writer) error {
		old, err := w.OAuthToken(digest)
		if err != nil || !old.Refresh {
			return store.ErrNotFound
		}
		g, err = w.OAuthGrant(old.GrantID)
		if err != nil {
			return store.ErrNotFound
		}
		if old.RotatedAt != nil {
			reused = true
			if g.RevokedAt == nil {
				return w.revokeOAuthGrant(g, t)
			}
			return nil
		}
		if !g.Live(t) || !t.Before(old.ExpiresAt) {
			return store.ErrNotFound
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
		return g, store.ErrRefreshReused
	}
	return g, err
}

// dropExpiredOAuthTokens deletes a grant's expired tokens (rotated refresh tokens are
// kept until they expire, so their reuse is still recognised).
func (w *writer) dropExpiredOAuthTokens(grantID string, t time.Time) error {
	idx, toks := w.tx.Bucket(bOAuthTokensByGnt), w.tx.Bucket(bOAuthTokens)
	var doomed [][]byte
	err := scanPrefix(idx, grantID, func(d, _ []byte) error {
		tok, err := decodeJSON[store.OAuthToken](toks.Get(d))
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

func deleteOAuthTokens(idx, toks *bbolt.Bucket, grantID string, digests [][]byte) error {
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
func (s *Store) RevokeOAuthGrant(ctx context.Context, id string, t time.Time) (g *store.OAuthGrant, err error) {
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

func (w *writer) revokeOAuthGrant(g *store.OAuthGrant, t time.Time) error {
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

// ListOAuthGrants returns the live grants matching f at t, newest first.
func (s *Store) ListOAuthGrants(ctx context.Context, f store.OAuthGrantFilter, t time.Time) (out []*store.OAuthGrant, err error) {
	err = s.view(ctx, func(r *Reader) error {
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

// ListOAuthClients returns every registered client, in id order.
func (s *Store) ListOAuthClients(ctx context.Context) (out []*store.OAuthClient, err error) {
	err = s.view(ctx, func(r *Reader) error {
		return r.tx.Bucket(bOAuthClients).ForEach(func(_, v []byte) error {
			c, err := decodeJSON[store.OAuthClient](v)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// oauthTokensOf returns grantID's stored tokens in digest order.
func (r *Reader) oauthTokensOf(grantID string) ([]*store.OAuthToken, error) {
	var out []*store.OAuthToken
	err := scanPrefix(r.tx.Bucket(bOAuthTokensByGnt), grantID, func(d, _ []byte) error {
		t, err := r.OAuthToken(append([]byte(nil), d...))
		if err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// EachOAuthGrant calls fn with every grant and its tokens, in id order, a page at a
// time outside any transaction; see store.OAuth.
func (s *Store) EachOAuthGrant(ctx context.Context, fn func(g *store.OAuthGrant, tokens []*store.OAuthToken) error) error {
	type entry struct {
		g    *store.OAuthGrant
		toks []*store.OAuthToken
	}
	var after []byte
	for {
		var page []entry
		err := s.view(ctx, func(r *Reader) error {
			c := r.tx.Bucket(bOAuthGrants).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); k != nil && string(k) == string(after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(page) < eachPage; k, v = c.Next() {
				g, err := decodeJSON[store.OAuthGrant](v)
				if err != nil {
					return err
				}
				toks, err := r.oauthTokensOf(g.ID)
				if err != nil {
					return err
				}
				page = append(page, entry{g, toks})
				after = append(after[:0:0], k...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e.g, e.toks); err != nil {
				return err
			}
		}
		if len(page) < eachPage {
			return nil
		}
	}
}

// PutOAuthGrant stores g with exactly tokens as they are; see store.OAuth.
func (s *Store) PutOAuthGrant(ctx context.Context, g *store.OAuthGrant, tokens ...*store.OAuthToken) error {
	if err := g.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *writer) error {
		if old, err := w.OAuthGrant(g.ID); err == nil {
			if err := w.tx.Bucket(bOAuthGrantsByUser).Delete(ckey(old.UserID, old.ID)); err != nil {
				return err
			}
			if err := w.tx.Bucket(bOAuthGrantsByWs).Delete(ckey(old.WorkspaceID, old.ID)); err != nil {
				return err
			}
			toks, err := w.oauthTokensOf(g.ID)
			if err != nil {
				return err
			}
			digests := make([][]byte, len(toks))
			for i, t := range toks {
				digests[i] = t.Digest
			}
			if err := deleteOAuthTokens(w.tx.Bucket(bOAuthTokensByGnt), w.tx.Bucket(bOAuthTokens), g.ID, digests); err != nil {
				return err
			}
		} else if err != store.ErrNotFound {
			return err
		}
		if err := w.putOAuthGrant(g, tokens); err != nil {
			return err
		}
		return w.bumpAuth()
	})
}
