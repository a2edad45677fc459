package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/steelengine/steelengine/store"
)

const (
	logBatchSize  = 256
	logBatchDelay = 2 * time.Millisecond
	// pruneChunk is the number of executions one retention DELETE removes, so writes
	// interleave with a large prune (as in store/bolt).
	pruneChunk = 1000
)

// errLogsClosed is returned by Put after Close.
var errLogsClosed = errors.New("postgres: execution log is closed")

// logs is store.Logs on PostgreSQL. Writes go through one goroutine that sends the
// queued records as one pipelined batch of logs_put calls in one transaction (group
// commit) and acknowledges each after the commit; reads query the pool directly.
type logs struct {
	db *DB

	mu       sync.RWMutex // guards closed and sends on reqs
	closed   bool
	reqs     chan *putReq
	done     chan struct{}
	inflight atomic.Int64 // Puts between enqueue and acknowledgement
	commits  atomic.Int64 // group-commit transactions (for benchmarks)

	parts partitions
}

type putReq struct {
	args  []any // logs_put's arguments
	month int   // partition the record goes to
	done  chan error
}

func newLogs(db *DB) *logs {
	l := &logs{
		db:   db,
		reqs: make(chan *putReq, logBatchSize),
		done: make(chan struct{}),
	}
	go l.writer()
	return l
}

// close waits for accepted writes to commit. Later Puts fail.
func (l *logs) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.reqs)
	l.mu.Unlock()
	<-l.done
	return nil
}

func (l *logs) Put(ctx context.Context, e *store.Execution) error {
	r, err := request(ctx, e)
	if err != nil {
		return err
	}
	l.inflight.Add(1)
	defer l.inflight.Add(-1)
	if err := l.enqueue(ctx, r); err != nil {
		return err
	}
	return <-r.done
}

func (l *logs) Mark(ctx context.Context, e *store.Execution) error {
	r, err := request(ctx, e)
	if err != nil {
		return err
	}
	return l.enqueue(ctx, r)
}

// request validates e as store/bolt does and turns it into logs_put's arguments.
func request(ctx context.Context, e *store.Execution) (*putReq, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if e == nil {
		return nil, invalidLog("execution is nil")
	}
	for _, f := range [...]struct{ name, v string }{{"id", e.ID}, {"workflowId", e.WorkflowID}, {"workspaceId", e.WorkspaceID}} {
		if f.v == "" || strings.IndexByte(f.v, 0) >= 0 {
			return nil, invalidLog("execution %s %q", f.name, f.v)
		}
	}
	if strings.IndexByte(e.RunID, 0) >= 0 {
		return nil, invalidLog("execution runId %q", e.RunID)
	}
	if e.StartedAt.IsZero() {
		return nil, invalidLog("execution %q has no startedAt", e.ID)
	}
	e, err := store.FitExecution(e, store.MaxRecordBytes)
	if err != nil {
		return nil, err
	}
	// PostgreSQL keeps microseconds; truncating here (as pgx would) keeps the partition
	// and rollup hour computed in Go equal to the ones the database sees.
	started := e.StartedAt.Truncate(time.Microsecond).UTC()
	var ended *time.Time
	if e.EndedAt != nil {
		t := e.EndedAt.UTC()
		ended = &t
	}
	args := []any{
		e.ID, e.WorkspaceID, e.WorkflowID, int64(e.Version), e.Trigger,
		e.Status, e.Level, started, ended,
		e.DurationMs, int16(store.DurationBucket(e.DurationMs)), e.Cost, e.Error,
		e.ErrorCode, e.KeyID, e.UserID, e.BilledTo, e.RunID,
		e.TriggerBlockID, e.Truncated, rawBytes(e.Input), rawBytes(e.Output),
		rawBytes(e.BlockLogs), rawBytes(e.TraceSpans),
	}
	return &putReq{args: args, month: monthOf(started), done: make(chan error, 1)}, nil
}

// rawBytes keeps nil as NULL and copies the rest: Put never keeps the caller's slices.
func rawBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

const putSQL = `SELECT logs_put($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`

