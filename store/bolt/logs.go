package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/internal/batch"
	bbolt "go.etcd.io/bbolt"
)

// logs.db layout (all integers big-endian; times are "offset binary": the int64 with its
// sign bit flipped, so byte order equals time order even before 1970):
//
//	meta         schema → uint32
//	executions   id → uvarint(len(head)) + head + body (JSON before bodyCompact, see logs_encoding.go)
//	idx_ws_time  wsID 0x00 startedAt(ns) id → summary (status, level, trigger, duration)
//	idx_wf_time  wfID 0x00 startedAt(ns) id → summary
//	idx_time     startedAt(ns) id → ∅ (drives Prune)
//	idx_run      wfID 0x00 runID → id
//	idx_open     id → ∅ for queued and running records (what a restart must settle)
//	rollups      wfID 0x00 hour(unix s) → rollup
//	rollups_ws   wsID 0x00 hour(unix s) → rollup
//
// The head is a small binary copy of the fields the write path and Prune need, so
// overwriting or pruning a record never decodes its (up to MaxRecordBytes) body. The
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
	bIdxOpen    = []byte("idx_open")
)

var logMigrations = []migration{
	{1, "log buckets", func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bExecutions, bIdxWsTime, bIdxWfTime, bIdxTime, bIdxRun, bRollups, bRollupsWs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}},
	{2, "index of unfinished executions", func(tx *bbolt.Tx) error {
		open, err := tx.CreateBucketIfNotExists(bIdxOpen)
		if err != nil {
			return fmt.Errorf("create bucket %s: %w", bIdxOpen, err)
		}
		return tx.Bucket(bExecutions).ForEach(func(k, v []byte) error {
			h, err := decodeHead(v)
			if err != nil {
				return fmt.Errorf("execution %s: %w", k, err)
			}
			if finished(h.Status) {
				return nil
			}
			return open.Put(bytes.Clone(k), nil)
		})
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

	dir string // data directory, for recovery hints
}

// LogDB stores executions in logs.db. Writes go through one goroutine that commits
// queued records together (group commit, fsync on); reads are short View transactions.
type LogDB struct {
	db   *bbolt.DB
	path string
	opts LogOptions

	batch *batch.Writer[*putReq] // the group commit

	maxScan int     // List scan bound (tests lower it)
	health  *health // shared with the Store; nil for a LogDB opened alone
}

type putReq struct {
	id   string
	h    head
	data []byte // encoded value: head + JSON
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
	if opts.dir == "" {
		opts.dir = filepath.Dir(path)
	}
	db, err := openBoltWith(path, opts.dir, &bbolt.Options{Timeout: opts.LockTimeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	if err := safely(func() error {
		return db.Update(func(tx *bbolt.Tx) error {
			meta, err := tx.CreateBucketIfNotExists(bMeta)
			if err != nil {
				return fmt.Errorf("create meta bucket: %w", err)
			}
			return runMigrations(meta, tx, logMigrations, "logs.db")
		})
	}); err != nil {
		db.Close()
		return nil, corruptHint(path, opts.dir, err)
	}
	l := &LogDB{
		db:      db,
		path:    path,
		opts:    opts,
		maxScan: defaultMaxScan,
		health:  newHealth(opts.dir, nil),
	}
	l.batch = batch.New(batch.Options{Size: opts.BatchSize, Delay: opts.BatchDelay, Closed: errLogsClosed}, l.write, nil)
	return l, nil
}

// Close waits for every accepted Put to commit, then closes the file. Later Puts fail.
func (l *LogDB) Close() error {
	if !l.batch.Close() {
		return nil
	}
	return l.db.Close()
}

// Get returns the execution with id, or an error wrapping ErrNotFound.
func (l *LogDB) Get(ctx context.Context, id string) (*store.Execution, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var e *store.Execution
	err := l.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bExecutions).Get([]byte(id))
		if v == nil {
			return notFound("execution", id)
		}
		var err error
		e, err = decodeRecord([]byte(id), v)
		return err
	})
	return e, err
}

// GetByRunID returns the execution of workflowID with the client-chosen runID, or an
// error wrapping ErrNotFound.
func (l *LogDB) GetByRunID(ctx context.Context, workflowID, runID string) (*store.Execution, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var e *store.Execution
	err := l.db.View(func(tx *bbolt.Tx) error {
		id := tx.Bucket(bIdxRun).Get(ckey(workflowID, runID))
		if id == nil {
			return notFound("run", workflowID+"/"+runID)
		}
		v := tx.Bucket(bExecutions).Get(id)
		if v == nil {
			return notFound("execution", string(id))
		}
		var err error
		e, err = decodeRecord(id, v)
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
	err := l.db.View(func(tx *bbolt.Tx) error {
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
	err := l.db.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup logs.db: %w", err)
	}
	return n, nil
}

// Unfinished returns the executions recorded as queued or running, oldest first. At
// start these are the jobs the previous process accepted but did not finish.
func (l *LogDB) Unfinished(ctx context.Context) ([]*store.Execution, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []*store.Execution
	err := l.db.View(func(tx *bbolt.Tx) error {
		execs := tx.Bucket(bExecutions)
		return tx.Bucket(bIdxOpen).ForEach(func(k, _ []byte) error {
			v := execs.Get(k)
			if v == nil {
				return nil
			}
			e, err := decodeRecord(k, v)
			if err != nil {
				return fmt.Errorf("execution %s: %w", k, err)
			}
			if !inFlight(e.Status) {
				return nil // indexed by an older build, which indexed every unfinished status
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}
