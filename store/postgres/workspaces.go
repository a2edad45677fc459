package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

const wsCols = `id, name, owner_id, COALESCE(org_id, ''), allow_personal_keys, max_key_lifetime, created_at`

func scanWorkspace(r pgx.Row) (*store.Workspace, error) {
	ws := new(store.Workspace)
	var maxLife int64
	if err := r.Scan(&ws.ID, &ws.Name, &ws.OwnerID, &ws.OrgID, &ws.AllowPersonalKeys, &maxLife, &ws.CreatedAt); err != nil {
		return nil, err
	}
	ws.MaxKeyLifetime = time.Duration(maxLife)
	ws.CreatedAt = ws.CreatedAt.UTC()
	return ws, nil
}

// getWorkspace reads one workspace. lock takes its row for the rest of a write
// transaction: every change to a workspace's members, owner or organization takes it
// first, so the billing-owner rule and the grant cleanup see what will be committed.
func getWorkspace(ctx context.Context, q dbtx, id string, lock bool) (*store.Workspace, error) {
	sql := `SELECT ` + wsCols + ` FROM workspaces WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	return queryOne(ctx, q, "workspace", id, scanWorkspace, sql, id)
}

func listWorkspaces(ctx context.Context, q dbtx) ([]*store.Workspace, error) {
	return queryList(ctx, q, "workspaces", scanWorkspace, `SELECT `+wsCols+` FROM workspaces ORDER BY id COLLATE "C"`)
}

// CreateWorkspace stores a new workspace. Its owner (the billing owner) becomes an admin
// member in the same transaction.
func (s *Store) CreateWorkspace(ctx context.Context, ws *store.Workspace) error {
	if err := ws.CheckName(); err != nil {
		return err
	}
	if ws.ID == "" {
		ws.ID = store.NewID()
	}
	if ws.CreatedAt.IsZero() {
		ws.CreatedAt = time.Now().UTC()
	}
	ws.CreatedAt = pgTime(ws.CreatedAt)
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := getUser(ctx, tx, ws.OwnerID, false); err != nil {
			return fmt.Errorf("workspace owner: %w", err)
		}
		if ws.OrgID != "" {
			if _, err := getOrg(ctx, tx, ws.OrgID, false); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO workspaces (id, name, owner_id, org_id, allow_personal_keys, max_key_lifetime, created_at)
			VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, $7)`,
			ws.ID, ws.Name, ws.OwnerID, ws.OrgID, ws.AllowPersonalKeys, int64(ws.MaxKeyLifetime), ws.CreatedAt)
		if isUnique(err) {
			return fmt.Errorf("workspace %q: %w", ws.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: create workspace: %w", err)
		}
		return setWorkspaceMember(ctx, tx, ws.ID, ws.OwnerID, store.LevelAdmin)
	})
}

// UpdateWorkspace applies fn to the stored workspace and saves it, keeping invariants:
// the billing owner must be an admin member, and moving the workspace out of its
// organization deletes, in the same transaction, every organization-key grant that
// targets the workspace or any of its workflows.
func (s *Store) UpdateWorkspace(ctx context.Context, id string, fn func(ws *store.Workspace) error) (*store.Workspace, error) {
	var out *store.Workspace
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		ws, err := getWorkspace(ctx, tx, id, true)
		if err != nil {
			return err
		}
		old := *ws
		if err := fn(ws); err != nil {
			return err
		}
		err = ws.CheckUpdate(&old, func(userID string) (store.Level, error) {
			return membership(ctx, tx, id, userID)
		})
		if err != nil {
			return err
		}
		if ws.OrgID != old.OrgID {
			if ws.OrgID != "" {
				if _, err := getOrg(ctx, tx, ws.OrgID, false); err != nil {
					return err
				}
			}
			if old.OrgID != "" {
				if err := deleteWorkspaceGrants(ctx, tx, id); err != nil {
					return err
				}
			}
		}
		ws.CreatedAt = pgTime(ws.CreatedAt)
		_, err = tx.Exec(ctx, `UPDATE workspaces SET name = $2, owner_id = $3, org_id = NULLIF($4, ''),
			allow_personal_keys = $5, max_key_lifetime = $6, created_at = $7 WHERE id = $1`,
			id, ws.Name, ws.OwnerID, ws.OrgID, ws.AllowPersonalKeys, int64(ws.MaxKeyLifetime), ws.CreatedAt)
		if err != nil {
			return fmt.Errorf("postgres: update workspace %q: %w", id, err)
		}
		if err := BumpEpoch(ctx, tx, EpochAuth); err != nil {
			return err
		}
		out = ws
		return nil
	})
	return out, err
}

