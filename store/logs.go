package store

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// logs.db layout (all integers big-endian; times are "offset binary": the int64 with its
// sign bit flipped, so byte order equals time order even before 1970):
//
//	meta         schema → uint32
//	executions   id → uvarint(len(head)) + head + JSON record
//	idx_ws_time  wsID 0x00 startedAt(ns) id → summary (status, level, trigger, duration)
//	idx_wf_time  wfID 0x00 startedAt(ns) id → summary
//	idx_time     startedAt(ns) id → ∅ (drives Prune)
//	idx_run      wfID 0x00 runID → id
//	rollups      wfID 0x00 hour(unix s) → rollup
//	rollups_ws   wsID 0x00 hour(unix s) → rollup
//
// The head is a small binary copy of the fields the write path and Prune need, so
// overwriting or pruning a record never parses its (up to MaxRecordBytes) JSON. The
// summary in the time indexes lets List filter on status, level, trigger and duration
// from the index alone and decode only the records it returns.
var (
	bExecutions = []byte("executions")
	bIdxWsTime  = []byte("idx_ws_time")
	bIdxWfTime  = []byte("idx_wf_time")
	bIdxTime    = []byte("idx_time")
	bIdxRun     = []byte("idx_run")
	bRollups    = []byte("rollups")
	bRollupsWs  = []byte("rollups_ws")
)

var logMigrations = []migration{
	{1, "log buckets", func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bExecutions, bIdxWsTime, bIdxWfTime, bIdxTime, bIdxRun, bRollups, bRollupsWs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}},
}

// LogSchemaVersion is the newest logs.db schema this build knows.
func LogSchemaVersion() uint32 { return logMigrations[len(logMigrations)-1].version }

const (
	defaultMaxRecordBytes = 1 << 20
	defaultBatchSize      = 256
	defaultBatchDelay     = 2 * time.Millisecond
	defaultListLimit      = 100
	maxListLimit          = 1000
	// defaultMaxScan bounds the index entries one List call examines, so a filter that
	// matches almost nothing cannot hold a read transaction over the whole index. When
	// it is reached the page comes back short (maybe empty) with a NextCursor.
	defaultMaxScan = 100_000
	// pruneChunk is the number of executions one Prune transaction deletes, so Puts
	// interleave with a large prune.
	pruneChunk = 1000
)

// errLogsClosed is returned by Put after Close.
var errLogsClosed = errors.New("logs.db is closed")

// LogOptions tune logs.db.
type LogOptions struct {
	// LockTimeout bounds the wait for another process's file lock (default 2 s). On
	// timeout OpenLogDB fails with an error wrapping ErrLocked that names the file.
	LockTimeout time.Duration
	// MaxRecordBytes caps a stored record's JSON (default 1 MiB). A bigger record loses
	// its BlockLogs and TraceSpans, then its Output (and Input) are replaced by a note,
	// and it is marked Truncated.
	MaxRecordBytes int
	// BatchSize is the most records one group-commit transaction holds (default 256).
	BatchSize int
	// BatchDelay is the longest the writer waits for more records while other Puts are
	// in flight (default 2 ms). A negative value never waits: each commit takes whatever
	// is queued.
	BatchDelay time.Duration
}

// LogDB stores executions in logs.db. Writes go through one goroutine that commits
// queued records together (group commit, fsync on); reads are short View transactions.
type LogDB struct {
	db   *bolt.DB
	path string
	opts LogOptions

	mu       sync.RWMutex // guards closed and sends on reqs
	closed   bool
	reqs     chan *putReq
	done     chan struct{}
	inflight atomic.Int64 // Puts between enqueue and acknowledgement
	commits  atomic.Int64 // group-commit transactions (for benchmarks and ops)

	maxScan int // List scan bound (tests lower it)
}

type putReq struct {
	id   string
	h    head
	data []byte // encoded value: head + JSON
	done chan error
}

// OpenLogDB opens (creating with mode 0600) the logs file at path and runs its
// migrations. A file held by another process fails within LockTimeout with an error
// wrapping ErrLocked; a file from a newer build fails with ErrNewerSchema.
func OpenLogDB(path string, opts LogOptions) (*LogDB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = defaultLockTimeout
	}
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = defaultMaxRecordBytes
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = defaultBatchSize
	}
	if opts.BatchDelay == 0 {
		opts.BatchDelay = defaultBatchDelay
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return fmt.Errorf("create meta bucket: %w", err)
		}
		return runMigrations(meta, tx, logMigrations, "logs.db")
	}); err != nil {
		db.Close()
		return nil, err
	}
	l := &LogDB{
		db:      db,
		path:    path,
		opts:    opts,
		reqs:    make(chan *putReq, opts.BatchSize),
		done:    make(chan struct{}),
		maxScan: defaultMaxScan,
	}
	go l.writer()
	return l, nil
}

