package postgres

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) PutExternalMCPServer(ctx context.Context, m *store.ExternalMCPServer) error {
	return errTODO
}

func (s *Store) ExternalMCPServers(ctx context.Context, wsID string) (out []*store.ExternalMCPServer, err error) {
	return nil, errTODO
}

func (s *Store) DeleteExternalMCPServer(ctx context.Context, wsID, id string) error {
	return errTODO
}
