package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

// keySelect reads a key with its grants in one statement (one round trip on the
// resolver's cache-miss path): the grants come aggregated, ordered by target id as
// bbolt keys them.
const keySelect = `SELECT k.id, k.type, k.name, coalesce(k.user_id, ''), coalesce(k.workspace_id, ''),
	coalesce(k.org_id, ''), k.created_by, k.created_at, k.updated_at, k.expires_at, k.revoked_at,
	k.grace_until, k.rotated_to, k.last_used_at, k.last_used_via, k.suffix, k.digest, k.ciphertext,
	k.level, k.workflows, k.allowed_cidrs, k.rate_limit, g.types, g.ids, g.levels
FROM api_keys k
LEFT JOIN LATERAL (
	SELECT array_agg(target_type ORDER BY target_id) AS types, array_agg(target_id ORDER BY target_id) AS ids,
		array_agg(level ORDER BY target_id) AS levels
	FROM key_grants WHERE key_id = k.id
) g ON k.type = 'organization'
`

func scanKey(row pgx.Row) (*store.APIKey, error) {
	var (
		k                     store.APIKey
		typ, level            string
		gTypes, gIDs, gLevels []string
	)
	err := row.Scan(&k.ID, &typ, &k.Name, &k.UserID, &k.WorkspaceID, &k.OrgID, &k.CreatedBy,
		&k.CreatedAt, &k.UpdatedAt, &k.ExpiresAt, &k.RevokedAt, &k.GraceUntil, &k.RotatedTo,
		&k.LastUsedAt, &k.LastUsedVia, &k.Suffix, &k.Digest, &k.Ciphertext, &level, &k.Workflows,
		&k.AllowedCIDRs, &k.RateLimit, &gTypes, &gIDs, &gLevels)
	if err != nil {
		return nil, err
	}
	k.Type, k.Level = store.KeyType(typ), store.Level(level)
	k.CreatedAt, k.UpdatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC()
	k.ExpiresAt, k.RevokedAt, k.GraceUntil, k.LastUsedAt = utcPtr(k.ExpiresAt), utcPtr(k.RevokedAt), utcPtr(k.GraceUntil), utcPtr(k.LastUsedAt)
	// bbolt stores these omitempty: an empty list reads back as nil.
	if len(k.Workflows) == 0 {
		k.Workflows = nil
	}
	if len(k.AllowedCIDRs) == 0 {
		k.AllowedCIDRs = nil
	}
	for i := range gIDs {
		k.Grants = append(k.Grants, store.Grant{TargetType: store.TargetType(gTypes[i]), TargetID: gIDs[i], Level: store.Level(gLevels[i])})
	}
	return &k, nil
}