// Close waits for every accepted Put to commit, then closes the file. Later Puts fail.
func (l *LogDB) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.reqs)
	l.mu.Unlock()
	<-l.done
	return l.db.Close()
}

// Put inserts or replaces (same ID) an execution. It returns after the transaction
// holding the record committed and synced, so an acknowledged record survives a crash.
// A cancelled ctx fails the call only if the record was not yet handed to the writer.
// Put encodes e before returning and never keeps or modifies it.
func (l *LogDB) Put(ctx context.Context, e *Execution) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e == nil {
		return invalid("execution is nil")
	}
	for _, f := range [...]struct{ name, v string }{{"id", e.ID}, {"workflowId", e.WorkflowID}, {"workspaceId", e.WorkspaceID}} {
		if f.v == "" || strings.IndexByte(f.v, sep) >= 0 {
			return invalid("execution %s %q", f.name, f.v)
		}
	}
	if strings.IndexByte(e.RunID, sep) >= 0 {
		return invalid("execution runId %q", e.RunID)
	}
	if e.StartedAt.IsZero() {
		return invalid("execution %q has no startedAt", e.ID)
	}
	js, err := encodeExecution(e, l.opts.MaxRecordBytes)
	if err != nil {
		return fmt.Errorf("encode execution %q: %w", e.ID, err)
	}
	h := headOf(e)
	r := &putReq{id: e.ID, h: h, done: make(chan error, 1)}
	hb := h.appendFull(nil)
	r.data = binary.AppendUvarint(make([]byte, 0, len(hb)+len(js)+binary.MaxVarintLen64), uint64(len(hb)))
	r.data = append(r.data, hb...)
	r.data = append(r.data, js...)

	l.inflight.Add(1)
	defer l.inflight.Add(-1)
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return errLogsClosed
	}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		l.mu.RUnlock()
		return ctx.Err()
	}
	l.mu.RUnlock()
	return <-r.done
}

// writer is the single goroutine that commits Puts.
func (l *LogDB) writer() {
	defer close(l.done)
	batch := make([]*putReq, 0, l.opts.BatchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		r, ok := <-l.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		l.collect(&batch, timer)
		l.commit(batch)
		clear(batch)
	}
}

// collect adds queued requests to batch until it is full, or nothing is queued and
// either no other Put is in flight or BatchDelay has passed.
func (l *LogDB) collect(batch *[]*putReq, timer *time.Timer) {
	timerOn := false
	defer func() {
		if timerOn {
			timer.Stop()
		}
	}()
	for len(*batch) < l.opts.BatchSize {
		select {
		case r, ok := <-l.reqs:
			if !ok {
				return
			}
			*batch = append(*batch, r)
			continue
		default:
		}
		// Nothing queued. Wait only if some caller is about to enqueue.
		if l.opts.BatchDelay < 0 || l.inflight.Load() <= int64(len(*batch)) {
			return
		}
		if !timerOn {
			timer.Reset(l.opts.BatchDelay)
			timerOn = true
		}
		select {
		case r, ok := <-l.reqs:
			if !ok {
				return
			}
			*batch = append(*batch, r)
		case <-timer.C:
			timerOn = false
			return
		}
	}
}

