package postgres

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) CreateMCPServer(ctx context.Context, m *store.MCPServer) error {
	return errTODO
}

func (s *Store) UpdateMCPServer(ctx context.Context, id string, fn func(m *store.MCPServer) error) (*store.MCPServer, error) {
	return nil, errTODO
}

func (s *Store) DeleteMCPServer(ctx context.Context, id string) error {
	return errTODO
}

func (s *Store) GetMCPServer(ctx context.Context, id string) (m *store.MCPServer, err error) {
	return nil, errTODO
}

func (s *Store) ListMCPServers(ctx context.Context, wsID string) (out []*store.MCPServer, err error) {
	return nil, errTODO
}

func (r *reader) MCPServer(id string) (*store.MCPServer, error) {
	return nil, errTODO
}
