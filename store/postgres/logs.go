package postgres

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
)

func (l *logs) Get(ctx context.Context, id string) (*store.Execution, error) {
	return nil, errTODO
}

func (l *logs) GetByRunID(ctx context.Context, workflowID, runID string) (*store.Execution, error) {
	return nil, errTODO
}

func (l *logs) Count(ctx context.Context) (int, error) {
	return 0, errTODO
}

func (l *logs) Unfinished(ctx context.Context) ([]*store.Execution, error) {
	return nil, errTODO
}

func (l *logs) Prune(ctx context.Context, before time.Time) (int, error) {
	return 0, errTODO
}

func (l *logs) Retain(ctx context.Context, r store.Retention, now time.Time) (int, error) {
	return 0, errTODO
}

func (l *logs) RetainWorkspace(ctx context.Context, wsID string, r store.Retention, now time.Time) (int, error) {
	return 0, errTODO
}

func (l *logs) List(ctx context.Context, q store.LogQuery) (store.LogPage, error) {
	return store.LogPage{}, errTODO
}

func (l *logs) Metrics(ctx context.Context, q store.MetricsQuery) ([]store.MetricsBucket, error) {
	return nil, errTODO
}

func (l *logs) Put(ctx context.Context, e *store.Execution) error {
	return errTODO
}

func (l *logs) Mark(ctx context.Context, e *store.Execution) error {
	return errTODO
}