// commit writes batch in one transaction. If that fails, each record is retried alone
// so one bad record cannot fail the others.
func (l *LogDB) commit(batch []*putReq) {
	l.commits.Add(1)
	err := l.db.Update(func(tx *bolt.Tx) error {
		for _, r := range batch {
			if err := writeExecution(tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			r.done <- l.db.Update(func(tx *bolt.Tx) error { return writeExecution(tx, r) })
		}
		return
	}
	for _, r := range batch {
		r.done <- err
	}
}

// writeExecution stores one record with its index and rollup changes.
func writeExecution(tx *bolt.Tx, r *putReq) error {
	execs := tx.Bucket(bExecutions)
	wsIdx, wfIdx, tIdx, runIdx := tx.Bucket(bIdxWsTime), tx.Bucket(bIdxWfTime), tx.Bucket(bIdxTime), tx.Bucket(bIdxRun)
	id := []byte(r.id)
	h := &r.h
	if h.RunID != "" {
		if v := runIdx.Get(ckey(h.WorkflowID, h.RunID)); v != nil && string(v) != r.id {
			return fmt.Errorf("run id %q of workflow %q belongs to execution %s: %w", h.RunID, h.WorkflowID, v, ErrConflict)
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
	return execs.Put(id, r.data)
}

func deleteRunIdx(runIdx *bolt.Bucket, h *head, id string) error {
	k := ckey(h.WorkflowID, h.RunID)
	if v := runIdx.Get(k); v != nil && string(v) == id {
		return runIdx.Delete(k)
	}
	return nil
}

func finished(status string) bool {
	return status == StatusCompleted || status == StatusFailed || status == StatusCancelled
}

// Get returns the execution with id, or an error wrapping ErrNotFound.
func (l *LogDB) Get(ctx context.Context, id string) (*Execution, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var e *Execution
	err := l.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bExecutions).Get([]byte(id))
		if v == nil {
			return notFound("execution", id)
		}
		var err error
		e, err = decodeRecord(v)
		return err
	})
	return e, err
}

// GetByRunID returns the execution of workflowID with the client-chosen runID, or an
// error wrapping ErrNotFound.
func (l *LogDB) GetByRunID(ctx context.Context, workflowID, runID string) (*Execution, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var e *Execution
	err := l.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bIdxRun).Get(ckey(workflowID, runID))
		if id == nil {
			return notFound("run", workflowID+"/"+runID)
		}
		v := tx.Bucket(bExecutions).Get(id)
		if v == nil {
			return notFound("execution", string(id))
		}
		var err error
		e, err = decodeRecord(v)
		return err
	})
	return e, err
}

// Count returns the number of stored executions.
func (l *LogDB) Count(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := l.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bExecutions).Stats().KeyN
		return nil
	})
	return n, err
}

// Backup writes a consistent copy of logs.db to w from one read transaction.
func (l *LogDB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup logs.db: %w", err)
	}
	return n, nil
}

