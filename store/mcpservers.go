package store

import (
	"context"
	"strings"
)

// MCPServers holds MCP server objects (named sets of a workspace's workflows).
type MCPServers interface {
	// CreateMCPServer stores a named set of workflows of one workspace.
	CreateMCPServer(ctx context.Context, m *MCPServer) error

	// UpdateMCPServer applies fn (name, description, workflow list) and saves the server.
	UpdateMCPServer(ctx context.Context, id string, fn func(m *MCPServer) error) (*MCPServer, error)

	// DeleteMCPServer removes an MCP server object.
	DeleteMCPServer(ctx context.Context, id string) error

	// GetMCPServer returns the MCP server object with id.
	GetMCPServer(ctx context.Context, id string) (m *MCPServer, err error)

	// ListMCPServers lists the MCP server objects of wsID (all when empty).
	ListMCPServers(ctx context.Context, wsID string) (out []*MCPServer, err error)
}

// CheckName trims the MCP server's name, which is required.
func (m *MCPServer) CheckName() error {
	m.Name = strings.TrimSpace(m.Name)
	if m.Name == "" {
		return invalidf("MCP server name is required")
	}
	return nil
}