func queryKeys(ctx context.Context, q dbtx, sql string, args ...any) ([]*store.APIKey, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func getKey(ctx context.Context, q dbtx, id string, lock bool) (*store.APIKey, error) {
	sql := keySelect + `WHERE k.id = $1`
	if lock {
		sql += ` FOR UPDATE OF k`
	}
	k, err := scanKey(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("api key", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get api key %q: %w", id, err)
	}
	return k, nil
}

func listKeys(ctx context.Context, q dbtx, f store.KeyFilter) ([]*store.APIKey, error) {
	var (
		where []string
		args  []any
	)
	// Only the owner's column is set on a key, so the first owner named selects as
	// bbolt's owner index does.
	if owner := cmp.Or(f.UserID, f.WorkspaceID, f.OrgID); owner != "" {
		args = append(args, owner)
		where = append(where, `(k.user_id = $1 OR k.workspace_id = $1 OR k.org_id = $1)`)
	}
	if f.Type != "" {
		args = append(args, string(f.Type))
		where = append(where, fmt.Sprintf(`k.type = $%d`, len(args)))
	}
	if !f.IncludeRevoked {
		where = append(where, `k.revoked_at IS NULL`)
	}
	sql := keySelect
	if len(where) > 0 {
		sql += `WHERE ` + strings.Join(where, ` AND `)
	}
	sql += ` ORDER BY k.created_at, k.id`
	ks, err := queryKeys(ctx, q, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list api keys: %w", err)
	}
	return ks, nil
}

// nullIfEmpty stores an unset owner column as NULL, so the partial owner indexes hold
// only the keys they own.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orEmpty(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// CreateKey stores a new key with its grants and indexes. Names are 1–100 characters and
// unique among the owner's live keys (ErrConflict). An organization key needs at least
// one grant, each targeting a workspace of that organization or one of its workflows.
func (s *Store) CreateKey(ctx context.Context, k *store.APIKey) error {
	return s.InTx(ctx, func(tx pgx.Tx) error { return createKey(ctx, tx, k, false) })
}

// createKey is CreateKey inside tx; rotating keeps deleted workflows in a successor's
// narrowing list (dropping one could empty the list, which would widen the key).
func createKey(ctx context.Context, tx pgx.Tx, k *store.APIKey, rotating bool) error {
	if k.ID == "" {
		k.ID = store.NewID()
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = pgTime(time.Now().UTC())
	}
	k.UpdatedAt = k.CreatedAt
	if err := validateKey(ctx, tx, k, rotating); err != nil {
		return err
	}
	if err := k.CheckSecret(); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, type, name, user_id, workspace_id, org_id, created_by,
		created_at, updated_at, expires_at, revoked_at, grace_until, rotated_to, last_used_at, last_used_via,
		suffix, digest, ciphertext, level, workflows, allowed_cidrs, rate_limit)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
		k.ID, string(k.Type), k.Name, nullIfEmpty(k.UserID), nullIfEmpty(k.WorkspaceID), nullIfEmpty(k.OrgID),
		k.CreatedBy, k.CreatedAt, k.UpdatedAt, k.ExpiresAt, k.RevokedAt, k.GraceUntil, k.RotatedTo, k.LastUsedAt,
		k.LastUsedVia, k.Suffix, k.Digest, k.Ciphertext, string(k.Level), orEmpty(k.Workflows),
		orEmpty(k.AllowedCIDRs), k.RateLimit)
	if isUnique(err) {
		return fmt.Errorf("key digest or id: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: insert api key: %w", err)
	}
	if err := insertGrants(ctx, tx, k.ID, k.Grants); err != nil {
		return err
	}
	return BumpEpoch(ctx, tx, EpochAuth)
}

// insertGrants stores grants, one per target (a later grant on the same target wins, as
// in bbolt, where the target is the grant's key).
func insertGrants(ctx context.Context, tx pgx.Tx, keyID string, grants []store.Grant) error {
	if len(grants) == 0 {
		return nil
	}
	last := make(map[string]store.Grant, len(grants))
	var order []string
	for _, g := range grants {
		if _, seen := last[g.TargetID]; !seen {
			order = append(order, g.TargetID)
		}
		last[g.TargetID] = g
	}
	types, ids, levels := make([]string, 0, len(order)), make([]string, 0, len(order)), make([]string, 0, len(order))
	for _, id := range order {
		g := last[id]
		types, ids, levels = append(types, string(g.TargetType)), append(ids, id), append(levels, string(g.Level))
	}
	_, err := tx.Exec(ctx, `INSERT INTO key_grants (key_id, target_type, target_id, level)
		SELECT $1, t, i, l FROM unnest($2::text[], $3::text[], $4::text[]) AS u(t, i, l)`,
		keyID, types, ids, levels)
	if err != nil {
		return fmt.Errorf("postgres: insert grants of key %s: %w", keyID, err)
	}
	return nil
}

// validateKey checks k with store.ValidateKey. Rows it depends on are locked for the
// rest of the transaction: the owner against deletion, grant targets against leaving the
// organization (FOR SHARE makes such a move wait for this commit, or this check see the
// move), and the owner's key names through an advisory lock, so two transactions cannot
// both take one name.
func validateKey(ctx context.Context, tx pgx.Tx, k *store.APIKey, rotating bool) error {
	return store.ValidateKey(k, rotating, keyRefs{ctx, tx})
}

