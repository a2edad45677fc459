package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

// maxPrunedClients bounds the clean-up one registration does.
const maxPrunedClients = 100

// CreateOAuthClient stores a new client and forgets up to 100 clients not used since
// idleBefore (with their grants revoked).
func (s *Store) CreateOAuthClient(ctx context.Context, c *store.OAuthClient, idleBefore time.Time) error {
	if err := c.Check(); err != nil {
		return err
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM oauth_clients WHERE id IN (
			SELECT id FROM oauth_clients WHERE last_used_at < $1 ORDER BY id LIMIT $2)`, idleBefore, maxPrunedClients)
		if err != nil {
			return fmt.Errorf("postgres: prune oauth clients: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO oauth_clients (id, name, redirect_uris, created_at, last_used_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, redirect_uris = excluded.redirect_uris,
				created_at = excluded.created_at, last_used_at = excluded.last_used_at`,
			c.ID, c.Name, c.RedirectURIs, c.CreatedAt, c.LastUsedAt)
		if err != nil {
			return fmt.Errorf("postgres: insert oauth client: %w", err)
		}
		return nil
	})
}

func getOAuthClient(ctx context.Context, q dbtx, id string) (*store.OAuthClient, error) {
	c := new(store.OAuthClient)
	err := q.QueryRow(ctx, `SELECT id, name, redirect_uris, created_at, last_used_at FROM oauth_clients WHERE id = $1`, id).
		Scan(&c.ID, &c.Name, &c.RedirectURIs, &c.CreatedAt, &c.LastUsedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("oauth client", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get oauth client %q: %w", id, err)
	}
	c.CreatedAt, c.LastUsedAt = c.CreatedAt.UTC(), c.LastUsedAt.UTC()
	return c, nil
}

// GetOAuthClient returns the client with id.
func (s *Store) GetOAuthClient(ctx context.Context, id string) (*store.OAuthClient, error) {
	return getOAuthClient(ctx, s.pool, id)
}

const oauthGrantSelect = `SELECT id, client_id, client_name, redirect_host, user_id, workspace_id, workflows, level,
	resource, created_at, last_used_at, revoked_at, expires_at FROM oauth_grants `

func scanOAuthGrant(row pgx.Row) (*store.OAuthGrant, error) {
	var (
		g     store.OAuthGrant
		level string
	)
	err := row.Scan(&g.ID, &g.ClientID, &g.ClientName, &g.RedirectHost, &g.UserID, &g.WorkspaceID, &g.Workflows,
		&level, &g.Resource, &g.CreatedAt, &g.LastUsedAt, &g.RevokedAt, &g.ExpiresAt)
	if err != nil {
		return nil, err
	}
	g.Level = store.Level(level)
	g.CreatedAt, g.ExpiresAt = g.CreatedAt.UTC(), g.ExpiresAt.UTC()
	g.LastUsedAt, g.RevokedAt = utcPtr(g.LastUsedAt), utcPtr(g.RevokedAt)
	if len(g.Workflows) == 0 {
		g.Workflows = nil // omitempty in bbolt's record
	}
	return &g, nil
}

func getOAuthGrant(ctx context.Context, q dbtx, id string, lock bool) (*store.OAuthGrant, error) {
	sql := oauthGrantSelect + `WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	g, err := scanOAuthGrant(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("oauth grant", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get oauth grant %q: %w", id, err)
	}
	return g, nil
}

// GetOAuthGrant returns the grant with id.
func (s *Store) GetOAuthGrant(ctx context.Context, id string) (*store.OAuthGrant, error) {
	return getOAuthGrant(ctx, s.pool, id, false)
}

// CreateOAuthGrant stores a consented grant with its first tokens and marks the
// client used.
func (s *Store) CreateOAuthGrant(ctx context.Context, g *store.OAuthGrant, tokens ...*store.OAuthToken) error {
	if err := g.Check(); err != nil {
		return err
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if err := rowExists(ctx, tx, "users", "user", g.UserID); err != nil {
			return err
		}
		if err := rowExists(ctx, tx, "workspaces", "workspace", g.WorkspaceID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE oauth_clients SET last_used_at = $2 WHERE id = $1`, g.ClientID, g.CreatedAt)
		if err != nil {
			return fmt.Errorf("postgres: mark oauth client used: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("oauth client", g.ClientID)
		}
		_, err = tx.Exec(ctx, `INSERT INTO oauth_grants (id, client_id, client_name, redirect_host, user_id, workspace_id,
			workflows, level, resource, created_at, last_used_at, revoked_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			g.ID, g.ClientID, g.ClientName, g.RedirectHost, g.UserID, g.WorkspaceID, orEmpty(g.Workflows),
			string(g.Level), g.Resource, g.CreatedAt, g.LastUsedAt, g.RevokedAt, g.ExpiresAt)
		if isUnique(err) {
			return fmt.Errorf("oauth grant %q: %w", g.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: insert oauth grant: %w", err)
		}
		if err := insertOAuthTokens(ctx, tx, g.ID, tokens); err != nil {
			return err
		}
		// Resolvers cache unknown token digests per auth epoch.
		return BumpEpoch(ctx, tx, EpochAuth)
	})
}

func insertOAuthTokens(ctx context.Context, tx pgx.Tx, grantID string, tokens []*store.OAuthToken) error {
	if len(tokens) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, t := range tokens {
		t.GrantID = grantID
		// A digest stored again replaces the token, as a bbolt Put does.
		b.Queue(`INSERT INTO oauth_tokens (digest, grant_id, refresh, expires_at, rotated_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (digest) DO UPDATE SET grant_id = excluded.grant_id, refresh = excluded.refresh,
				expires_at = excluded.expires_at, rotated_at = excluded.rotated_at`,
			t.Digest, grantID, t.Refresh, t.ExpiresAt, t.RotatedAt)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: insert oauth tokens: %w", err)
	}
	return nil
}

func getOAuthToken(ctx context.Context, q dbtx, digest []byte, lock bool) (*store.OAuthToken, error) {
	sql := `SELECT grant_id, refresh, expires_at, rotated_at FROM oauth_tokens WHERE digest = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	t := &store.OAuthToken{Digest: digest}
	err := q.QueryRow(ctx, sql, digest).Scan(&t.GrantID, &t.Refresh, &t.ExpiresAt, &t.RotatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get oauth token: %w", err)
	}
	t.ExpiresAt = t.ExpiresAt.UTC()
	t.RotatedAt = utcPtr(t.RotatedAt)
	return t, nil
}

// RotateOAuthRefresh exchanges the refresh token stored under digest for the new
// tokens, at t. A token already rotated revokes its grant (committed) and returns
// ErrRefreshReused with the grant; an unknown, expired or dead one is ErrNotFound.
func (s *Store) RotateOAuthRefresh(ctx context.Context, digest []byte, t time.Time, newTokens ...*store.OAuthToken) (*store.OAuthGrant, error) {
	t = pgTime(t)
	var (
		g      *store.OAuthGrant
		reused bool
	)
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		reused = false
		peek, err := getOAuthToken(ctx, tx, digest, false)
		if err != nil {
			return err
		}
		// Every write to a grant's tokens locks the grant first, so a rotation and a
		// revocation of one grant queue instead of deadlocking; the token is read again
		// under that lock, so a second rotation of it sees the first.
		if g, err = getOAuthGrant(ctx, tx, peek.GrantID, true); err != nil {
			return store.ErrNotFound
		}
		old, err := getOAuthToken(ctx, tx, digest, true)
		if err != nil || !old.Refresh || old.GrantID != g.ID {
			return store.ErrNotFound
		}
		if old.RotatedAt != nil {
			reused = true
			if g.RevokedAt == nil {
				return revokeOAuthGrant(ctx, tx, g, t)
			}
			return nil
		}
		if !g.Live(t) || !t.Before(old.ExpiresAt) {
			return store.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `UPDATE oauth_tokens SET rotated_at = $2 WHERE digest = $1`, digest, t); err != nil {
			return fmt.Errorf("postgres: mark refresh token rotated: %w", err)
		}
		// Expired tokens go; rotated refresh tokens stay until they expire, so their
		// reuse is still recognised.
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_tokens WHERE grant_id = $1 AND expires_at <= $2`, g.ID, t); err != nil {
			return fmt.Errorf("postgres: drop expired oauth tokens: %w", err)
		}
		if err := insertOAuthTokens(ctx, tx, g.ID, newTokens); err != nil {
			return err
		}
		for _, nt := range newTokens {
			if nt.Refresh {
				g.ExpiresAt = nt.ExpiresAt
			}
		}
		g.LastUsedAt = &t
		if _, err := tx.Exec(ctx, `UPDATE oauth_grants SET expires_at = $2, last_used_at = $3 WHERE id = $1`,
			g.ID, g.ExpiresAt, t); err != nil {
			return fmt.Errorf("postgres: update oauth grant: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE oauth_clients SET last_used_at = $2 WHERE id = $1`, g.ClientID, t); err != nil {
			return fmt.Errorf("postgres: mark oauth client used: %w", err)
		}
		return BumpEpoch(ctx, tx, EpochAuth)
	})
	if err != nil {
		return nil, err
	}
	if reused {
		return g, store.ErrRefreshReused
	}
	return g, nil
}

