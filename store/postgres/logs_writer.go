package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/internal/batch"
)

const (
	logBatchSize  = 256
	logBatchDelay = 2 * time.Millisecond
	// logBatchBytes bounds one batch's statement (records are up to MaxRecordBytes each).
	logBatchBytes = 16 << 20
	// pruneChunk is the number of executions one retention DELETE removes, so writes
	// interleave with a large prune (as in store/bolt).
	pruneChunk = 1000
)

// errLogsClosed is returned by Put after Close.
var errLogsClosed = errors.New("postgres: execution log is closed")

// errRunIDTaken reports a run id held by another execution of the workflow.
var errRunIDTaken = errors.New("run id belongs to another execution")

// logs is store.Logs on PostgreSQL. Writes go through one goroutine that writes the
// queued records together, set-based, in one transaction (group commit) and acknowledges
// each after the commit; reads query the pool directly.
type logs struct {
	db *DB

	batch *batch.Writer[*putReq] // the group commit

	parts partitions
}

// putReq is one accepted record: a private copy, cut to size, times as PostgreSQL keeps
// them (UTC, microseconds), so the partition and rollup hour computed here are the ones
// the database sees.
type putReq struct {
	e     store.Execution
	month int // partition the record goes to
	size  int // bytes of its big fields, which bound a batch (logBatchBytes)
	// then, if set, runs in the record's transaction after it is written: what must
	// commit with the record or not at all (the River job of a queued run).
	then func(ctx context.Context, tx pgx.Tx) error
}

func newLogs(db *DB) *logs {
	l := &logs{db: db}
	l.batch = batch.New(batch.Options{Size: logBatchSize, Bytes: logBatchBytes, Delay: logBatchDelay,
		Timeout: time.Minute, Closed: errLogsClosed}, l.write, func(r *putReq) int { return r.size })
	return l
}

// close waits for accepted writes to commit. Later Puts fail.
func (l *logs) close() error {
	l.batch.Close()
	return nil
}

func (l *logs) Put(ctx context.Context, e *store.Execution) error {
	r, err := request(ctx, e)
	if err != nil {
		return err
	}
	return l.batch.Put(ctx, r)
}

// putThen is Put with then run in the record's transaction (see putReq.then).
func (l *logs) putThen(ctx context.Context, e *store.Execution, then func(context.Context, pgx.Tx) error) error {
	r, err := request(ctx, e)
	if err != nil {
		return err
	}
	r.then = then
	return l.batch.Put(ctx, r)
}

func (l *logs) Mark(ctx context.Context, e *store.Execution) error {
	r, err := request(ctx, e)
	if err != nil {
		return err
	}
	return l.batch.Mark(ctx, r)
}

// request validates e as store/bolt does and copies it for the writer.
func request(ctx context.Context, e *store.Execution) (*putReq, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if e == nil {
		return nil, invalidLog("execution is nil")
	}
	for _, f := range [...]struct{ name, v string }{{"id", e.ID}, {"workflowId", e.WorkflowID}, {"workspaceId", e.WorkspaceID}} {
		if f.v == "" || strings.IndexByte(f.v, 0) >= 0 || !utf8.ValidString(f.v) {
			return nil, invalidLog("execution %s %q", f.name, f.v)
		}
	}
	if strings.IndexByte(e.RunID, 0) >= 0 || !utf8.ValidString(e.RunID) {
		return nil, invalidLog("execution runId %q", e.RunID)
	}
	if e.StartedAt.IsZero() {
		return nil, invalidLog("execution %q has no startedAt", e.ID)
	}
	fit, err := store.FitExecution(e, store.MaxRecordBytes)
	if err != nil {
		return nil, err
	}
	r := &putReq{e: *fit}
	r.e.StartedAt = fit.StartedAt.Truncate(time.Microsecond).UTC()
	if fit.EndedAt != nil {
		t := fit.EndedAt.Truncate(time.Microsecond).UTC()
		r.e.EndedAt = &t
	}
	r.e.Input, r.e.Output = rawBytes(fit.Input), rawBytes(fit.Output)
	r.e.BlockLogs, r.e.TraceSpans = rawBytes(fit.BlockLogs), rawBytes(fit.TraceSpans)
	// PostgreSQL text holds UTF-8 without NUL; bbolt keeps any bytes. A log record is
	// worth more than these bytes, so they are replaced rather than the record refused.
	for _, f := range [...]*string{&r.e.Trigger, &r.e.Status, &r.e.Level, &r.e.Error, &r.e.ErrorCode, &r.e.KeyID, &r.e.UserID, &r.e.BilledTo, &r.e.TriggerBlockID} {
		if !utf8.ValidString(*f) || strings.IndexByte(*f, 0) >= 0 {
			*f = strings.ReplaceAll(strings.ToValidUTF8(*f, "\uFFFD"), "\x00", "\uFFFD")
		}
	}
	r.month = monthOf(r.e.StartedAt)
	r.size = len(r.e.Input) + len(r.e.Output) + len(r.e.BlockLogs) + len(r.e.TraceSpans) + len(r.e.Error)
	return r, nil
}