// keyRefs answers store.ValidateKey and store.ValidateGrants inside tx.
type keyRefs struct {
	ctx context.Context
	tx  pgx.Tx
}

func (r keyRefs) KeyOwner(t store.KeyType, id string) error {
	switch t {
	case store.KeyPersonal:
		return rowExists(r.ctx, r.tx, "users", "user", id)
	case store.KeyWorkspace:
		return rowExists(r.ctx, r.tx, "workspaces", "workspace", id)
	}
	return rowExists(r.ctx, r.tx, "orgs", "organization", id)
}

func (r keyRefs) WorkflowWorkspace(id string) (string, error) {
	return workflowWorkspace(r.ctx, r.tx, id)
}

func (r keyRefs) WorkspaceOrg(id string) (string, error) {
	var wsOrg string
	err := r.tx.QueryRow(r.ctx, `SELECT coalesce(org_id, '') FROM workspaces WHERE id = $1 FOR SHARE`, id).Scan(&wsOrg)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", notFound("workspace", id)
	}
	if err != nil {
		return "", fmt.Errorf("postgres: read workspace %q: %w", id, err)
	}
	return wsOrg, nil
}

func (r keyRefs) KeyNameTaken(owner, keyID, name string) (bool, error) {
	if _, err := r.tx.Exec(r.ctx, `SELECT pg_advisory_xact_lock(hashtextextended('api_keys owner ' || $1, 0))`, owner); err != nil {
		return false, fmt.Errorf("postgres: lock key names of %s: %w", owner, err)
	}
	var taken bool
	err := r.tx.QueryRow(r.ctx, `SELECT EXISTS (SELECT 1 FROM api_keys
		WHERE (user_id = $1 OR workspace_id = $1 OR org_id = $1) AND id <> $2 AND revoked_at IS NULL AND name = $3)`,
		owner, keyID, name).Scan(&taken)
	if err != nil {
		return false, fmt.Errorf("postgres: check key name: %w", err)
	}
	return taken, nil
}

// rowExists checks that the row exists and keeps it from being deleted
// until the transaction ends.
func rowExists(ctx context.Context, tx pgx.Tx, table, kind, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = $1 FOR KEY SHARE`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(kind, id)
	}
	if err != nil {
		return fmt.Errorf("postgres: read %s %q: %w", kind, id, err)
	}
	return nil
}

func workflowWorkspace(ctx context.Context, tx pgx.Tx, id string) (string, error) {
	var wsID string
	err := tx.QueryRow(ctx, `SELECT workspace_id FROM workflows WHERE id = $1 FOR SHARE`, id).Scan(&wsID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", notFound("workflow", id)
	}
	if err != nil {
		return "", fmt.Errorf("postgres: read workflow %q: %w", id, err)
	}
	return wsID, nil
}

// SetKeyGrants replaces an organization key's grants.
func (s *Store) SetKeyGrants(ctx context.Context, keyID string, grants []store.Grant) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		k, err := getKey(ctx, tx, keyID, true)
		if err != nil {
			return err
		}
		if err := k.CheckGrants(grants, keyRefs{ctx, tx}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM key_grants WHERE key_id = $1`, keyID); err != nil {
			return fmt.Errorf("postgres: delete grants of key %s: %w", keyID, err)
		}
		if err := insertGrants(ctx, tx, keyID, grants); err != nil {
			return err
		}
		return BumpEpoch(ctx, tx, EpochAuth)
	})
}