// Prune deletes the executions that started before before, with their index entries,
// in transactions of at most pruneChunk records. Rollups are kept, so metrics still
// cover pruned periods. It returns how many executions it deleted.
func (l *LogDB) Prune(ctx context.Context, before time.Time) (int, error) {
	limit := encTime(before.UnixNano())
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, last := 0, false
		err := l.db.Update(func(tx *bolt.Tx) error {
			execs, tIdx := tx.Bucket(bExecutions), tx.Bucket(bIdxTime)
			wsIdx, wfIdx, runIdx := tx.Bucket(bIdxWsTime), tx.Bucket(bIdxWfTime), tx.Bucket(bIdxRun)
			var keys [][]byte
			c := tIdx.Cursor()
			for k, _ := c.First(); k != nil && len(keys) < pruneChunk; k, _ = c.Next() {
				if len(k) < 8 || bytes.Compare(k[:8], limit) >= 0 {
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				id := string(k[8:])
				if v := execs.Get(k[8:]); v != nil {
					h, err := decodeHead(v)
					if err != nil {
						return fmt.Errorf("execution %s: %w", id, err)
					}
					if err := wsIdx.Delete(idxKey(h.WorkspaceID, h.StartedAt, id)); err != nil {
						return err
					}
					if err := wfIdx.Delete(idxKey(h.WorkflowID, h.StartedAt, id)); err != nil {
						return err
					}
					if h.RunID != "" {
						if err := deleteRunIdx(runIdx, h, id); err != nil {
							return err
						}
					}
					if err := execs.Delete(k[8:]); err != nil {
						return err
					}
					n++
				}
				if err := tIdx.Delete(k); err != nil {
					return err
				}
			}
			last = len(keys) < pruneChunk
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("prune logs: %w", err)
		}
		total += n
		if last {
			return total, nil
		}
	}
}

// ---- List ----

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

// List returns the executions q selects, ordered by (StartedAt, ID), using keyset
// pagination over the time indexes: pages never skip or repeat a record, even while new
// executions are written.
func (l *LogDB) List(ctx context.Context, q LogQuery) (LogPage, error) {
	if err := ctx.Err(); err != nil {
		return LogPage{}, err
	}
	if q.WorkspaceID == "" && len(q.WorkflowIDs) == 0 {
		if q.WorkflowIDs != nil {
			return LogPage{}, nil
		}
		return LogPage{}, invalid("log query needs a workspaceId or workflowIds")
	}
	if q.WorkflowIDs != nil && len(q.WorkflowIDs) == 0 {
		return LogPage{}, nil
	}
	var desc bool
	switch q.Order {
	case "", "desc":
		desc = true
	case "asc":
	default:
		return LogPage{}, invalid("order %q: want asc or desc", q.Order)
	}
	switch q.Level {
	case "", "info", "error":
	default:
		return LogPage{}, invalid("level %q: want info or error", q.Level)
	}
	if q.Limit < 0 {
		return LogPage{}, invalid("limit %d", q.Limit)
	}
	limit := q.Limit
	if limit == 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	var after []byte
	if q.Cursor != "" {
		var err error
		if after, err = decodeCursor(q.Cursor); err != nil {
			return LogPage{}, err
		}
	}
	f := newLogFilter(q)
	if q.ExecutionID != "" {
		return l.listOne(q, f, after)
	}

	var page LogPage
	err := l.db.View(func(tx *bolt.Tx) error {
		var b *bolt.Bucket
		var prefixes []string
		if len(q.WorkflowIDs) > 0 {
			b = tx.Bucket(bIdxWfTime)
			prefixes = slices.Compact(slices.Sorted(slices.Values(q.WorkflowIDs)))
		} else {
			b = tx.Bucket(bIdxWsTime)
			prefixes = []string{q.WorkspaceID}
		}
		its := make([]*idxIter, 0, len(prefixes))
		for _, p := range prefixes {
			if p == "" || strings.IndexByte(p, sep) >= 0 {
				continue
			}
			its = append(its, newIdxIter(b, p, q.Start, q.End, after, desc))
		}
		m := newMerge(its, desc)
		execs := tx.Bucket(bExecutions)
		var last []byte
		for scanned := 0; ; scanned++ {
			if scanned >= l.maxScan && last != nil {
				page.NextCursor = encodeCursor(last)
				return nil
			}
			pos, sum, ok := m.next()
			if !ok {
				return nil
			}
			last = pos
			if !f.matchSummary(sum) {
				continue
			}
			v := execs.Get(pos[8:])
			if v == nil {
				continue // index without record: skip
			}
			e, err := decodeRecord(v)
			if err != nil {
				return err
			}
			if q.WorkspaceID != "" && e.WorkspaceID != q.WorkspaceID {
				continue
			}
			page.Items = append(page.Items, e)
			if len(page.Items) == limit {
				if m.more() {
					page.NextCursor = encodeCursor(pos)
				}
				return nil
			}
		}
	})
	if err != nil {
		return LogPage{}, err
	}
	return page, nil
}

// listOne answers a query naming one execution.
func (l *LogDB) listOne(q LogQuery, f *logFilter, after []byte) (LogPage, error) {
	if after != nil {
		return LogPage{}, nil // the only match was on the first page
	}
	var page LogPage
	err := l.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bExecutions).Get([]byte(q.ExecutionID))
		if v == nil {
			return nil
		}
		h, err := decodeHead(v)
		if err != nil {
			return err
		}
		if q.WorkspaceID != "" && h.WorkspaceID != q.WorkspaceID {
			return nil
		}
		if q.WorkflowIDs != nil && !slices.Contains(q.WorkflowIDs, h.WorkflowID) {
			return nil
		}
		if (!q.Start.IsZero() && h.StartedAt < q.Start.UnixNano()) || (!q.End.IsZero() && h.StartedAt >= q.End.UnixNano()) {
			return nil
		}
		if !f.match([]byte(h.Status), []byte(h.Level), []byte(h.Trigger), h.DurationMs) {
			return nil
		}
		e, err := decodeRecord(v)
		if err != nil {
			return err
		}
		page.Items = []*Execution{e}
		return nil
	})
	return page, err
}

type logFilter struct {
	triggers, statuses map[string]struct{}
	level              string
	minDur, maxDur     *int64
}

func newLogFilter(q LogQuery) *logFilter {
	set := func(vs []string) map[string]struct{} {
		if len(vs) == 0 {
			return nil
		}
		m := make(map[string]struct{}, len(vs))
		for _, v := range vs {
			m[v] = struct{}{}
		}
		return m
	}
	return &logFilter{triggers: set(q.Triggers), statuses: set(q.Statuses), level: q.Level, minDur: q.MinDurationMs, maxDur: q.MaxDurationMs}
}

