package bolt

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/steelengine/steelengine/store"
)

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
		m.CreatedAt = now()
	}
	return s.update(ctx, func(w *writer) error {
		w.bumpConfig()
		if _, err := w.Workspace(m.WorkspaceID); err != nil {
			return err
		}
		b := w.tx.Bucket(bExternalMCP)
		err := scanPrefix(b, m.WorkspaceID, func(_, v []byte) error {
			o, err := decodeJSON[store.ExternalMCPServer](v)
			if err != nil {
				return err
			}
			if o.ID != m.ID && strings.EqualFold(o.Name, m.Name) {
				return fmt.Errorf("an external MCP server named %q already exists: %w", m.Name, store.ErrConflict)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return putJSON(b, ckey(m.WorkspaceID, m.ID), m)
	})
}

// ExternalMCPServers lists the external MCP servers of wsID, oldest first.
func (s *Store) ExternalMCPServers(ctx context.Context, wsID string) (out []*store.ExternalMCPServer, err error) {
	err = s.view(ctx, func(r *Reader) error {
		return scanPrefix(r.tx.Bucket(bExternalMCP), wsID, func(_, v []byte) error {
			m, err := decodeJSON[store.ExternalMCPServer](v)
			if err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b *store.ExternalMCPServer) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// DeleteExternalMCPServer removes server id of wsID.
func (s *Store) DeleteExternalMCPServer(ctx context.Context, wsID, id string) error {
	return s.update(ctx, func(w *writer) error {
		w.bumpConfig()
		b := w.tx.Bucket(bExternalMCP)
		if b.Get(ckey(wsID, id)) == nil {
			return fmt.Errorf("external MCP server %q: %w", id, store.ErrNotFound)
		}
		return b.Delete(ckey(wsID, id))
	})
}