// saveKey writes every column of an existing key but its grants, which live in their
// own table (bbolt's putKey).
func saveKey(ctx context.Context, tx pgx.Tx, k *store.APIKey) error {
	_, err := tx.Exec(ctx, `UPDATE api_keys SET type = $2, name = $3, user_id = $4, workspace_id = $5, org_id = $6,
		created_by = $7, created_at = $8, updated_at = $9, expires_at = $10, revoked_at = $11, grace_until = $12,
		rotated_to = $13, last_used_at = $14, last_used_via = $15, suffix = $16, digest = $17, ciphertext = $18,
		level = $19, workflows = $20, allowed_cidrs = $21, rate_limit = $22
		WHERE id = $1`,
		k.ID, string(k.Type), k.Name, nullIfEmpty(k.UserID), nullIfEmpty(k.WorkspaceID), nullIfEmpty(k.OrgID),
		k.CreatedBy, k.CreatedAt, k.UpdatedAt, k.ExpiresAt, k.RevokedAt, k.GraceUntil, k.RotatedTo, k.LastUsedAt,
		k.LastUsedVia, k.Suffix, k.Digest, k.Ciphertext, string(k.Level), orEmpty(k.Workflows),
		orEmpty(k.AllowedCIDRs), k.RateLimit)
	if err != nil {
		return fmt.Errorf("postgres: save api key %s: %w", k.ID, err)
	}
	return nil
}

// UpdateKey applies fn to a key's mutable fields (name, expiry, allowlist, rate limit)
// and saves it.
func (s *Store) UpdateKey(ctx context.Context, id string, fn func(k *store.APIKey) error) (*store.APIKey, error) {
	var out *store.APIKey
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		k, err := getKey(ctx, tx, id, true)
		if err != nil {
			return err
		}
		keep := *k
		if err := fn(k); err != nil {
			return err
		}
		k.KeepFixed(&keep)
		if err := validateKey(ctx, tx, k, false); err != nil {
			return err
		}
		k.UpdatedAt = pgTime(time.Now().UTC())
		if err := saveKey(ctx, tx, k); err != nil {
			return err
		}
		out = k
		return BumpEpoch(ctx, tx, EpochAuth)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeKey marks a key revoked; it stops resolving on the next request.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) (*store.APIKey, error) {
	var out *store.APIKey
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		k, err := getKey(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if k.RevokedAt == nil {
			t := pgTime(at.UTC())
			k.RevokedAt = &t
			k.UpdatedAt = t
			if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $2, updated_at = $2 WHERE id = $1`, id, t); err != nil {
				return fmt.Errorf("postgres: revoke api key %s: %w", id, err)
			}
		}
		out = k
		return BumpEpoch(ctx, tx, EpochAuth)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RotateKey creates newKey as the successor of oldID, which keeps working until
// graceUntil (a past time ends it at once; the caller's clock decides). Both happen in one transaction.
// The successor inherits the owner, scope, allowlist and rate limit; its expiry is the
// caller's (newKey.ExpiresAt), since the lifetime policy lives above the store.
func (s *Store) RotateKey(ctx context.Context, oldID string, newKey *store.APIKey, graceUntil time.Time) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		// The row lock makes a second rotation of the same key wait, then see RotatedTo.
		old, err := getKey(ctx, tx, oldID, true)
		if err != nil {
			return err
		}
		if err := old.Rotate(newKey, pgTime(graceUntil.UTC()), pgTime(time.Now().UTC())); err != nil {
			return err
		}
		if err := saveKey(ctx, tx, old); err != nil {
			return err
		}
		return createKey(ctx, tx, newKey, true)
	})
}

// GetKey returns the key with id.
func (s *Store) GetKey(ctx context.Context, id string) (*store.APIKey, error) {
	return getKey(ctx, s.pool, id, false)
}

// ListKeys lists keys matching f.
func (s *Store) ListKeys(ctx context.Context, f store.KeyFilter) ([]*store.APIKey, error) {
	return listKeys(ctx, s.pool, f)
}

// OrgKeysReachingWorkspace lists the live organization keys with a grant on the
// workspace or on one of its workflows, each with all of its grants.
func (s *Store) OrgKeysReachingWorkspace(ctx context.Context, wsID string) ([]*store.APIKey, error) {
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM workspaces WHERE id = $1`, wsID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("workspace", wsID)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read workspace %q: %w", wsID, err)
	}
	// The workspace's organization, its workflows and the grants in one statement, so
	// one snapshot.
	ks, err := queryKeys(ctx, s.pool, keySelect+`
		JOIN workspaces w ON w.id = $1 AND w.org_id = k.org_id
		WHERE k.type = 'organization' AND k.revoked_at IS NULL AND EXISTS (
			SELECT 1 FROM key_grants kg WHERE kg.key_id = k.id AND (kg.target_id = $1
				OR kg.target_id IN (SELECT wf.id FROM workflows wf WHERE wf.workspace_id = $1)))
		ORDER BY k.created_at, k.id`, wsID)
	if err != nil {
		return nil, fmt.Errorf("postgres: org keys reaching workspace %s: %w", wsID, err)
	}
	return ks, nil
}

// SetKeysLastUsed records last-used times in one transaction. It does not change any
// access decision, so the auth epoch stays as it is and warm caches survive.
func (s *Store) SetKeysLastUsed(ctx context.Context, used map[string]store.LastUsed) error {
	if len(used) == 0 {
		return nil
	}
	ids, ats, vias := make([]string, 0, len(used)), make([]time.Time, 0, len(used)), make([]string, 0, len(used))
	for id, u := range used {
		ids, ats, vias = append(ids, id), append(ats, u.At.UTC()), append(vias, u.Via)
	}
	// No epoch: when a key was last used decides nothing.
	return s.InTx(ctx, func(tx pgx.Tx) error {
		// Rows are locked in id order, so batches from two replicas cannot deadlock.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM api_keys WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return fmt.Errorf("postgres: lock keys for last use: %w", err)
		}
		// Keys deleted since have nothing to record; a time never moves back.
		_, err := tx.Exec(ctx, `UPDATE api_keys k SET last_used_at = u.at, last_used_via = u.via
			FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS u(id, at, via)
			WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`, ids, ats, vias)
		if err != nil {
			return fmt.Errorf("postgres: set keys last used: %w", err)
		}
		return nil
	})
}