func (f *logFilter) matchSummary(sum []byte) bool {
	status, level, trigger, dur, ok := parseSummary(sum)
	if !ok {
		return true // unknown summary: let the record decide (never happens in v1)
	}
	return f.match(status, level, trigger, dur)
}

func (f *logFilter) match(status, level, trigger []byte, dur int64) bool {
	if f.level != "" && string(level) != f.level {
		return false
	}
	if f.statuses != nil {
		if _, ok := f.statuses[string(status)]; !ok {
			return false
		}
	}
	if f.triggers != nil {
		if _, ok := f.triggers[string(trigger)]; !ok {
			return false
		}
	}
	if f.minDur != nil && dur < *f.minDur {
		return false
	}
	if f.maxDur != nil && dur > *f.maxDur {
		return false
	}
	return true
}

// idxIter walks one prefix of a time index between low (inclusive) and high
// (exclusive), both full keys.
type idxIter struct {
	c         *bolt.Cursor
	low, high []byte
	plen      int
	desc      bool
	k, v      []byte // current entry; k nil when exhausted
}

func newIdxIter(b *bolt.Bucket, prefix string, start, end time.Time, after []byte, desc bool) *idxIter {
	p := append([]byte(prefix), sep)
	it := &idxIter{c: b.Cursor(), plen: len(p), desc: desc}
	it.low = bytes.Clone(p)
	if !start.IsZero() {
		it.low = append(it.low, encTime(start.UnixNano())...)
	}
	if end.IsZero() {
		it.high = append([]byte(prefix), sep+1)
	} else {
		it.high = append(bytes.Clone(p), encTime(end.UnixNano())...)
	}
	if after != nil {
		if desc {
			if k := append(bytes.Clone(p), after...); bytes.Compare(k, it.high) < 0 {
				it.high = k
			}
		} else {
			if k := append(append(bytes.Clone(p), after...), 0); bytes.Compare(k, it.low) > 0 {
				it.low = k
			}
		}
	}
	if bytes.Compare(it.low, it.high) >= 0 {
		return it
	}
	if desc {
		k, v := it.c.Seek(it.high)
		if k == nil {
			k, v = it.c.Last()
		} else {
			k, v = it.c.Prev()
		}
		it.set(k, v)
	} else {
		it.set(it.c.Seek(it.low))
	}
	return it
}

func (it *idxIter) set(k, v []byte) {
	if k == nil || bytes.Compare(k, it.low) < 0 || bytes.Compare(k, it.high) >= 0 || len(k) < it.plen+9 {
		it.k, it.v = nil, nil
		return
	}
	it.k, it.v = k, v
}

func (it *idxIter) advance() {
	if it.desc {
		it.set(it.c.Prev())
	} else {
		it.set(it.c.Next())
	}
}

// pos is the current entry's time and id: the cursor position.
func (it *idxIter) pos() []byte { return it.k[it.plen:] }

// merge yields the entries of several iterators in one (time, id) order.
type merge struct {
	its  []*idxIter
	desc bool
}

func newMerge(its []*idxIter, desc bool) *merge {
	m := &merge{desc: desc}
	for _, it := range its {
		if it.k != nil {
			m.its = append(m.its, it)
		}
	}
	heap.Init(m)
	return m
}

func (m *merge) Len() int { return len(m.its) }
func (m *merge) Less(i, j int) bool {
	c := bytes.Compare(m.its[i].pos(), m.its[j].pos())
	if m.desc {
		return c > 0
	}
	return c < 0
}
func (m *merge) Swap(i, j int) { m.its[i], m.its[j] = m.its[j], m.its[i] }
func (m *merge) Push(x any)    { m.its = append(m.its, x.(*idxIter)) }
func (m *merge) Pop() any {
	it := m.its[len(m.its)-1]
	m.its = m.its[:len(m.its)-1]
	return it
}

func (m *merge) next() (pos, v []byte, ok bool) {
	if len(m.its) == 0 {
		return nil, nil, false
	}
	top := m.its[0]
	pos, v = top.pos(), top.v
	top.advance()
	if top.k == nil {
		heap.Pop(m)
	} else {
		heap.Fix(m, 0)
	}
	return pos, v, true
}

func (m *merge) more() bool { return len(m.its) > 0 }

func encodeCursor(pos []byte) string { return base64.RawURLEncoding.EncodeToString(pos) }

