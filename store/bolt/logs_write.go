package bolt

import (
	"context"
	"fmt"
	"strings"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// Put inserts or replaces (same ID) an execution. It returns after the transaction
// holding the record committed and synced, so an acknowledged record survives a crash.
// A cancelled ctx fails the call only if the record was not yet handed to the writer.
// Put encodes e before returning and never keeps or modifies it.
func (l *LogDB) Put(ctx context.Context, e *store.Execution) error {
	r, err := l.request(ctx, e)
	if err != nil {
		return err
	}
	return l.batch.Put(ctx, r)
}

// Mark queues e for the next group commit and returns without waiting for it: a start
// marker, so that a run in flight when the process dies is found at the next start
// (as interrupted) instead of nowhere. A later Put of the same id replaces it.
func (l *LogDB) Mark(ctx context.Context, e *store.Execution) error {
	r, err := l.request(ctx, e)
	if err != nil {
		return err
	}
	return l.batch.Mark(ctx, r)
}

// request validates and encodes e.
func (l *LogDB) request(ctx context.Context, e *store.Execution) (*putReq, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := l.health.refuse(); err != nil {
		return nil, err
	}
	if e == nil {
		return nil, invalid("execution is nil")
	}
	for _, f := range [...]struct{ name, v string }{{"id", e.ID}, {"workflowId", e.WorkflowID}, {"workspaceId", e.WorkspaceID}} {
		if f.v == "" || strings.IndexByte(f.v, sep) >= 0 {
			return nil, invalid("execution %s %q", f.name, f.v)
		}
	}
	if strings.IndexByte(e.RunID, sep) >= 0 {
		return nil, invalid("execution runId %q", e.RunID)
	}
	if e.StartedAt.IsZero() {
		return nil, invalid("execution %q has no startedAt", e.ID)
	}
	data, err := encodeExecution(nil, e, l.opts.MaxRecordBytes)
	if err != nil {
		return nil, fmt.Errorf("encode execution %q: %w", e.ID, err)
	}
	r := &putReq{id: e.ID, h: headOf(e), data: data}
	return r, nil
}

// write stores batch in one transaction (the group commit's write).
func (l *LogDB) write(_ context.Context, batch []*putReq) error {
	return l.update(func(tx *bbolt.Tx) error {
		for _, r := range batch {
			if err := writeExecution(tx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// update runs fn in one write transaction and reports a failed commit (not fn's own
// error) to the store's health as a storage failure.
func (l *LogDB) update(fn func(tx *bbolt.Tx) error) error {
	var fnErr error
	err := safely(func() error {
		return l.db.Update(func(tx *bbolt.Tx) error { fnErr = fn(tx); return fnErr })
	})
	switch {
	case err != nil && fnErr == nil:
		return l.health.failed("logs.db", err)
	case err == nil:
		return l.health.committed()
	}
	return err
}

// writeExecution stores one record with its index and rollup changes.
func writeExecution(tx *bbolt.Tx, r *putReq) error {
	execs := tx.Bucket(bExecutions)
	wsIdx, wfIdx, tIdx, runIdx := tx.Bucket(bIdxWsTime), tx.Bucket(bIdxWfTime), tx.Bucket(bIdxTime), tx.Bucket(bIdxRun)
	// Keys of these buckets grow with time (ULIDs, start times), so almost every insert
	// lands at the right edge of a page: bbolt's default split at half a page would leave
	// every page half empty forever. Older pages are not written again.
	for _, b := range [...]*bbolt.Bucket{execs, wsIdx, wfIdx, tIdx} {
		b.FillPercent = appendFill
	}
	id := []byte(r.id)
	h := &r.h
	if h.RunID != "" {
		if v := runIdx.Get(ckey(h.WorkflowID, h.RunID)); v != nil && string(v) != r.id {
			return fmt.Errorf("run id %q of workflow %q belongs to execution %s: %w", h.RunID, h.WorkflowID, v, store.ErrConflict)
		}
	}
	if old := execs.Get(id); old != nil {
		oh, err := decodeHead(old)
		if err != nil {
			return fmt.Errorf("execution %s: %w", r.id, err)
		}
		if oh.StartedAt != h.StartedAt || oh.WorkspaceID != h.WorkspaceID {
			if err := wsIdx.Delete(idxKey(oh.WorkspaceID, oh.StartedAt, r.id)); err != nil {
				return err
			}
		}
		if oh.StartedAt != h.StartedAt || oh.WorkflowID != h.WorkflowID {
			if err := wfIdx.Delete(idxKey(oh.WorkflowID, oh.StartedAt, r.id)); err != nil {
				return err
			}
		}
		if oh.StartedAt != h.StartedAt {
			if err := tIdx.Delete(timeKey(oh.StartedAt, r.id)); err != nil {
				return err
			}
		}
		if oh.RunID != "" && (oh.RunID != h.RunID || oh.WorkflowID != h.WorkflowID) {
			if err := deleteRunIdx(runIdx, oh, r.id); err != nil {
				return err
			}
		}
		if finished(oh.Status) {
			if err := addRollups(tx, oh, -1); err != nil {
				return err
			}
		}
	}
	sum := h.appendSummary(nil)
	if err := wsIdx.Put(idxKey(h.WorkspaceID, h.StartedAt, r.id), sum); err != nil {
		return err
	}
	if err := wfIdx.Put(idxKey(h.WorkflowID, h.StartedAt, r.id), sum); err != nil {
		return err
	}
	if err := tIdx.Put(timeKey(h.StartedAt, r.id), nil); err != nil {
		return err
	}
	if h.RunID != "" {
		if err := runIdx.Put(ckey(h.WorkflowID, h.RunID), id); err != nil {
			return err
		}
	}
	if finished(h.Status) {
		if err := addRollups(tx, h, 1); err != nil {
			return err
		}
	}
	if inFlight(h.Status) {
		if err := tx.Bucket(bIdxOpen).Put(id, nil); err != nil {
			return err
		}
	} else if err := tx.Bucket(bIdxOpen).Delete(id); err != nil {
		return err
	}
	return execs.Put(id, r.data)
}

// appendFill is the page fill for the time-ordered buckets (see writeExecution).
const appendFill = 0.95

func deleteRunIdx(runIdx *bbolt.Bucket, h *head, id string) error {
	k := ckey(h.WorkflowID, h.RunID)
	if v := runIdx.Get(k); v != nil && string(v) == id {
		return runIdx.Delete(k)
	}
	return nil
}

// inFlight reports whether a record is what Unfinished returns: a queued job or a run in
// flight. A paused run is neither: it waits (for a person, a time) and survives a restart.
func inFlight(status string) bool {
	return status == store.StatusQueued || status == store.StatusRunning
}

func finished(status string) bool {
	return status == store.StatusCompleted || status == store.StatusFailed || status == store.StatusCancelled
}
