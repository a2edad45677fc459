package postgres

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) AddAudit(ctx context.Context, evs ...*store.AuditEvent) error {
	return errTODO
}

func (s *Store) ListAudit(ctx context.Context, keyID string, limit int) ([]*store.AuditEvent, error) {
	return nil, errTODO
}
