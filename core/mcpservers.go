package core

import (
	"context"
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// CreateMCPServer stores a named set of workflows of one workspace; admin on it.
func (s *Service) CreateMCPServer(ctx context.Context, p *auth.Principal, m *store.MCPServer) error {
	if err := s.authorize(ctx, p, workspaceTarget(m.WorkspaceID), store.LevelAdmin); err != nil {
		return err
	}
	m.CreatedBy = p.UserID
	if err := s.st.CreateMCPServer(ctx, m); err != nil {
		return mapStoreErr(err, "Workspace or workflow not found")
	}
	*m = *s.visibleMCPServer(ctx, p, m)
	return nil
}

// UpdateMCPServer changes a server object's name, description or workflows; admin on
// its workspace.
func (s *Service) UpdateMCPServer(ctx context.Context, p *auth.Principal, id string, fn func(m *store.MCPServer) error) (*store.MCPServer, error) {
	if _, err := s.mcpServerAt(ctx, p, id, store.LevelAdmin); err != nil {
		return nil, err
	}
	m, err := s.st.UpdateMCPServer(ctx, id, fn)
	if err != nil {
		return nil, mapStoreErr(err, "MCP server or workflow not found")
	}
	return s.visibleMCPServer(ctx, p, m), nil
}

// DeleteMCPServer removes a server object; admin on its workspace.
func (s *Service) DeleteMCPServer(ctx context.Context, p *auth.Principal, id string) error {
	if _, err := s.mcpServerAt(ctx, p, id, store.LevelAdmin); err != nil {
		return err
	}
	return mapStoreErr(s.st.DeleteMCPServer(ctx, id), "MCP server not found")
}

// GetMCPServer returns a server object p may read (read on its workspace, or read on at
// least one of its workflows), listing only the workflows p may read.
func (s *Service) GetMCPServer(ctx context.Context, p *auth.Principal, id string) (*store.MCPServer, error) {
	m, err := s.st.GetMCPServer(ctx, id)
	if err != nil {
		return nil, mapStoreErr(err, "MCP server not found")
	}
	wsErr := s.authorize(ctx, p, workspaceTarget(m.WorkspaceID), store.LevelRead)
	v := s.visibleMCPServer(ctx, p, m)
	if wsErr != nil && len(v.WorkflowIDs) == 0 {
		return nil, wsErr
	}
	return v, nil
}

// ListMCPServers lists the server objects of wsID; read on the workspace. Each lists
// only the workflows p may read.
func (s *Service) ListMCPServers(ctx context.Context, p *auth.Principal, wsID string) ([]*store.MCPServer, error) {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelRead); err != nil {
		return nil, err
	}
	ms, err := s.st.ListMCPServers(ctx, wsID)
	if err != nil {
		return nil, err
	}
	out := make([]*store.MCPServer, len(ms))
	for i, m := range ms {
		out[i] = s.visibleMCPServer(ctx, p, m)
	}
	return out, nil
}

// visibleMCPServer is m as p may see it: a copy whose workflow ids are those p may
// read. Workspace read does not imply it (narrowed workspace keys, workflow grants),
// and an id is itself information.
func (s *Service) visibleMCPServer(ctx context.Context, p *auth.Principal, m *store.MCPServer) *store.MCPServer {
	c := *m
	c.WorkflowIDs = make([]string, 0, len(m.WorkflowIDs))
	for _, id := range m.WorkflowIDs {
		if s.authorize(ctx, p, workflowTarget(id), store.LevelRead) == nil {
			c.WorkflowIDs = append(c.WorkflowIDs, id)
		}
	}
	return &c
}

func (s *Service) mcpServerAt(ctx context.Context, p *auth.Principal, id string, need store.Level) (*store.MCPServer, error) {
	m, err := s.st.GetMCPServer(ctx, id)
	if err != nil {
		return nil, newError(http.StatusNotFound, "not_found", "MCP server not found")
	}
	if err := s.authorize(ctx, p, workspaceTarget(m.WorkspaceID), need); err != nil {
		return nil, err
	}
	return m, nil
}
