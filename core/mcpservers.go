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
	return mapStoreErr(s.st.CreateMCPServer(ctx, m), "Workspace or workflow not found")
}

// UpdateMCPServer changes a server object's name, description or workflows; admin on
// its workspace.
func (s *Service) UpdateMCPServer(ctx context.Context, p *auth.Principal, id string, fn func(m *store.MCPServer) error) (*store.MCPServer, error) {
	if _, err := s.mcpServerAt(ctx, p, id, store.LevelAdmin); err != nil {
		return nil, err
	}
	m, err := s.st.UpdateMCPServer(ctx, id, fn)
	return m, mapStoreErr(err, "MCP server or workflow not found")
}

// DeleteMCPServer removes a server object; admin on its workspace.
func (s *Service) DeleteMCPServer(ctx context.Context, p *auth.Principal, id string) error {
	if _, err := s.mcpServerAt(ctx, p, id, store.LevelAdmin); err != nil {
		return err
	}
	return mapStoreErr(s.st.DeleteMCPServer(ctx, id), "MCP server not found")
}

// GetMCPServer returns a server object p may read (read on its workspace, or read on at
// least one of its workflows).
func (s *Service) GetMCPServer(ctx context.Context, p *auth.Principal, id string) (*store.MCPServer, error) {
	m, err := s.st.GetMCPServer(ctx, id)
	if err != nil {
		return nil, mapStoreErr(err, "MCP server not found")
	}
	wsErr := s.authorize(ctx, p, workspaceTarget(m.WorkspaceID), store.LevelRead)
	if wsErr == nil {
		return m, nil
	}
	for _, wfID := range m.WorkflowIDs {
		if s.authorize(ctx, p, workflowTarget(wfID), store.LevelRead) == nil {
			return m, nil
		}
	}
	return nil, wsErr
}

// ListMCPServers lists the server objects of wsID; read on the workspace.
func (s *Service) ListMCPServers(ctx context.Context, p *auth.Principal, wsID string) ([]*store.MCPServer, error) {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelRead); err != nil {
		return nil, err
	}
	return s.st.ListMCPServers(ctx, wsID)
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
