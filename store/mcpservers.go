package store

import "context"

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