// Key returns the key with id, grants included.
func (r *reader) Key(id string) (*store.APIKey, error) { return getKey(r.ctx, r.tx, id, false) }

// KeyByDigest returns the key whose HMAC digest is d: one indexed lookup (api_keys_digest)
// with the grants aggregated in the same statement.
func (r *reader) KeyByDigest(d []byte) (*store.APIKey, error) {
	k, err := scanKey(r.tx.QueryRow(r.ctx, keySelect+`WHERE k.digest = $1`, d))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: api key by digest: %w", err)
	}
	return k, nil
}

// Grants lists an organization key's grants.
func (r *reader) Grants(keyID string) ([]store.Grant, error) {
	rows, err := r.tx.Query(r.ctx, `SELECT target_type, target_id, level FROM key_grants WHERE key_id = $1 ORDER BY target_id`, keyID)
	if err != nil {
		return nil, fmt.Errorf("postgres: grants of key %s: %w", keyID, err)
	}
	defer rows.Close()
	var out []store.Grant
	for rows.Next() {
		var typ, id, level string
		if err := rows.Scan(&typ, &id, &level); err != nil {
			return nil, fmt.Errorf("postgres: grants of key %s: %w", keyID, err)
		}
		out = append(out, store.Grant{TargetType: store.TargetType(typ), TargetID: id, Level: store.Level(level)})
	}
	return out, rows.Err()
}

// KeysTargeting lists the ids of organization keys with a grant on targetID.
func (r *reader) KeysTargeting(targetID string) ([]string, error) {
	rows, err := r.tx.Query(r.ctx, `SELECT key_id FROM key_grants WHERE target_id = $1 ORDER BY key_id`, targetID)
	if err != nil {
		return nil, fmt.Errorf("postgres: keys targeting %s: %w", targetID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: keys targeting %s: %w", targetID, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}

// Keys lists keys matching f, oldest first.
func (r *reader) Keys(f store.KeyFilter) ([]*store.APIKey, error) { return listKeys(r.ctx, r.tx, f) }
