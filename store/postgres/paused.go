package postgres

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) PutPausedRun(ctx context.Context, p *store.PausedRun) error {
	return errTODO
}

func (s *Store) PausedRun(ctx context.Context, execID string) (*store.PausedRun, error) {
	return nil, errTODO
}

func (s *Store) PausedRuns(ctx context.Context, wfID string) ([]*store.PausedRun, error) {
	return nil, errTODO
}

func (s *Store) DuePausedRuns(ctx context.Context, now time.Time, limit int) ([]*store.PausedRun, error) {
	return nil, errTODO
}

func (s *Store) ClaimPausedRun(ctx context.Context, execID, contextID string) (*store.PausedRun, error) {
	return nil, errTODO
}

func (s *Store) DeletePausedRun(ctx context.Context, execID string) error {
	return errTODO
}