func decodeCursor(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 9 || bytes.IndexByte(b[8:], sep) >= 0 {
		return nil, invalid("malformed cursor")
	}
	return b, nil
}

// ---- Metrics ----

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

// Metrics aggregates finished executions (completed, failed, cancelled; failed ones are
// errors) per bucket from the hourly rollups, never reading records. Buckets come in
// ascending time order and only buckets with at least one execution are returned.
// Percentiles are estimated from a log-spaced histogram (within about 13%).
func (l *LogDB) Metrics(ctx context.Context, q MetricsQuery) ([]MetricsBucket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Bucket == 0 {
		q.Bucket = time.Hour
	}
	if q.Bucket < time.Hour || q.Bucket%time.Hour != 0 {
		return nil, invalid("metrics bucket %v: want a whole number of hours", q.Bucket)
	}
	if q.WorkspaceID == "" && len(q.WorkflowIDs) == 0 {
		if q.WorkflowIDs != nil {
			return nil, nil
		}
		return nil, invalid("metrics query needs a workspaceId or workflowIds")
	}
	if q.WorkflowIDs != nil && len(q.WorkflowIDs) == 0 {
		return nil, nil
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.End.Before(q.Start) {
		return nil, invalid("metrics end %v before start %v", q.End, q.Start)
	}
	bucketSec := int64(q.Bucket / time.Second)
	agg := map[int64]*rollup{}
	err := l.db.View(func(tx *bolt.Tx) error {
		var b *bolt.Bucket
		var prefixes []string
		if q.WorkflowIDs != nil {
			b = tx.Bucket(bRollups)
			prefixes = slices.Compact(slices.Sorted(slices.Values(q.WorkflowIDs)))
		} else {
			b = tx.Bucket(bRollupsWs)
			prefixes = []string{q.WorkspaceID}
		}
		for _, p := range prefixes {
			pk := append([]byte(p), sep)
			seek := bytes.Clone(pk)
			if !q.Start.IsZero() {
				seek = append(seek, encTime(hourOf(q.Start.UnixNano()))...)
			}
			c := b.Cursor()
			for k, v := c.Seek(seek); k != nil && bytes.HasPrefix(k, pk); k, v = c.Next() {
				if len(k) != len(pk)+8 {
					continue
				}
				hour := decTime(k[len(pk):])
				if !q.End.IsZero() && hour*int64(time.Second) >= q.End.UnixNano() {
					break
				}
				var r rollup
				if err := r.decode(v); err != nil {
					return fmt.Errorf("rollup %q: %w", k, err)
				}
				bs := floorDiv(hour, bucketSec) * bucketSec
				a := agg[bs]
				if a == nil {
					a = &rollup{}
					agg[bs] = a
				}
				a.merge(&r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]MetricsBucket, 0, len(agg))
	for _, bs := range slices.Sorted(mapsKeys(agg)) {
		r := agg[bs]
		if r.Count <= 0 {
			continue
		}
		out = append(out, MetricsBucket{
			Start:     time.Unix(bs, 0).UTC(),
			Count:     r.Count,
			Errors:    r.Errors,
			ErrorRate: float64(r.Errors) / float64(r.Count),
			P50Ms:     r.percentile(0.50),
			P95Ms:     r.percentile(0.95),
			P99Ms:     r.percentile(0.99),
			Cost:      r.Cost,
		})
	}
	return out, nil
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// histBuckets log-spaced duration buckets: bucket 0 is [0, 1 ms), buckets 1..n-2 split
// [1 ms, 1 h) evenly on a log scale (ratio ≈ 1.13), bucket n-1 is [1 h, ∞). Changing
// this changes the meaning of stored rollups: bump rollupVersion.
const (
	histBuckets   = 128
	rollupVersion = 1
	histMaxMs     = 3_600_000
)

var histEdges = func() (e [histBuckets - 1]float64) {
	step := math.Log(histMaxMs) / float64(histBuckets-2)
	for i := range e {
		e[i] = math.Exp(float64(i) * step)
	}
	e[len(e)-1] = histMaxMs
	return e
}()

func histIndex(ms int64) int {
	d := float64(ms)
	i, _ := slices.BinarySearch(histEdges[:], d) // first edge >= d
	if i < len(histEdges) && histEdges[i] == d {
		i++ // edges are inclusive lower bounds of the next bucket
	}
	return i
}

func histBounds(i int) (lo, hi float64) {
	switch {
	case i == 0:
		return 0, histEdges[0]
	case i >= len(histEdges):
		return histEdges[len(histEdges)-1], histEdges[len(histEdges)-1]
	default:
		return histEdges[i-1], histEdges[i]
	}
}

// rollup aggregates the finished executions of one workflow (or workspace) in one hour.
type rollup struct {
	Count, Errors int64
	Cost          float64
	Hist          [histBuckets]int64
}

func (r *rollup) merge(o *rollup) {
	r.Count += o.Count
	r.Errors += o.Errors
	r.Cost += o.Cost
	for i := range r.Hist {
		r.Hist[i] += o.Hist[i]
	}
}

// percentile estimates the p-quantile (nearest rank) by interpolating inside the
// histogram bucket that holds it.
func (r *rollup) percentile(p float64) float64 {
	var n int64
	for _, c := range r.Hist {
		n += c
	}
	if n <= 0 {
		return 0
	}
	rank := int64(math.Ceil(p * float64(n)))
	rank = max(rank, 1)
	var cum int64
	for i, c := range r.Hist {
		if c <= 0 {
			continue
		}
		if cum+c >= rank {
			lo, hi := histBounds(i)
			frac := (float64(rank-cum) - 0.5) / float64(c)
			return lo + (hi-lo)*frac
		}
		cum += c
	}
	lo, _ := histBounds(histBuckets - 1)
	return lo
}

// encode: version, varint count, errors, float64 cost, then (index, count) varint pairs
// for the non-empty histogram buckets.
func (r *rollup) encode() []byte {
	b := []byte{rollupVersion}
	b = binary.AppendVarint(b, r.Count)
	b = binary.AppendVarint(b, r.Errors)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Cost))
	for i, c := range r.Hist {
		if c != 0 {
			b = binary.AppendUvarint(b, uint64(i))
			b = binary.AppendVarint(b, c)
		}
	}
	return b
}

func (r *rollup) decode(b []byte) error {
	*r = rollup{}
	if len(b) == 0 || b[0] != rollupVersion {
		return errors.New("unknown rollup encoding")
	}
	d := decoder{b: b[1:]}
	r.Count = d.varint()
	r.Errors = d.varint()
	r.Cost = math.Float64frombits(d.uint64())
	for len(d.b) > 0 && d.err == nil {
		i := d.uvarint()
		c := d.varint()
		if i >= histBuckets {
			return errors.New("rollup histogram index out of range")
		}
		r.Hist[i] = c
	}
	return d.err
}

// addRollups adds (sign 1) or removes (sign -1) h's contribution to its workflow's and
// workspace's hourly rollups. Empty rollups are deleted.
func addRollups(tx *bolt.Tx, h *head, sign int64) error {
	hour := encTime(hourOf(h.StartedAt))
	for _, t := range [...]struct {
		bucket []byte
		owner  string
	}{{bRollups, h.WorkflowID}, {bRollupsWs, h.WorkspaceID}} {
		b := tx.Bucket(t.bucket)
		k := append(append([]byte(t.owner), sep), hour...)
		var r rollup
		if v := b.Get(k); v != nil {
			if err := r.decode(v); err != nil {
				return fmt.Errorf("rollup %q: %w", k, err)
			}
		}
		r.Count += sign
		if h.Status == StatusFailed {
			r.Errors += sign
		}
		r.Cost += float64(sign) * h.Cost
		r.Hist[histIndex(max(h.DurationMs, 0))] += sign
		if r.Count <= 0 {
			if err := b.Delete(k); err != nil {
				return err
			}
			continue
		}
		if err := b.Put(k, r.encode()); err != nil {
			return err
		}
	}
	return nil
}

// ---- encoding ----

// head is the binary prefix of a stored record.
type head struct {
	WorkspaceID, WorkflowID, RunID string
	Trigger, Status, Level         string
	StartedAt                      int64 // unix ns
	DurationMs                     int64
	Cost                           float64
}

const summaryVersion = 1

func headOf(e *Execution) head {
	return head{
		WorkspaceID: e.WorkspaceID, WorkflowID: e.WorkflowID, RunID: e.RunID,
		Trigger: e.Trigger, Status: e.Status, Level: e.Level,
		StartedAt: e.StartedAt.UnixNano(), DurationMs: e.DurationMs, Cost: e.Cost,
	}
}

// appendSummary encodes what List filters on: version, status, level, trigger, duration.
func (h *head) appendSummary(b []byte) []byte {
	b = append(b, summaryVersion)
	b = appendStr(b, h.Status)
	b = appendStr(b, h.Level)
	b = appendStr(b, h.Trigger)
	return binary.AppendVarint(b, h.DurationMs)
}

func (h *head) appendFull(b []byte) []byte {
	b = h.appendSummary(b)
	b = appendStr(b, h.WorkspaceID)
	b = appendStr(b, h.WorkflowID)
	b = appendStr(b, h.RunID)
	b = binary.AppendVarint(b, h.StartedAt)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(h.Cost))
}

func parseSummary(b []byte) (status, level, trigger []byte, dur int64, ok bool) {
	if len(b) == 0 || b[0] != summaryVersion {
		return nil, nil, nil, 0, false
	}
	d := decoder{b: b[1:]}
	status, level, trigger = d.bytes(), d.bytes(), d.bytes()
	dur = d.varint()
	return status, level, trigger, dur, d.err == nil
}

func decodeHead(v []byte) (*head, error) {
	n, sz := binary.Uvarint(v)
	if sz <= 0 || n > uint64(len(v)-sz) {
		return nil, errors.New("corrupt record header")
	}
	b := v[sz : sz+int(n)]
	if len(b) == 0 || b[0] != summaryVersion {
		return nil, errors.New("unknown record header version")
	}
	d := decoder{b: b[1:]}
	h := &head{}
	h.Status, h.Level, h.Trigger = string(d.bytes()), string(d.bytes()), string(d.bytes())
	h.DurationMs = d.varint()
	h.WorkspaceID, h.WorkflowID, h.RunID = string(d.bytes()), string(d.bytes()), string(d.bytes())
	h.StartedAt = d.varint()
	h.Cost = math.Float64frombits(d.uint64())
	if d.err != nil {
		return nil, fmt.Errorf("record header: %w", d.err)
	}
	return h, nil
}

func decodeRecord(v []byte) (*Execution, error) {
	n, sz := binary.Uvarint(v)
	if sz <= 0 || n > uint64(len(v)-sz) {
		return nil, errors.New("corrupt execution record")
	}
	e := new(Execution)
	if err := json.Unmarshal(v[sz+int(n):], e); err != nil {
		return nil, fmt.Errorf("decode execution record: %w", err)
	}
	return e, nil
}

// encodeExecution marshals e, shrinking it to limit bytes if needed: first without
// BlockLogs and TraceSpans, then with Output and Input replaced by a note and Error cut.
// limit is MaxRecordBytes.
func encodeExecution(e *Execution, limit int) ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil || len(data) <= limit {
		return data, err
	}
	c := *e
	c.Truncated = true
	c.BlockLogs, c.TraceSpans = nil, nil
	steps := []func(){
		func() {
			if len(c.Output) > 0 {
				c.Output = truncNote("output", len(e.Output), limit)
			}
		},
		func() {
			if len(c.Input) > 0 {
				c.Input = truncNote("input", len(e.Input), limit)
			}
		},
		func() {
			if len(c.Error) > 4096 {
				c.Error = strings.ToValidUTF8(c.Error[:4096], "") + " … [truncated]"
			}
		},
	}
	for i := 0; ; i++ {
		data, err = json.Marshal(&c)
		if err != nil || len(data) <= limit || i == len(steps) {
			return data, err
		}
		steps[i]()
	}
}

func truncNote(what string, n, limit int) json.RawMessage {
	b, _ := json.Marshal(fmt.Sprintf("[%s truncated: %d bytes exceeded the %d-byte record limit]", what, n, limit))
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated value")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// encTime encodes a signed time so byte order is numeric order.
func encTime(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)^(1<<63)) }

func decTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func idxKey(prefix string, ns int64, id string) []byte {
	k := make([]byte, 0, len(prefix)+1+8+len(id))
	k = append(k, prefix...)
	k = append(k, sep)
	k = binary.BigEndian.AppendUint64(k, uint64(ns)^(1<<63))
	return append(k, id...)
}

func timeKey(ns int64, id string) []byte {
	k := make([]byte, 0, 8+len(id))
	k = binary.BigEndian.AppendUint64(k, uint64(ns)^(1<<63))
	return append(k, id...)
}

// hourOf returns the unix second of the hour holding ns.
func hourOf(ns int64) int64 { return floorDiv(ns, int64(time.Hour)) * 3600 }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
