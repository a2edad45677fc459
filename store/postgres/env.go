package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

// Environment variables live in one table: a workspace's have user_id '', a user's
// personal ones workspace_id ''.

const envCols = `workspace_id, user_id, name, ciphertext, updated_at, updated_by`

func scanEnvVar(row pgx.Row) (*store.EnvVar, error) {
	v := new(store.EnvVar)
	if err := row.Scan(&v.WorkspaceID, &v.UserID, &v.Name, &v.Ciphertext, &v.UpdatedAt, &v.UpdatedBy); err != nil {
		return nil, err
	}
	v.UpdatedAt = v.UpdatedAt.UTC()
	return v, nil
}

// SetEnvVar stores (or replaces) a sealed environment variable: a workspace's when
// v.WorkspaceID is set, else v.UserID's personal one.
func (s *Store) SetEnvVar(ctx context.Context, v *store.EnvVar) error {
	if err := v.Check(); err != nil {
		return err
	}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = time.Now().UTC()
	}
	v.UpdatedAt = pgTime(v.UpdatedAt)
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if v.Personal() {
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE`, v.UserID).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("user", v.UserID)
			}
			if err != nil {
				return fmt.Errorf("postgres: read user %q: %w", v.UserID, err)
			}
		} else if err := lockWorkspaceKey(ctx, tx, v.WorkspaceID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO env_vars (`+envCols+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (workspace_id, user_id, name) DO UPDATE
			SET ciphertext = EXCLUDED.ciphertext, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
			v.WorkspaceID, v.UserID, v.Name, v.Ciphertext, v.UpdatedAt, v.UpdatedBy)
		if err != nil {
			return fmt.Errorf("postgres: set environment variable %q: %w", v.Name, err)
		}
		return BumpEpoch(ctx, tx, EpochConfig)
	})
}

// DeleteEnvVar removes a workspace environment variable; ErrNotFound when it is not set.
func (s *Store) DeleteEnvVar(ctx context.Context, wsID, name string) error {
	return s.deleteEnv(ctx, wsID, "", name)
}

// DeleteUserEnvVar removes a personal environment variable; ErrNotFound when it is not set.
func (s *Store) DeleteUserEnvVar(ctx context.Context, userID, name string) error {
	return s.deleteEnv(ctx, "", userID, name)
}

func (s *Store) deleteEnv(ctx context.Context, wsID, userID, name string) error {
	if wsID == "" && userID == "" {
		return notFound("environment variable", name)
	}
	return s.deleteConfig(ctx, "environment variable", name,
		`DELETE FROM env_vars WHERE workspace_id = $1 AND user_id = $2 AND name = $3`, wsID, userID, name)
}

// deleteConfig runs sql, which deletes the one row of what named id (environment
// variable, model provider, external MCP server), and moves the config epoch with it.
func (s *Store) deleteConfig(ctx context.Context, what, id, sql string, args ...any) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("postgres: delete %s %q: %w", what, id, err)
		}
		if tag.RowsAffected() == 0 {
			return notFound(what, id)
		}
		return BumpEpoch(ctx, tx, EpochConfig)
	})
}

// envVars lists one owner's variables by name in byte order, as bolt's keys sort.
func envVars(ctx context.Context, q dbtx, wsID, userID string) ([]*store.EnvVar, error) {
	if wsID == "" && userID == "" {
		return nil, nil
	}
	return queryList(ctx, q, "environment variables", scanEnvVar,
		`SELECT `+envCols+` FROM env_vars WHERE workspace_id = $1 AND user_id = $2 ORDER BY name COLLATE "C"`, wsID, userID)
}

// EnvVars lists the sealed environment variables of wsID, by name.
func (s *Store) EnvVars(ctx context.Context, wsID string) (out []*store.EnvVar, err error) {
	return envVars(ctx, s.pool, wsID, "")
}

// UserEnvVars lists userID's sealed personal environment variables, by name.
func (s *Store) UserEnvVars(ctx context.Context, userID string) (out []*store.EnvVar, err error) {
	return envVars(ctx, s.pool, "", userID)
}

// RunEnvVars reads, in one statement (one snapshot), what a run of a workflow in wsID
// started by userID (empty for keys that act for no user) sees: the workspace's variables
// and the user's personal ones.
func (s *Store) RunEnvVars(ctx context.Context, wsID, userID string) (ws, personal []*store.EnvVar, err error) {
	if userID == "" {
		ws, err = envVars(ctx, s.pool, wsID, "")
		return ws, nil, err
	}
	all, err := queryList(ctx, s.pool, "environment variables", scanEnvVar,
		`SELECT `+envCols+` FROM env_vars WHERE (workspace_id = $1 AND user_id = '' AND $1 <> '') OR (workspace_id = '' AND user_id = $2)
		ORDER BY name COLLATE "C"`, wsID, userID)
	if err != nil {
		return nil, nil, err
	}
	for _, v := range all {
		if v.Personal() {
			personal = append(personal, v)
		} else {
			ws = append(ws, v)
		}
	}
	return ws, personal, nil
}