// rawBytes keeps nil as NULL and copies the rest: Put never keeps the caller's slices.
func rawBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// write runs batch in one transaction, creating missing partitions first. A partition
// dropped by another replica's retention since it was cached is recreated once.
func (l *logs) write(ctx context.Context, batch []*putReq) error {
	for attempt := 0; ; attempt++ {
		if err := l.parts.ensure(ctx, l.db, batch); err != nil {
			return err
		}
		err := l.db.InTx(ctx, func(tx pgx.Tx) error {
			if err := writeBatch(ctx, tx, batch); err != nil {
				return err
			}
			for _, r := range batch {
				if r.then != nil {
					if err := r.then(ctx, tx); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err == nil {
			return nil
		}
		if errors.Is(err, errRunIDTaken) {
			return fmt.Errorf("put execution: %w: %w", err, store.ErrConflict)
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23514" && attempt == 0 { // no partition for a row
			l.parts.forget()
			continue
		}
		return fmt.Errorf("put executions: %w", err)
	}
}

// writeBatch writes batch in rounds of distinct ids (a record written twice in one batch,
// as a start marker and its final Put, goes in two rounds, in order), then the rollup
// changes they add up to.
func writeBatch(ctx context.Context, tx pgx.Tx, batch []*putReq) error {
	deltas := rollupDeltas{}
	for len(batch) > 0 {
		var round, rest []*putReq
		seen := make(map[string]bool, len(batch))
		for _, r := range batch {
			if seen[r.e.ID] {
				rest = append(rest, r)
				continue
			}
			seen[r.e.ID] = true
			round = append(round, r)
		}
		if err := writeRound(ctx, tx, round, deltas, len(rest) == 0); err != nil {
			return err
		}
		batch = rest
	}
	return nil
}

// oldRow is what a replaced record's write must undo.
type oldRow struct {
	id, workspaceID, workflowID, status, runID string
	startedAt                                  time.Time
	cost                                       float64
	bucket                                     int16
}

// writeRound writes records with distinct ids, set-based, in two round trips: claim
// their run ids and read and lock the records they replace; then release the run ids and
// rows the replaced records leave behind, upsert the new rows and, after the last round,
// the rollups.
func writeRound(ctx context.Context, tx pgx.Tx, round []*putReq, deltas rollupDeltas, last bool) error {
	var c execColumns
	var runWf, runID, runExec []string
	var runAt []time.Time
	byID := make(map[string]*store.Execution, len(round))
	for _, r := range round {
		e := &r.e
		c.add(e)
		byID[e.ID] = e
		if e.RunID != "" {
			runWf, runID, runExec, runAt = append(runWf, e.WorkflowID), append(runID, e.RunID), append(runExec, e.ID), append(runAt, e.StartedAt)
		}
	}
	b := &pgx.Batch{}
	if len(runID) > 0 {
		// A run id held by another execution is not updated, so it is missing from the
		// returned rows. Two records of one batch claiming one run id fail the whole
		// statement (a row affected twice); retried alone, the first one wins.
		b.Queue(`WITH c AS (
			INSERT INTO execution_run_ids AS r (workflow_id, run_id, execution_id, started_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
			ON CONFLICT (workflow_id, run_id) DO UPDATE SET started_at = excluded.started_at
				WHERE r.execution_id = excluded.execution_id
			RETURNING 1
		) SELECT count(*) FROM c`, runWf, runID, runExec, runAt)
	}
	b.Queue(`SELECT id, workspace_id, workflow_id, status, run_id, started_at, cost, duration_bucket
		FROM executions WHERE id = ANY($1) FOR UPDATE`, c.id)
	res := tx.SendBatch(ctx, b)
	if len(runID) > 0 {
		var claimed int
		err := res.QueryRow().Scan(&claimed)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "21000" { // cardinality_violation
			err = fmt.Errorf("run ids repeated in one batch: %w", errRunIDTaken)
		} else if err == nil && claimed != len(runID) {
			err = fmt.Errorf("%d of %d run ids: %w", len(runID)-claimed, len(runID), errRunIDTaken)
		}
		if err != nil {
			res.Close()
			return err
		}
	}
	rows, err := res.Query()
	if err != nil {
		res.Close()
		return err
	}
	olds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (oldRow, error) {
		var o oldRow
		err := row.Scan(&o.id, &o.workspaceID, &o.workflowID, &o.status, &o.runID, &o.startedAt, &o.cost, &o.bucket)
		return o, err
	})
	if err == nil {
		err = res.Close()
	} else {
		res.Close()
	}
	if err != nil {
		return err
	}
	var relWf, relRun, relExec, delID []string
	var delAt []time.Time
	for _, o := range olds {
		e := byID[o.id]
		if o.runID != "" && (o.runID != e.RunID || o.workflowID != e.WorkflowID) {
			relWf, relRun, relExec = append(relWf, o.workflowID), append(relRun, o.runID), append(relExec, o.id)
		}
		if !o.startedAt.Equal(e.StartedAt) {
			delID, delAt = append(delID, o.id), append(delAt, o.startedAt)
		}
		if finished(o.status) {
			deltas.add(o.workspaceID, o.workflowID, o.startedAt, o.status, o.cost, int(o.bucket), -1)
		}
	}
	for _, r := range round {
		if finished(r.e.Status) {
			deltas.add(r.e.WorkspaceID, r.e.WorkflowID, r.e.StartedAt, r.e.Status, r.e.Cost, store.DurationBucket(r.e.DurationMs), 1)
		}
	}
	b = &pgx.Batch{}
	if len(relRun) > 0 {
		b.Queue(`DELETE FROM execution_run_ids WHERE (workflow_id, run_id, execution_id) IN
			(SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`, relWf, relRun, relExec)
	}
	if len(delID) > 0 {
		b.Queue(`DELETE FROM executions WHERE (id, started_at) IN
			(SELECT * FROM unnest($1::text[], $2::timestamptz[]))`, delID, delAt)
	}
	b.Queue(upsertSQL, c.args()...)
	if last {
		deltas.queue(b)
	}
	return tx.SendBatch(ctx, b).Close()
}

const upsertSQL = `INSERT INTO executions (id, workspace_id, workflow_id, version, trigger, status, level,
		started_at, ended_at, duration_ms, duration_bucket, cost, error, error_code, key_id, user_id,
		billed_to, run_id, trigger_block_id, truncated, input, output, block_logs, trace_spans)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],
		$7::text[], $8::timestamptz[], $9::timestamptz[], $10::bigint[], $11::smallint[],
		$12::float8[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
		$19::text[], $20::boolean[], $21::bytea[], $22::bytea[], $23::bytea[], $24::bytea[])
	ON CONFLICT (id, started_at) DO UPDATE SET
		workspace_id = excluded.workspace_id, workflow_id = excluded.workflow_id,
		version = excluded.version, trigger = excluded.trigger, status = excluded.status,
		level = excluded.level, ended_at = excluded.ended_at, duration_ms = excluded.duration_ms,
		duration_bucket = excluded.duration_bucket, cost = excluded.cost, error = excluded.error,
		error_code = excluded.error_code, key_id = excluded.key_id, user_id = excluded.user_id,
		billed_to = excluded.billed_to, run_id = excluded.run_id,
		trigger_block_id = excluded.trigger_block_id, truncated = excluded.truncated,
		input = excluded.input, output = excluded.output, block_logs = excluded.block_logs,
		trace_spans = excluded.trace_spans`

// execColumns holds a round's records column by column, for unnest.
type execColumns struct {
	id, ws, wf, trigger, status, level     []string
	errMsg, errCode, keyID, userID, billed []string
	runID, triggerBlock                    []string
	version, durationMs                    []int64
	bucket                                 []int16
	cost                                   []float64
	started                                []time.Time
	ended                                  []*time.Time
	truncated                              []bool
	input, output, blockLogs, traceSpans   [][]byte
}

func (c *execColumns) add(e *store.Execution) {
	c.id, c.ws, c.wf = append(c.id, e.ID), append(c.ws, e.WorkspaceID), append(c.wf, e.WorkflowID)
	c.version = append(c.version, int64(e.Version))
	c.trigger, c.status, c.level = append(c.trigger, e.Trigger), append(c.status, e.Status), append(c.level, e.Level)
	c.started, c.ended = append(c.started, e.StartedAt), append(c.ended, e.EndedAt)
	c.durationMs = append(c.durationMs, e.DurationMs)
	c.bucket = append(c.bucket, int16(store.DurationBucket(e.DurationMs)))
	c.cost = append(c.cost, e.Cost)
	c.errMsg, c.errCode = append(c.errMsg, e.Error), append(c.errCode, e.ErrorCode)
	c.keyID, c.userID, c.billed = append(c.keyID, e.KeyID), append(c.userID, e.UserID), append(c.billed, e.BilledTo)
	c.runID, c.triggerBlock = append(c.runID, e.RunID), append(c.triggerBlock, e.TriggerBlockID)
	c.truncated = append(c.truncated, e.Truncated)
	c.input, c.output = append(c.input, e.Input), append(c.output, e.Output)
	c.blockLogs, c.traceSpans = append(c.blockLogs, e.BlockLogs), append(c.traceSpans, e.TraceSpans)
}

func (c *execColumns) args() []any {
	return []any{c.id, c.ws, c.wf, c.version, c.trigger, c.status, c.level, c.started, c.ended,
		c.durationMs, c.bucket, c.cost, c.errMsg, c.errCode, c.keyID, c.userID, c.billed,
		c.runID, c.triggerBlock, c.truncated, c.input, c.output, c.blockLogs, c.traceSpans}
}

func finished(status string) bool {
	return status == store.StatusCompleted || status == store.StatusFailed || status == store.StatusCancelled
}

type rollupKey struct {
	table string // execution_rollups (by workflow) or execution_rollups_ws
	owner string
	hour  time.Time
}

type rollupDelta struct {
	count, errors int64
	cost          float64
	hist          store.DurationHistogram
}

// rollupDeltas sums a batch's rollup changes: each changed rollup row is then written
// once per batch, not once per record (many updates of one row in one transaction leave
// a chain of row versions that every later update walks).
type rollupDeltas map[rollupKey]*rollupDelta

// add adds (sign 1) or removes (sign -1) one finished record's contribution.
func (d rollupDeltas) add(ws, wf string, startedAt time.Time, status string, cost float64, bucket int, sign int64) {
	hour := startedAt.UTC().Truncate(time.Hour)
	for _, k := range [...]rollupKey{{"execution_rollups", wf, hour}, {"execution_rollups_ws", ws, hour}} {
		v := d[k]
		if v == nil {
			v = &rollupDelta{}
			d[k] = v
		}
		v.count += sign
		if status == store.StatusFailed {
			v.errors += sign
		}
		v.cost += float64(sign) * cost
		v.hist[bucket] += sign
	}
}

const (
	rollupSQL = `INSERT INTO execution_rollups AS r (workflow_id, hour, count, errors, cost, hist, hist_bin)
		VALUES ($1, $2, $3, $4, $5, $6, logs_hist_sparse($6::bigint[]))
		ON CONFLICT (workflow_id, hour) DO UPDATE SET count = r.count + excluded.count,
			errors = r.errors + excluded.errors, cost = r.cost + excluded.cost,
			hist = logs_hist_add(r.hist, excluded.hist),
			hist_bin = logs_hist_sparse(logs_hist_add(r.hist, excluded.hist))`
	rollupWsSQL = `INSERT INTO execution_rollups_ws AS r (workspace_id, hour, count, errors, cost, hist, hist_bin)
		VALUES ($1, $2, $3, $4, $5, $6, logs_hist_sparse($6::bigint[]))
		ON CONFLICT (workspace_id, hour) DO UPDATE SET count = r.count + excluded.count,
			errors = r.errors + excluded.errors, cost = r.cost + excluded.cost,
			hist = logs_hist_add(r.hist, excluded.hist),
			hist_bin = logs_hist_sparse(logs_hist_add(r.hist, excluded.hist))`
)

// queue adds the upserts of the changed rollups to b in key order, so concurrent writers
// on several replicas lock rollup rows in one order and cannot deadlock on them.
func (d rollupDeltas) queue(b *pgx.Batch) {
	keys := make([]rollupKey, 0, len(d))
	for k, v := range d {
		if v.count != 0 || v.errors != 0 || v.cost != 0 || v.hist != (store.DurationHistogram{}) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b rollupKey) int {
		return cmp.Or(cmp.Compare(a.table, b.table), cmp.Compare(a.owner, b.owner), a.hour.Compare(b.hour))
	})
	for _, k := range keys {
		v := d[k]
		sql := rollupSQL
		if k.table == "execution_rollups_ws" {
			sql = rollupWsSQL
		}
		b.Queue(sql, k.owner, k.hour, v.count, v.errors, v.cost, v.hist[:])
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