// revokeOAuthGrant ends g (locked by the caller) and deletes its tokens.
func revokeOAuthGrant(ctx context.Context, tx pgx.Tx, g *store.OAuthGrant, t time.Time) error {
	t = pgTime(t.UTC())
	g.RevokedAt = &t
	if _, err := tx.Exec(ctx, `UPDATE oauth_grants SET revoked_at = $2 WHERE id = $1`, g.ID, t); err != nil {
		return fmt.Errorf("postgres: revoke oauth grant %s: %w", g.ID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM oauth_tokens WHERE grant_id = $1`, g.ID); err != nil {
		return fmt.Errorf("postgres: delete tokens of oauth grant %s: %w", g.ID, err)
	}
	return BumpEpoch(ctx, tx, EpochAuth)
}

// RevokeOAuthGrant ends grant id and deletes its tokens; revoking a revoked grant is
// a no-op that returns it.
func (s *Store) RevokeOAuthGrant(ctx context.Context, id string, t time.Time) (*store.OAuthGrant, error) {
	var g *store.OAuthGrant
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if g, err = getOAuthGrant(ctx, tx, id, true); err != nil {
			return err
		}
		if g.RevokedAt != nil {
			return nil
		}
		return revokeOAuthGrant(ctx, tx, g, t)
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// ListOAuthGrants returns the live grants matching f at t, newest first.
func (s *Store) ListOAuthGrants(ctx context.Context, f store.OAuthGrantFilter, t time.Time) ([]*store.OAuthGrant, error) {
	var (
		where string
		args  []any
	)
	switch {
	case f.WorkspaceID != "":
		where, args = `workspace_id = $1 AND ($2 = '' OR user_id = $2)`, []any{f.WorkspaceID, f.UserID}
	case f.UserID != "":
		where, args = `user_id = $1`, []any{f.UserID}
	default:
		return nil, nil // bbolt lists by one of the two indexes; an empty filter names none
	}
	// Ids are ULIDs: newest first is descending id.
	rows, err := s.pool.Query(ctx, oauthGrantSelect+`WHERE `+where+fmt.Sprintf(
		` AND revoked_at IS NULL AND expires_at > $%d ORDER BY id DESC`, len(args)+1), append(args, t)...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list oauth grants: %w", err)
	}
	defer rows.Close()
	var out []*store.OAuthGrant
	for rows.Next() {
		g, err := scanOAuthGrant(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list oauth grants: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list oauth grants: %w", err)
	}
	return out, nil
}

// SetOAuthGrantsLastUsed records when grants were last used (batched by the
// resolver).
func (s *Store) SetOAuthGrantsLastUsed(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	ids, ats := make([]string, 0, len(used)), make([]time.Time, 0, len(used))
	for id, t := range used {
		ids, ats = append(ids, id), append(ats, t)
	}
	// No epoch: when a grant was last used decides nothing.
	return s.InTx(ctx, func(tx pgx.Tx) error {
		// Rows are locked in id order, so batches from two replicas cannot deadlock.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM oauth_grants WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return fmt.Errorf("postgres: lock oauth grants for last use: %w", err)
		}
		_, err := tx.Exec(ctx, `UPDATE oauth_grants g SET last_used_at = u.at
			FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
			WHERE g.id = u.id AND (g.last_used_at IS NULL OR g.last_used_at < u.at)`, ids, ats)
		if err != nil {
			return fmt.Errorf("postgres: set oauth grants last used: %w", err)
		}
		return nil
	})
}

// OAuthClient returns the client with id.
func (r *reader) OAuthClient(id string) (*store.OAuthClient, error) {
	return getOAuthClient(r.ctx, r.tx, id)
}

// OAuthGrant returns the grant with id.
func (r *reader) OAuthGrant(id string) (*store.OAuthGrant, error) {
	return getOAuthGrant(r.ctx, r.tx, id, false)
}

// OAuthToken returns the token stored under digest.
func (r *reader) OAuthToken(digest []byte) (*store.OAuthToken, error) {
	return getOAuthToken(r.ctx, r.tx, digest, false)
}

// ListOAuthClients returns every registered client, in id order.
func (s *Store) ListOAuthClients(ctx context.Context) ([]*store.OAuthClient, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, redirect_uris, created_at, last_used_at FROM oauth_clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list oauth clients: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.OAuthClient, error) {
		c := new(store.OAuthClient)
		if err := row.Scan(&c.ID, &c.Name, &c.RedirectURIs, &c.CreatedAt, &c.LastUsedAt); err != nil {
			return nil, err
		}
		c.CreatedAt, c.LastUsedAt = c.CreatedAt.UTC(), c.LastUsedAt.UTC()
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list oauth clients: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// EachOAuthGrant calls fn with every grant and its tokens, in id order, a page at a
// time (keyset) outside any transaction; see store.OAuth.
func (s *Store) EachOAuthGrant(ctx context.Context, fn func(g *store.OAuthGrant, tokens []*store.OAuthToken) error) error {
	after := ""
	for {
		var (
			page []*store.OAuthGrant
			toks = map[string][]*store.OAuthToken{}
		)
		// One snapshot per page, so a grant and its tokens agree.
		err := s.View(ctx, func(r store.Reader) error {
			tx := r.(*reader).tx
			rows, err := tx.Query(ctx, oauthGrantSelect+`WHERE id > $1 ORDER BY id LIMIT $2`, after, eachPage)
			if err != nil {
				return err
			}
			if page, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.OAuthGrant, error) { return scanOAuthGrant(row) }); err != nil {
				return err
			}
			ids := make([]string, len(page))
			for i, g := range page {
				ids[i] = g.ID
			}
			rows, err = tx.Query(ctx, `SELECT digest, grant_id, refresh, expires_at, rotated_at FROM oauth_tokens
				WHERE grant_id = ANY($1) ORDER BY grant_id, digest`, ids)
			if err != nil {
				return err
			}
			_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
				t := new(store.OAuthToken)
				if err := row.Scan(&t.Digest, &t.GrantID, &t.Refresh, &t.ExpiresAt, &t.RotatedAt); err != nil {
					return struct{}{}, err
				}
				t.ExpiresAt, t.RotatedAt = t.ExpiresAt.UTC(), utcPtr(t.RotatedAt)
				toks[t.GrantID] = append(toks[t.GrantID], t)
				return struct{}{}, nil
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: list oauth grants: %w", err)
		}
		for _, g := range page {
			if err := fn(g, toks[g.ID]); err != nil {
				return err
			}
		}
		if len(page) < eachPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// PutOAuthGrant stores g with exactly tokens as they are; see store.OAuth.
func (s *Store) PutOAuthGrant(ctx context.Context, g *store.OAuthGrant, tokens ...*store.OAuthToken) error {
	if err := g.Check(); err != nil {
		return err
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO oauth_grants (id, client_id, client_name, redirect_host, user_id, workspace_id,
			workflows, level, resource, created_at, last_used_at, revoked_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, client_name = excluded.client_name,
				redirect_host = excluded.redirect_host, user_id = excluded.user_id, workspace_id = excluded.workspace_id,
				workflows = excluded.workflows, level = excluded.level, resource = excluded.resource,
				created_at = excluded.created_at, last_used_at = excluded.last_used_at, revoked_at = excluded.revoked_at,
				expires_at = excluded.expires_at`,
			g.ID, g.ClientID, g.ClientName, g.RedirectHost, g.UserID, g.WorkspaceID, orEmpty(g.Workflows),
			string(g.Level), g.Resource, g.CreatedAt, g.LastUsedAt, g.RevokedAt, g.ExpiresAt)
		if err != nil {
			return fmt.Errorf("postgres: put oauth grant %q: %w", g.ID, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_tokens WHERE grant_id = $1`, g.ID); err != nil {
			return fmt.Errorf("postgres: replace tokens of oauth grant %q: %w", g.ID, err)
		}
		if err := insertOAuthTokens(ctx, tx, g.ID, tokens); err != nil {
			return err
		}
		return BumpEpoch(ctx, tx, EpochAuth)
	})
}