// deleteWorkspaceGrants drops every organization-key grant that targets the workspace or
// one of its workflows (the key tables are the keys domain's; this invariant is the
// workspace's). The caller holds the workspace's row lock.
func deleteWorkspaceGrants(ctx context.Context, tx pgx.Tx, wsID string) error {
	_, err := tx.Exec(ctx, `DELETE FROM key_grants
		WHERE target_id = $1 OR target_id IN (SELECT id FROM workflows WHERE workspace_id = $1)`, wsID)
	if err != nil {
		return fmt.Errorf("postgres: delete grants on workspace %q: %w", wsID, err)
	}
	return nil
}

// SetWorkspaceMember adds userID to the workspace or changes their permission.
func (s *Store) SetWorkspaceMember(ctx context.Context, wsID, userID string, perm store.Level) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		ws, err := getWorkspace(ctx, tx, wsID, true)
		if err != nil {
			return err
		}
		if _, err := getUser(ctx, tx, userID, false); err != nil {
			return err
		}
		if err := ws.CheckMember(userID, perm); err != nil {
			return err
		}
		return setWorkspaceMember(ctx, tx, wsID, userID, perm)
	})
}

// RemoveWorkspaceMember removes userID from the workspace; the billing owner cannot be
// removed.
func (s *Store) RemoveWorkspaceMember(ctx context.Context, wsID, userID string) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		ws, err := getWorkspace(ctx, tx, wsID, true)
		if err != nil {
			return err
		}
		if err := ws.CheckRemoveMember(userID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2`, wsID, userID)
		if err != nil {
			return fmt.Errorf("postgres: remove workspace member: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("workspace member", userID)
		}
		return BumpEpoch(ctx, tx, EpochAuth)
	})
}

// setWorkspaceMember writes a membership and bumps the auth epoch; the caller checked
// the rest.
func setWorkspaceMember(ctx context.Context, tx pgx.Tx, wsID, userID string, perm store.Level) error {
	if err := store.CheckPermission(perm); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id, permission) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id, user_id) DO UPDATE SET permission = EXCLUDED.permission`, wsID, userID, string(perm))
	if err != nil {
		return fmt.Errorf("postgres: set workspace member: %w", err)
	}
	return BumpEpoch(ctx, tx, EpochAuth)
}

func membership(ctx context.Context, q dbtx, wsID, userID string) (store.Level, error) {
	var perm string
	err := q.QueryRow(ctx, `SELECT permission FROM workspace_members WHERE workspace_id = $1 AND user_id = $2`, wsID, userID).Scan(&perm)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.LevelNone, nil
	}
	if err != nil {
		return store.LevelNone, fmt.Errorf("postgres: read workspace membership: %w", err)
	}
	return store.Level(perm), nil
}

// Workspace returns the workspace with id.
func (r *reader) Workspace(id string) (*store.Workspace, error) {
	return getWorkspace(r.ctx, r.tx, id, false)
}

// Workspaces lists every workspace, oldest first.
func (r *reader) Workspaces() ([]*store.Workspace, error) { return listWorkspaces(r.ctx, r.tx) }

// FindWorkspace returns the workspace named by id or by unique name.
func (r *reader) FindWorkspace(ref string) (*store.Workspace, error) {
	ws, err := r.Workspace(ref)
	if !errors.Is(err, store.ErrNotFound) {
		return ws, err
	}
	all, err := r.Workspaces()
	if err != nil {
		return nil, err
	}
	return store.FindByName(all, ref, "workspace", func(w *store.Workspace) string { return w.Name })
}

// Membership returns userID's permission in wsID, or LevelNone when not a member.
func (r *reader) Membership(wsID, userID string) (store.Level, error) {
	return membership(r.ctx, r.tx, wsID, userID)
}

// WorkspaceMembers lists the members of wsID, by user id.
func (r *reader) WorkspaceMembers(wsID string) ([]store.WorkspaceMember, error) {
	return queryList(r.ctx, r.tx, "workspace members", func(row pgx.Row) (m store.WorkspaceMember, err error) {
		err = row.Scan(&m.WorkspaceID, &m.UserID, &m.Permission)
		return m, err
	}, `SELECT workspace_id, user_id, permission FROM workspace_members WHERE workspace_id = $1 ORDER BY user_id COLLATE "C"`, wsID)
}

// UserWorkspaces lists the ids of the workspaces userID is a member of.
func (r *reader) UserWorkspaces(userID string) ([]string, error) {
	return queryList(r.ctx, r.tx, "user workspaces", scanString,
		`SELECT workspace_id FROM workspace_members WHERE user_id = $1 ORDER BY workspace_id COLLATE "C"`, userID)
}

// GetWorkspace returns the workspace with id.
func (s *Store) GetWorkspace(ctx context.Context, id string) (*store.Workspace, error) {
	return getWorkspace(ctx, s.pool, id, false)
}

// ListWorkspaces lists every workspace.
func (s *Store) ListWorkspaces(ctx context.Context) ([]*store.Workspace, error) {
	return listWorkspaces(ctx, s.pool)
}
