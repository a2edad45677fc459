package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

// lockWorkspaceDomain serializes, until tx ends, the writers of one workspace's records of
// one kind whose invariants span rows (unique names, one default), as bolt's single writer
// does. It takes no row lock, so nothing else about the workspace waits; a hash collision
// only makes two unrelated writers take turns.
func lockWorkspaceDomain(ctx context.Context, tx pgx.Tx, domain, wsID string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, domain+":"+wsID); err != nil {
		return fmt.Errorf("postgres: lock %s of %q: %w", domain, wsID, err)
	}
	return nil
}

// nameTaken reports whether one of the names sql selects (for $1 = wsID, $2 = the record's
// own id) equals name case-insensitively, compared in Go with strings.EqualFold as bolt
// does, whatever the database's ctype makes of lower(). Call it under lockWorkspaceDomain.
func nameTaken(ctx context.Context, tx pgx.Tx, sql, wsID, id, name string) (bool, error) {
	rows, err := tx.Query(ctx, sql, wsID, id)
	if err != nil {
		return false, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }), nil
}

const providerCols = `id, workspace_id, name, kind, base_url, default_model, models, is_default, timeout_ms, key_sealed, created_by, created_at, updated_at`

func scanProvider(row pgx.Row) (*store.ModelProvider, error) {
	p := new(store.ModelProvider)
	err := row.Scan(&p.ID, &p.WorkspaceID, &p.Name, &p.Kind, &p.BaseURL, &p.DefaultModel, &p.Models, &p.IsDefault, &p.TimeoutMs,
		&p.KeySealed, &p.CreatedBy, &p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if len(p.Models) == 0 {
		p.Models = nil // omitted when empty, as bolt's JSON decodes it
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// PutModelProvider creates or replaces a workspace's model provider. Names are unique
// within the workspace; one provider at most is the default (setting it clears the
// others).
func (s *Store) PutModelProvider(ctx context.Context, p *store.ModelProvider) error {
	if err := p.Check(); err != nil {
		return err
	}
	if p.ID == "" {
		p.ID = store.NewID()
	}
	t := pgTime(time.Now().UTC())
	if p.CreatedAt.IsZero() {
		p.CreatedAt = t
	}
	p.CreatedAt, p.UpdatedAt = pgTime(p.CreatedAt), t
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if err := lockWorkspaceKey(ctx, tx, p.WorkspaceID); err != nil {
			return err
		}
		if err := lockWorkspaceDomain(ctx, tx, "model_providers", p.WorkspaceID); err != nil {
			return err
		}
		taken, err := nameTaken(ctx, tx, `SELECT name FROM model_providers WHERE workspace_id = $1 AND id <> $2`, p.WorkspaceID, p.ID, p.Name)
		if err != nil {
			return fmt.Errorf("postgres: check model provider name: %w", err)
		}
		if taken {
			return fmt.Errorf("a model provider named %q already exists: %w", p.Name, store.ErrConflict)
		}
		if p.IsDefault {
			if _, err := tx.Exec(ctx, `UPDATE model_providers SET is_default = false WHERE workspace_id = $1 AND id <> $2 AND is_default`,
				p.WorkspaceID, p.ID); err != nil {
				return fmt.Errorf("postgres: clear default model provider: %w", err)
			}
		}
		models := p.Models
		if models == nil {
			models = []string{}
		}
		// An id is the provider's in one workspace only: a put naming another workspace's
		// provider changes nothing and conflicts.
		tag, err := tx.Exec(ctx, `INSERT INTO model_providers (`+providerCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, base_url = EXCLUDED.base_url,
				default_model = EXCLUDED.default_model, models = EXCLUDED.models, is_default = EXCLUDED.is_default,
				timeout_ms = EXCLUDED.timeout_ms, key_sealed = EXCLUDED.key_sealed, created_by = EXCLUDED.created_by,
				created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
			WHERE model_providers.workspace_id = EXCLUDED.workspace_id`,
			p.ID, p.WorkspaceID, p.Name, p.Kind, p.BaseURL, p.DefaultModel, models, p.IsDefault, p.TimeoutMs, p.KeySealed,
			p.CreatedBy, p.CreatedAt, p.UpdatedAt)
		if isUnique(err) || (err == nil && tag.RowsAffected() == 0) {
			return fmt.Errorf("model provider %q: %w", p.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: put model provider: %w", err)
		}
		return BumpEpoch(ctx, tx, EpochConfig)
	})
}

// ModelProviders lists the providers of wsID, oldest first.
func (s *Store) ModelProviders(ctx context.Context, wsID string) (out []*store.ModelProvider, err error) {
	return queryList(ctx, s.pool, "model providers", scanProvider,
		`SELECT `+providerCols+` FROM model_providers WHERE workspace_id = $1 ORDER BY created_at, id COLLATE "C"`, wsID)
}

// DeleteModelProvider removes provider id of wsID.
func (s *Store) DeleteModelProvider(ctx context.Context, wsID, id string) error {
	return s.deleteConfig(ctx, "model provider", id, `DELETE FROM model_providers WHERE workspace_id = $1 AND id = $2`, wsID, id)
}
