package bolt

import (
	"context"
	"fmt"
	"slices"

	"github.com/steelengine/steelengine/store"
)

// CreateMCPServer stores a named set of workflows of one workspace.
func (s *Store) CreateMCPServer(ctx context.Context, m *store.MCPServer) error {
	if m.ID == "" {
		m.ID = store.NewID()
	}
	t := now()
	m.CreatedAt, m.UpdatedAt = t, t
	return s.update(ctx, func(w *writer) error {
		if err := w.validateMCPServer(m); err != nil {
			return err
		}
		if err := w.tx.Bucket(bMCPByWs).Put(ckey(m.WorkspaceID, m.ID), nil); err != nil {
			return err
		}
		w.bumpWorkflows()
		return putJSON(w.tx.Bucket(bMCPServers), []byte(m.ID), m)
	})
}

func (w *writer) validateMCPServer(m *store.MCPServer) error {
	if err := m.CheckName(); err != nil {
		return err
	}
	if _, err := w.Workspace(m.WorkspaceID); err != nil {
		return err
	}
	if m.WorkflowIDs == nil {
		m.WorkflowIDs = []string{}
	}
	for _, id := range m.WorkflowIDs {
		wf, err := w.Workflow(id)
		if err != nil {
			return err
		}
		if wf.WorkspaceID != m.WorkspaceID {
			return invalid("workflow %s is not in workspace %s", id, m.WorkspaceID)
		}
	}
	return nil
}

// UpdateMCPServer applies fn (name, description, workflow list) and saves the server.
func (s *Store) UpdateMCPServer(ctx context.Context, id string, fn func(m *store.MCPServer) error) (*store.MCPServer, error) {
	var out *store.MCPServer
	err := s.update(ctx, func(w *writer) error {
		m, err := w.MCPServer(id)
		if err != nil {
			return err
		}
		ws, created := m.WorkspaceID, m.CreatedAt
		if err := fn(m); err != nil {
			return err
		}
		m.ID, m.WorkspaceID, m.CreatedAt, m.UpdatedAt = id, ws, created, now()
		m.WorkflowIDs = slices.Compact(slices.Sorted(slices.Values(m.WorkflowIDs)))
		if err := w.validateMCPServer(m); err != nil {
			return err
		}
		w.bumpWorkflows()
		out = m
		return putJSON(w.tx.Bucket(bMCPServers), []byte(id), m)
	})
	return out, err
}

// DeleteMCPServer removes an MCP server object.
func (s *Store) DeleteMCPServer(ctx context.Context, id string) error {
	return s.update(ctx, func(w *writer) error {
		m, err := w.MCPServer(id)
		if err != nil {
			return err
		}
		if err := w.tx.Bucket(bMCPByWs).Delete(ckey(m.WorkspaceID, id)); err != nil {
			return err
		}
		w.bumpWorkflows()
		return w.tx.Bucket(bMCPServers).Delete([]byte(id))
	})
}

// MCPServer returns the MCP server object with id.
func (r *Reader) MCPServer(id string) (*store.MCPServer, error) {
	m, err := getJSON[store.MCPServer](r.tx.Bucket(bMCPServers), []byte(id))
	if err != nil {
		return nil, fmt.Errorf("mcp server %q: %w", id, err)
	}
	return m, nil
}

// GetMCPServer returns the MCP server object with id.
func (s *Store) GetMCPServer(ctx context.Context, id string) (m *store.MCPServer, err error) {
	err = s.view(ctx, func(r *Reader) error { m, err = r.MCPServer(id); return err })
	return m, err
}

// ListMCPServers lists the MCP server objects of wsID (all when empty).
func (s *Store) ListMCPServers(ctx context.Context, wsID string) (out []*store.MCPServer, err error) {
	err = s.view(ctx, func(r *Reader) error {
		if wsID == "" {
			out, err = listAll[store.MCPServer](r.tx.Bucket(bMCPServers))
			return err
		}
		ids, err := idsUnder(r.tx.Bucket(bMCPByWs), wsID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			m, err := r.MCPServer(id)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}
