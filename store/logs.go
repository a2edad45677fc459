package store

import (
	"context"
	"time"
)

// Logs holds executions: the run log, its cursor queries, hourly rollups for metrics and
// retention. Writes are group-committed: an acknowledged Put is durable.
type Logs interface {
	// Get returns the execution with id, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (*Execution, error)

	// GetByRunID returns the execution of workflowID with the client-chosen runID, or an
	// error wrapping ErrNotFound.
	GetByRunID(ctx context.Context, workflowID, runID string) (*Execution, error)

	// Count returns the number of stored executions.
	Count(ctx context.Context) (int, error)

	// Unfinished returns the executions recorded as queued or running, oldest first. At
	// start these are the jobs the previous process accepted but did not finish.
	Unfinished(ctx context.Context) ([]*Execution, error)

	// Prune deletes the executions that started before before, with their index entries,
	// in transactions of at most pruneChunk records. Rollups are kept, so metrics still
	// cover pruned periods. It returns how many executions it deleted.
	Prune(ctx context.Context, before time.Time) (int, error)

	// Retain applies r to every workspace with logs (also deleted workspaces), deleting in
	// transactions of at most pruneChunk records so that writes interleave. It returns how
	// many executions it deleted.
	Retain(ctx context.Context, r Retention, now time.Time) (int, error)

	// RetainWorkspace applies r to one workspace's executions.
	RetainWorkspace(ctx context.Context, wsID string, r Retention, now time.Time) (int, error)

	// List returns the executions q selects, ordered by (StartedAt, ID), using keyset
	// pagination over the time indexes: pages never skip or repeat a record, even while new
	// executions are written.
	List(ctx context.Context, q LogQuery) (LogPage, error)

	// Metrics aggregates finished executions (completed, failed, cancelled; failed ones are
	// errors) per bucket from the hourly rollups, never reading records. Buckets come in
	// ascending time order and only buckets with at least one execution are returned.
	// Percentiles are estimated from a log-spaced histogram (within about 13%).
	Metrics(ctx context.Context, q MetricsQuery) ([]MetricsBucket, error)

	// Put inserts or replaces (same ID) an execution. It returns after the transaction
	// holding the record committed and synced, so an acknowledged record survives a crash.
	// A cancelled ctx fails the call only if the record was not yet handed to the writer.
	// Put encodes e before returning and never keeps or modifies it.
	Put(ctx context.Context, e *Execution) error

	// Mark queues e for the next group commit and returns without waiting for it: a start
	// marker, so that a run in flight when the process dies is found at the next start
	// (as interrupted) instead of nowhere. A later Put of the same id replaces it.
	Mark(ctx context.Context, e *Execution) error
}

// LogQuery selects executions for List.
type LogQuery struct {
	// WorkspaceID is required unless WorkflowIDs is non-empty; with both, records must
	// match both.
	WorkspaceID string
	// WorkflowIDs nil means every workflow of the workspace; non-nil means only these
	// (an empty non-nil slice selects nothing).
	WorkflowIDs []string
	Triggers    []string
	// Level is "", "info" or "error".
	Level    string
	Statuses []string
	// Start and End bound StartedAt to [Start, End); zero means unbounded.
	Start, End                   time.Time
	ExecutionID                  string
	MinDurationMs, MaxDurationMs *int64 // inclusive
	// Limit defaults to 100; larger than 1000 is cut to 1000.
	Limit int
	// Cursor is a NextCursor from an earlier page.
	Cursor string
	// Order is "desc" (default: newest first) or "asc".
	Order string
}

// LogPage is one page of List. NextCursor is empty when there is nothing more. A page
// may hold fewer than Limit items (even none) with a NextCursor when the scan bound was
// reached before Limit matches were found; keep paging to continue.
type LogPage struct {
	Items      []*Execution `json:"items"`
	NextCursor string       `json:"nextCursor,omitempty"`
}

// MetricsQuery selects the rollups Metrics aggregates.
type MetricsQuery struct {
	// WorkspaceID is required unless WorkflowIDs is non-empty. With WorkflowIDs (non-nil)
	// only those workflows are counted; an empty non-nil slice selects nothing.
	WorkspaceID string
	WorkflowIDs []string
	// Start and End bound the period; zero means unbounded. Rollups are hourly, so an
	// hour that overlaps [Start, End) counts whole.
	Start, End time.Time
	// Bucket is the width of each result bucket: a whole number of hours (default 1 h).
	// Buckets are aligned to multiples of Bucket since the Unix epoch (UTC).
	Bucket time.Duration
}

// MetricsBucket aggregates the finished executions that started in one bucket.
type MetricsBucket struct {
	Start     time.Time `json:"start"`
	Count     int64     `json:"count"`
	Errors    int64     `json:"errors"`
	ErrorRate float64   `json:"errorRate"`
	P50Ms     float64   `json:"p50Ms"`
	P95Ms     float64   `json:"p95Ms"`
	P99Ms     float64   `json:"p99Ms"`
	Cost      float64   `json:"cost"`
}

// Retention bounds how much execution history each workspace keeps. Zero fields do not
// limit. Queued and running executions are never pruned; hourly rollups are kept, so
// metrics still cover pruned periods.
type Retention struct {
	MaxAge   time.Duration // delete executions that started longer ago than this
	MaxCount int           // keep at most this many executions per workspace
}