// enqueue hands r to the writer.
func (l *logs) enqueue(ctx context.Context, r *putReq) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return errLogsClosed
	}
	select {
	case l.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writer is the single goroutine that commits Puts.
func (l *logs) writer() {
	defer close(l.done)
	batch := make([]*putReq, 0, logBatchSize)
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
// either no other Put is in flight or logBatchDelay has passed.
func (l *logs) collect(batch *[]*putReq, timer *time.Timer) {
	timerOn := false
	defer func() {
		if timerOn {
			timer.Stop()
		}
	}()
	for len(*batch) < logBatchSize {
		select {
		case r, ok := <-l.reqs:
			if !ok {
				return
			}
			*batch = append(*batch, r)
			continue
		default:
		}
		if l.inflight.Load() <= int64(len(*batch)) {
			return
		}
		if !timerOn {
			timer.Reset(logBatchDelay)
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

// commit writes batch in one transaction. If that fails, each record is retried alone so
// one bad record (a run id conflict) cannot fail the others.
func (l *logs) commit(batch []*putReq) {
	// The writer outlives any caller's context: an accepted record is written even if
	// its Put gave up waiting.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l.commits.Add(1)
	err := l.write(ctx, batch)
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			r.done <- l.write(ctx, []*putReq{r})
		}
		return
	}
	for _, r := range batch {
		r.done <- err
	}
}

// write runs batch in one transaction, creating missing partitions first. A partition
// dropped by another replica's retention since it was cached is recreated once.
func (l *logs) write(ctx context.Context, batch []*putReq) error {
	for attempt := 0; ; attempt++ {
		if err := l.parts.ensure(ctx, l.db, batch); err != nil {
			return err
		}
		err := l.db.InTx(ctx, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for _, r := range batch {
				b.Queue(putSQL, r.args...)
			}
			return tx.SendBatch(ctx, b).Close()
		})
		if err == nil {
			return nil
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			switch {
			case pe.Code == "SE409":
				return fmt.Errorf("put execution: %s: %w", pe.Message, store.ErrConflict)
			case pe.Code == "23514" && attempt == 0: // no partition of relation found for row
				l.parts.forget()
				continue
			}
		}
		return fmt.Errorf("put executions: %w", err)
	}
}

// partitions remembers which months have a partition, so the writer creates each one
// once instead of checking per row.
type partitions struct {
	mu   sync.Mutex
	have map[int]bool
}

// monthOf numbers t's UTC month (year*12 + month-1).
func monthOf(t time.Time) int {
	t = t.UTC()
	return t.Year()*12 + int(t.Month()) - 1
}

func monthStart(m int) time.Time {
	return time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)
}

func partitionName(m int) string { return fmt.Sprintf("executions_p%04d%02d", m/12, m%12+1) }

func (p *partitions) ensure(ctx context.Context, db *DB, batch []*putReq) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.have == nil {
		p.have = map[int]bool{}
	}
	for _, r := range batch {
		if p.have[r.month] {
			continue
		}
		if err := createPartition(ctx, db, r.month); err != nil {
			return err
		}
		p.have[r.month] = true
	}
	return nil
}

func (p *partitions) forget() {
	p.mu.Lock()
	p.have = nil
	p.mu.Unlock()
}

func (p *partitions) drop(m int) {
	p.mu.Lock()
	delete(p.have, m)
	p.mu.Unlock()
}

// createPartition creates month m's partition unless it exists. Two replicas may race to
// create it: the loser's duplicate error means it exists.
func createPartition(ctx context.Context, db *DB, m int) error {
	sql := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF executions FOR VALUES FROM ('%s') TO ('%s')`,
		partitionName(m), monthStart(m).Format(time.RFC3339), monthStart(m+1).Format(time.RFC3339))
	_, err := db.pool.Exec(ctx, sql)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P07" || pe.Code == "23505") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create partition %s: %w", partitionName(m), err)
	}
	return nil
}

// invalidLog wraps ErrInvalid (named for this file to stay clear of other domains' helpers).
func invalidLog(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), store.ErrInvalid)
}
