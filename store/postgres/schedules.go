package postgres

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) Schedules(ctx context.Context) ([]*store.Schedule, error) {
	return nil, errTODO
}

func (s *Store) SyncSchedules(ctx context.Context, want []*store.Schedule, merge func(old, new *store.Schedule) *store.Schedule) error {
	return errTODO
}

func (s *Store) ClaimSchedule(ctx context.Context, wfID, blockID string, due, now, next time.Time) (bool, error) {
	return false, errTODO
}

func (s *Store) RecordScheduleRun(ctx context.Context, wfID, blockID, execID, errMsg string) error {
	return errTODO
}
