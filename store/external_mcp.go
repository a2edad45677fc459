package store

import (
	"context"
	"strings"
)

// ExternalMCP holds the external MCP servers a workspace's agents may call.
type ExternalMCP interface {
	// PutExternalMCPServer stores an external MCP server of a workspace; names are unique
	// within the workspace.
	PutExternalMCPServer(ctx context.Context, m *ExternalMCPServer) error

	// ExternalMCPServers lists the external MCP servers of wsID, oldest first.
	ExternalMCPServers(ctx context.Context, wsID string) (out []*ExternalMCPServer, err error)

	// DeleteExternalMCPServer removes server id of wsID.
	DeleteExternalMCPServer(ctx context.Context, wsID, id string) error
}

// Check trims the server's name; a workspace, a name and a URL are required.
func (m *ExternalMCPServer) Check() error {
	m.Name = strings.TrimSpace(m.Name)
	if m.Name == "" || m.WorkspaceID == "" || m.URL == "" {
		return invalidf("external MCP server needs a workspace, a name and a URL")
	}
	return nil
}
