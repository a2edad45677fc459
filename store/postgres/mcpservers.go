package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

const mcpServerCols = `id, workspace_id, name, description, workflow_ids, created_by, created_at, updated_at`

func scanMCPServer(row pgx.Row) (*store.MCPServer, error) {
	m := new(store.MCPServer)
	if err := row.Scan(&m.ID, &m.WorkspaceID, &m.Name, &m.Description, &m.WorkflowIDs, &m.CreatedBy, &m.CreatedAt, &m.UpdatedAt); err != nil {
		return nil, err
	}
	if m.WorkflowIDs == nil {
		m.WorkflowIDs = []string{} // clients read workflowIds as an array, as bolt stores it
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, nil
}

func getMCPServer(ctx context.Context, q dbtx, id string, lock bool) (*store.MCPServer, error) {
	sql := `SELECT ` + mcpServerCols + ` FROM mcp_servers WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	return queryOne(ctx, q, "mcp server", id, scanMCPServer, sql, id)
}

// validateMCPServer checks m as bolt does: a name, an existing workspace, and workflows of
// that workspace only. The workflows stay (KEY SHARE) until the transaction ends.
func validateMCPServer(ctx context.Context, tx pgx.Tx, m *store.MCPServer) error {
	if err := m.CheckName(); err != nil {
		return err
	}
	if err := lockWorkspaceKey(ctx, tx, m.WorkspaceID); err != nil {
		return err
	}
	if m.WorkflowIDs == nil {
		m.WorkflowIDs = []string{}
	}
	if len(m.WorkflowIDs) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id, workspace_id FROM workflows WHERE id = ANY($1) FOR KEY SHARE`, m.WorkflowIDs)
	if err != nil {
		return fmt.Errorf("postgres: read workflows of MCP server: %w", err)
	}
	wsOf := map[string]string{}
	var id, ws string
	_, err = pgx.ForEachRow(rows, []any{&id, &ws}, func() error { wsOf[id] = ws; return nil })
	if err != nil {
		return fmt.Errorf("postgres: read workflows of MCP server: %w", err)
	}
	for _, id := range m.WorkflowIDs {
		ws, ok := wsOf[id]
		if !ok {
			return notFound("workflow", id)
		}
		if ws != m.WorkspaceID {
			return invalid("workflow %s is not in workspace %s", id, m.WorkspaceID)
		}
	}
	return nil
}

// CreateMCPServer stores a named set of workflows of one workspace.
func (s *Store) CreateMCPServer(ctx context.Context, m *store.MCPServer) error {
	if m.ID == "" {
		m.ID = store.NewID()
	}
	t := pgTime(time.Now().UTC())
	m.CreatedAt, m.UpdatedAt = t, t
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if err := validateMCPServer(ctx, tx, m); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO mcp_servers (`+mcpServerCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			m.ID, m.WorkspaceID, m.Name, m.Description, m.WorkflowIDs, m.CreatedBy, m.CreatedAt, m.UpdatedAt)
		if isUnique(err) {
			return fmt.Errorf("mcp server %q: %w", m.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: create mcp server: %w", err)
		}
		return BumpEpoch(ctx, tx, EpochWorkflows)
	})
}

// UpdateMCPServer applies fn (name, description, workflow list) and saves the server.
func (s *Store) UpdateMCPServer(ctx context.Context, id string, fn func(m *store.MCPServer) error) (*store.MCPServer, error) {
	var out *store.MCPServer
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		m, err := getMCPServer(ctx, tx, id, true)
		if err != nil {
			return err
		}
		ws, created := m.WorkspaceID, m.CreatedAt
		if err := fn(m); err != nil {
			return err
		}
		m.ID, m.WorkspaceID, m.CreatedAt, m.UpdatedAt = id, ws, created, pgTime(time.Now().UTC())
		m.WorkflowIDs = slices.Compact(slices.Sorted(slices.Values(m.WorkflowIDs)))
		if err := validateMCPServer(ctx, tx, m); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE mcp_servers SET name = $2, description = $3, workflow_ids = $4, created_by = $5, updated_at = $6
			WHERE id = $1`, id, m.Name, m.Description, m.WorkflowIDs, m.CreatedBy, m.UpdatedAt)
		if err != nil {
			return fmt.Errorf("postgres: update mcp server %q: %w", id, err)
		}
		out = m
		return BumpEpoch(ctx, tx, EpochWorkflows)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteMCPServer removes an MCP server object.
func (s *Store) DeleteMCPServer(ctx context.Context, id string) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM mcp_servers WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("postgres: delete mcp server %q: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("mcp server", id)
		}
		return BumpEpoch(ctx, tx, EpochWorkflows)
	})
}

// GetMCPServer returns the MCP server object with id.
func (s *Store) GetMCPServer(ctx context.Context, id string) (m *store.MCPServer, err error) {
	return getMCPServer(ctx, s.pool, id, false)
}

// ListMCPServers lists the MCP server objects of wsID (all when empty), in id order.
func (s *Store) ListMCPServers(ctx context.Context, wsID string) (out []*store.MCPServer, err error) {
	if wsID == "" {
		return queryList(ctx, s.pool, "mcp servers", scanMCPServer, `SELECT `+mcpServerCols+` FROM mcp_servers ORDER BY id COLLATE "C"`)
	}
	return queryList(ctx, s.pool, "mcp servers", scanMCPServer,
		`SELECT `+mcpServerCols+` FROM mcp_servers WHERE workspace_id = $1 ORDER BY id COLLATE "C"`, wsID)
}

// MCPServer returns the MCP server object with id.
func (r *reader) MCPServer(id string) (*store.MCPServer, error) {
	return getMCPServer(r.ctx, r.tx, id, false)
}
