package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

const externalMCPCols = `id, workspace_id, name, url, header_names, headers_sealed, created_by, created_at`

func scanExternalMCP(row pgx.Row) (*store.ExternalMCPServer, error) {
	m := new(store.ExternalMCPServer)
	if err := row.Scan(&m.ID, &m.WorkspaceID, &m.Name, &m.URL, &m.HeaderNames, &m.HeadersSealed, &m.CreatedBy, &m.CreatedAt); err != nil {
		return nil, err
	}
	if len(m.HeaderNames) == 0 {
		m.HeaderNames = nil // omitted when empty, as bolt's JSON decodes it
	}
	m.CreatedAt = m.CreatedAt.UTC()
	return m, nil
}

// PutExternalMCPServer stores an external MCP server of a workspace; names are unique
// within the workspace.
func (s *Store) PutExternalMCPServer(ctx context.Context, m *store.ExternalMCPServer) error {
	if err := m.Check(); err != nil {
		return err
	}
	if m.ID == "" {
		m.ID = store.NewID()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	m.CreatedAt = pgTime(m.CreatedAt)
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if err := lockWorkspaceKey(ctx, tx, m.WorkspaceID); err != nil {
			return err
		}
		if err := lockWorkspaceDomain(ctx, tx, "external_mcp_servers", m.WorkspaceID); err != nil {
			return err
		}
		taken, err := nameTaken(ctx, tx, `SELECT name FROM external_mcp_servers WHERE workspace_id = $1 AND id <> $2`, m.WorkspaceID, m.ID, m.Name)
		if err != nil {
			return fmt.Errorf("postgres: check external MCP server name: %w", err)
		}
		if taken {
			return fmt.Errorf("an external MCP server named %q already exists: %w", m.Name, store.ErrConflict)
		}
		names := m.HeaderNames
		if names == nil {
			names = []string{}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO external_mcp_servers (`+externalMCPCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, url = EXCLUDED.url, header_names = EXCLUDED.header_names,
				headers_sealed = EXCLUDED.headers_sealed, created_by = EXCLUDED.created_by, created_at = EXCLUDED.created_at
			WHERE external_mcp_servers.workspace_id = EXCLUDED.workspace_id`,
			m.ID, m.WorkspaceID, m.Name, m.URL, names, m.HeadersSealed, m.CreatedBy, m.CreatedAt)
		if isUnique(err) || (err == nil && tag.RowsAffected() == 0) {
			return fmt.Errorf("external MCP server %q: %w", m.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: put external MCP server: %w", err)
		}
		return BumpEpoch(ctx, tx, EpochConfig)
	})
}

// ExternalMCPServers lists the external MCP servers of wsID, oldest first.
func (s *Store) ExternalMCPServers(ctx context.Context, wsID string) (out []*store.ExternalMCPServer, err error) {
	return queryList(ctx, s.pool, "external MCP servers", scanExternalMCP,
		`SELECT `+externalMCPCols+` FROM external_mcp_servers WHERE workspace_id = $1 ORDER BY created_at, id COLLATE "C"`, wsID)
}

// DeleteExternalMCPServer removes server id of wsID.
func (s *Store) DeleteExternalMCPServer(ctx context.Context, wsID, id string) error {
	return s.deleteConfig(ctx, "external MCP server", id, `DELETE FROM external_mcp_servers WHERE workspace_id = $1 AND id = $2`, wsID, id)
}
