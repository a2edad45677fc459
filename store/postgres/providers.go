package postgres

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) PutModelProvider(ctx context.Context, p *store.ModelProvider) error {
	return errTODO
}

func (s *Store) ModelProviders(ctx context.Context, wsID string) (out []*store.ModelProvider, err error) {
	return nil, errTODO
}

func (s *Store) DeleteModelProvider(ctx context.Context, wsID, id string) error {
	return errTODO
}
