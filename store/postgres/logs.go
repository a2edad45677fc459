package postgres

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/steelengine/steelengine/store"
)

const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

const execCols = `id, workspace_id, workflow_id, version, trigger, status, level, started_at, ended_at,
	duration_ms, cost, error, error_code, key_id, user_id, billed_to, run_id, trigger_block_id,
	truncated, input, output, block_logs, trace_spans`

func scanExec(row pgx.CollectableRow) (*store.Execution, error) {
	e := new(store.Execution)
	var version int64
	var ended *time.Time
	var input, output, blockLogs, traceSpans []byte
	if err := row.Scan(&e.ID, &e.WorkspaceID, &e.WorkflowID, &version, &e.Trigger, &e.Status, &e.Level,
		&e.StartedAt, &ended, &e.DurationMs, &e.Cost, &e.Error, &e.ErrorCode, &e.KeyID, &e.UserID,
		&e.BilledTo, &e.RunID, &e.TriggerBlockID, &e.Truncated, &input, &output, &blockLogs, &traceSpans); err != nil {
		return nil, err
	}
	e.Version = uint32(version)
	e.StartedAt = e.StartedAt.UTC()
	if ended != nil {
		t := ended.UTC()
		e.EndedAt = &t
	}
	e.Input, e.Output, e.BlockLogs, e.TraceSpans = rawOrNil(input), rawOrNil(output), rawOrNil(blockLogs), rawOrNil(traceSpans)
	return e, nil
}

// rawOrNil returns nil for an empty field, as store/bolt does.
func rawOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (l *logs) queryOne(ctx context.Context, what, sql string, args ...any) (*store.Execution, error) {
	rows, err := l.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", what, err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanExec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", what, err)
	}
	return e, nil
}

// idWindow is how far from its id's time an execution's started_at is looked for first.
// core makes an execution's id and started_at from one clock reading, so only an id made
// elsewhere (or a record moved since) falls outside it.
const idWindow = 24 * time.Hour

// Get looks in the partitions around the id's time first: the primary key is (id,
// started_at), so a lookup by id alone probes every monthly partition's index. What is
// not there is looked for everywhere, so a record is found wherever its started_at is.
func (l *logs) Get(ctx context.Context, id string) (*store.Execution, error) {
	what := fmt.Sprintf("execution %q", id)
	if at, ok := store.IDTime(id); ok {
		e, err := l.queryOne(ctx, what, `SELECT `+execCols+` FROM executions
			WHERE id = $1 AND started_at BETWEEN $2 AND $3 LIMIT 1`, id, at.Add(-idWindow), at.Add(idWindow))
		if !errors.Is(err, store.ErrNotFound) {
			return e, err
		}
	}
	return l.getAnywhere(ctx, id)
}

// getAnywhere looks for id in every partition.
func (l *logs) getAnywhere(ctx context.Context, id string) (*store.Execution, error) {
	return l.queryOne(ctx, fmt.Sprintf("execution %q", id),
		`SELECT `+execCols+` FROM executions WHERE id = $1 LIMIT 1`, id)
}

func (l *logs) GetByRunID(ctx context.Context, workflowID, runID string) (*store.Execution, error) {
	return l.queryOne(ctx, fmt.Sprintf("run %q", workflowID+"/"+runID),
		`SELECT `+execCols+` FROM executions
		  WHERE (id, started_at) = (SELECT execution_id, started_at FROM execution_run_ids WHERE workflow_id = $1 AND run_id = $2)
		  LIMIT 1`, workflowID, runID)
}

func (l *logs) Count(ctx context.Context) (int, error) {
	var n int
	if err := l.db.pool.QueryRow(ctx, `SELECT count(*) FROM executions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count executions: %w", err)
	}
	return n, nil
}

func (l *logs) Unfinished(ctx context.Context) ([]*store.Execution, error) {
	// Oldest first by id (ULIDs are time-ordered), as store/bolt's index of open runs.
	rows, err := l.db.pool.Query(ctx, `SELECT `+execCols+` FROM executions
		WHERE status IN ('queued', 'running') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list unfinished executions: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanExec)
	if err != nil {
		return nil, fmt.Errorf("list unfinished executions: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func (l *logs) List(ctx context.Context, q store.LogQuery) (store.LogPage, error) {
	if err := ctx.Err(); err != nil {
		return store.LogPage{}, err
	}
	if q.WorkspaceID == "" && len(q.WorkflowIDs) == 0 {
		if q.WorkflowIDs != nil {
			return store.LogPage{}, nil
		}
		return store.LogPage{}, invalidLog("log query needs a workspaceId or workflowIds")
	}
	if q.WorkflowIDs != nil && len(q.WorkflowIDs) == 0 {
		return store.LogPage{}, nil
	}
	dir := "DESC"
	switch q.Order {
	case "", "desc":
	case "asc":
		dir = "ASC"
	default:
		return store.LogPage{}, invalidLog("order %q: want asc or desc", q.Order)
	}
	switch q.Level {
	case "", "info", "error":
	default:
		return store.LogPage{}, invalidLog("level %q: want info or error", q.Level)
	}
	if q.Limit < 0 {
		return store.LogPage{}, invalidLog("limit %d", q.Limit)
	}
	limit := q.Limit
	if limit == 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	var after *cursorPos
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return store.LogPage{}, err
		}
		after = &c
	}
	if q.ExecutionID != "" && after != nil {
		return store.LogPage{}, nil // the only match was on the first page
	}

	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var conds []string
	if q.WorkspaceID != "" {
		conds = append(conds, "workspace_id = "+arg(q.WorkspaceID))
	}
	if len(q.Triggers) > 0 {
		conds = append(conds, "trigger = ANY("+arg(q.Triggers)+")")
	}
	if q.Level != "" {
		conds = append(conds, "level = "+arg(q.Level))
	}
	if len(q.Statuses) > 0 {
		conds = append(conds, "status = ANY("+arg(q.Statuses)+")")
	}
	if !q.Start.IsZero() {
		conds = append(conds, "started_at >= "+arg(q.Start))
	}
	if !q.End.IsZero() {
		conds = append(conds, "started_at < "+arg(q.End))
	}
	if q.ExecutionID != "" {
		conds = append(conds, "id = "+arg(q.ExecutionID))
	}
	if q.MinDurationMs != nil {
		conds = append(conds, "duration_ms >= "+arg(*q.MinDurationMs))
	}
	if q.MaxDurationMs != nil {
		conds = append(conds, "duration_ms <= "+arg(*q.MaxDurationMs))
	}
	if after != nil {
		op := "<"
		if dir == "ASC" {
			op = ">"
		}
		conds = append(conds, fmt.Sprintf("(started_at, id) %s (%s, %s)", op, arg(after.at), arg(after.id)))
	}
	order := fmt.Sprintf(" ORDER BY started_at %s, id %s LIMIT %d", dir, dir, limit+1)
	where := func(extra ...string) string {
		all := append(slices.Clone(conds), extra...)
		if len(all) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(all, " AND ")
	}
	var sql string
	if q.WorkflowIDs == nil {
		sql = `SELECT ` + execCols + ` FROM executions` + where() + order
	} else {
		var wfs []string
		for _, wf := range slices.Compact(slices.Sorted(slices.Values(q.WorkflowIDs))) {
			if wf != "" {
				wfs = append(wfs, wf)
			}
		}
		if len(wfs) == 0 {
			return store.LogPage{}, nil
		}
		// One index range per workflow, each cut at the page size, merged: PostgreSQL
		// 15 cannot read (workflow_id = ANY, started_at, id) in (started_at, id) order.
		parts := make([]string, len(wfs))
		for i, wf := range wfs {
			parts[i] = `(SELECT ` + execCols + ` FROM executions` + where("workflow_id = "+arg(wf)) + order + `)`
		}
		if len(parts) == 1 {
			sql = parts[0]
		} else {
			sql = `SELECT * FROM (` + strings.Join(parts, " UNION ALL ") + `) u` + order
		}
	}
	rows, err := l.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return store.LogPage{}, fmt.Errorf("list executions: %w", err)
	}
	items, err := pgx.CollectRows(rows, scanExec)
	if err != nil {
		return store.LogPage{}, fmt.Errorf("list executions: %w", err)
	}
	var page store.LogPage
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		page.NextCursor = encodeCursor(cursorPos{at: last.StartedAt, id: last.ID})
	}
	if len(items) > 0 {
		page.Items = items
	}
	return page, nil
}

// cursorPos is a page boundary: the (StartedAt, ID) of the last record served. Its
// encoding is store/bolt's (8 bytes of sign-flipped big-endian unix nanoseconds, then
// the id), so a cursor does not tell which backend made it.
type cursorPos struct {
	at time.Time
	id string
}

func encodeCursor(c cursorPos) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(c.at.UnixNano())^(1<<63))
	return base64.RawURLEncoding.EncodeToString(append(b, c.id...))
}

func decodeCursor(s string) (cursorPos, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 9 || slices.Contains(b[8:], 0) {
		return cursorPos{}, invalidLog("malformed cursor")
	}
	ns := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	return cursorPos{at: time.Unix(0, ns).UTC(), id: string(b[8:])}, nil
}

func (l *logs) Metrics(ctx context.Context, q store.MetricsQuery) ([]store.MetricsBucket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Bucket == 0 {
		q.Bucket = time.Hour
	}
	if q.Bucket < time.Hour || q.Bucket%time.Hour != 0 {
		return nil, invalidLog("metrics bucket %v: want a whole number of hours", q.Bucket)
	}
	if q.WorkspaceID == "" && len(q.WorkflowIDs) == 0 {
		if q.WorkflowIDs != nil {
			return nil, nil
		}
		return nil, invalidLog("metrics query needs a workspaceId or workflowIds")
	}
	if q.WorkflowIDs != nil && len(q.WorkflowIDs) == 0 {
		return nil, nil
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.End.Before(q.Start) {
		return nil, invalidLog("metrics end %v before start %v", q.End, q.Start)
	}
	// As in store/bolt: with workflow ids the workflows' rollups count (the workspace
	// is not checked again), else the workspace's.
	// hist_bin: the histogram's non-empty buckets (see 0003_logs.sql).
	sql := `SELECT hour, count, errors, cost, hist_bin FROM execution_rollups_ws WHERE workspace_id = $1`
	args := []any{q.WorkspaceID}
	if q.WorkflowIDs != nil {
		sql = `SELECT hour, count, errors, cost, hist_bin FROM execution_rollups WHERE workflow_id = ANY($1)`
		args = []any{q.WorkflowIDs}
	}
	if !q.Start.IsZero() {
		args = append(args, q.Start.UTC().Truncate(time.Hour)) // the hour holding Start counts whole
		sql += " AND hour >= $" + strconv.Itoa(len(args))
	}
	if !q.End.IsZero() {
		args = append(args, q.End)
		sql += " AND hour < $" + strconv.Itoa(len(args))
	}
	type agg struct {
		count, errors int64
		cost          float64
		hist          store.DurationHistogram
	}
	bucketSec := int64(q.Bucket / time.Second)
	byBucket := map[int64]*agg{}
	var hour time.Time
	var count, errs int64
	var cost float64
	var hist []byte
	rows, err := l.db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	_, err = pgx.ForEachRow(rows, []any{&hour, &count, &errs, &cost, &hist}, func() error {
		h := hour.Unix()
		bs := h / bucketSec * bucketSec
		if h < 0 && h%bucketSec != 0 {
			bs -= bucketSec
		}
		a := byBucket[bs]
		if a == nil {
			a = &agg{}
			byBucket[bs] = a
		}
		a.count += count
		a.errors += errs
		a.cost += cost
		return addHist(&a.hist, hist)
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := make([]store.MetricsBucket, 0, len(byBucket))
	for _, bs := range slices.Sorted(func(yield func(int64) bool) {
		for k := range byBucket {
			if !yield(k) {
				return
			}
		}
	}) {
		a := byBucket[bs]
		if a.count <= 0 {
			continue
		}
		out = append(out, store.MetricsBucket{
			Start:     time.Unix(bs, 0).UTC(),
			Count:     a.count,
			Errors:    a.errors,
			ErrorRate: float64(a.errors) / float64(a.count),
			P50Ms:     a.hist.Percentile(0.50),
			P95Ms:     a.hist.Percentile(0.95),
			P99Ms:     a.hist.Percentile(0.99),
			Cost:      a.cost,
		})
	}
	return out, nil
}

// addHist adds a histogram encoded by logs_hist_sparse (see 0003_logs.sql) to h.
func addHist(h *store.DurationHistogram, b []byte) error {
	if len(b)%10 != 0 {
		return errors.New("malformed rollup histogram")
	}
	for ; len(b) > 0; b = b[10:] {
		i := int(binary.BigEndian.Uint16(b)) - 1
		if i < 0 || i >= len(h) {
			return errors.New("rollup histogram bucket out of range")
		}
		h[i] += int64(binary.BigEndian.Uint64(b[2:]))
	}
	return nil
}

func (l *logs) Prune(ctx context.Context, before time.Time) (int, error) {
	total, err := l.dropPartitions(ctx, before, false)
	if err != nil {
		return total, fmt.Errorf("prune logs: %w", err)
	}
	n, err := l.deleteBefore(ctx, before, "", false)
	total += n
	if err != nil {
		return total, fmt.Errorf("prune logs: %w", err)
	}
	return total, nil
}

func (l *logs) Retain(ctx context.Context, r store.Retention, now time.Time) (int, error) {
	total := 0
	if r.MaxAge > 0 {
		cutoff := now.Add(-r.MaxAge)
		n, err := l.dropPartitions(ctx, cutoff, true)
		total += n
		if err != nil {
			return total, fmt.Errorf("retain logs: %w", err)
		}
		n, err = l.deleteBefore(ctx, cutoff, "", true)
		total += n
		if err != nil {
			return total, fmt.Errorf("retain logs: %w", err)
		}
	}
	if r.MaxCount > 0 {
		wss, err := l.logWorkspaces(ctx)
		if err != nil {
			return total, err
		}
		for _, ws := range wss {
			n, err := l.keepNewest(ctx, ws, r.MaxCount)
			total += n
			if err != nil {
				return total, fmt.Errorf("retain logs of workspace %s: %w", ws, err)
			}
		}
	}
	return total, nil
}

// RetainWorkspace deletes the finished executions older than r.MaxAge, then the oldest
// finished ones beyond r.MaxCount. Deleting by age first leaves exactly what store/bolt's
// single pass leaves: the excess positions it counts over the old records are the ones
// the age pass removed or the unfinished ones it kept.
func (l *logs) RetainWorkspace(ctx context.Context, wsID string, r store.Retention, now time.Time) (int, error) {
	total := 0
	if r.MaxAge > 0 {
		n, err := l.deleteBefore(ctx, now.Add(-r.MaxAge), wsID, true)
		total += n
		if err != nil {
			return total, fmt.Errorf("retain logs of workspace %s: %w", wsID, err)
		}
	}
	if r.MaxCount > 0 {
		n, err := l.keepNewest(ctx, wsID, r.MaxCount)
		total += n
		if err != nil {
			return total, fmt.Errorf("retain logs of workspace %s: %w", wsID, err)
		}
	}
	return total, nil
}

// deleteChunkSQL deletes the executions a subquery selects (at most pruneChunk) with
// their run ids, and counts them.
const deleteChunkSQL = `WITH d AS (
	DELETE FROM executions e USING (%s) s WHERE e.id = s.id AND e.started_at = s.started_at
	RETURNING e.id, e.workflow_id, e.run_id
), r AS (
	DELETE FROM execution_run_ids x USING d
	 WHERE d.run_id <> '' AND x.workflow_id = d.workflow_id AND x.run_id = d.run_id AND x.execution_id = d.id
)
SELECT count(*) FROM d`

// deleteBefore deletes, in transactions of at most pruneChunk records, the executions
// that started before cutoff (of workspace wsID unless empty; only finished ones —
// completed, failed, cancelled — when finishedOnly).
func (l *logs) deleteBefore(ctx context.Context, cutoff time.Time, wsID string, finishedOnly bool) (int, error) {
	sel := `SELECT id, started_at FROM executions WHERE started_at < $1`
	args := []any{cutoff}
	if wsID != "" {
		sel += ` AND workspace_id = $2`
		args = append(args, wsID)
	}
	if finishedOnly {
		sel += ` AND status IN ('completed', 'failed', 'cancelled')`
	}
	sql := fmt.Sprintf(deleteChunkSQL, sel+fmt.Sprintf(` LIMIT %d`, pruneChunk))
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n int
		if err := l.db.pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			return total, fmt.Errorf("delete executions before %v: %w", cutoff, err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// keepNewest deletes the oldest finished executions of workspace wsID beyond the newest
// max, counting unfinished ones (which stay) as store/bolt does.
func (l *logs) keepNewest(ctx context.Context, wsID string, keep int) (int, error) {
	sql := fmt.Sprintf(deleteChunkSQL, fmt.Sprintf(`SELECT id, started_at FROM (
		SELECT id, started_at, status FROM executions WHERE workspace_id = $1 ORDER BY started_at, id LIMIT $2
	) o WHERE status IN ('completed', 'failed', 'cancelled') LIMIT %d`, pruneChunk))
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n int
		if err := l.db.pool.QueryRow(ctx, `SELECT count(*) FROM executions WHERE workspace_id = $1`, wsID).Scan(&n); err != nil {
			return total, fmt.Errorf("count executions: %w", err)
		}
		excess := n - keep
		if excess <= 0 {
			return total, nil
		}
		if err := l.db.pool.QueryRow(ctx, sql, wsID, excess).Scan(&n); err != nil {
			return total, fmt.Errorf("delete executions: %w", err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// logWorkspaces lists the workspaces that have executions, skipping through the
// workspace index one value at a time instead of reading every row.
func (l *logs) logWorkspaces(ctx context.Context) ([]string, error) {
	rows, err := l.db.pool.Query(ctx, `WITH RECURSIVE w(id) AS (
		SELECT min(workspace_id) FROM executions
		UNION ALL
		SELECT (SELECT min(workspace_id) FROM executions WHERE workspace_id > w.id) FROM w WHERE w.id IS NOT NULL
	) SELECT id FROM w WHERE id IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("list workspaces with logs: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list workspaces with logs: %w", err)
	}
	return out, nil
}

// dropPartitions drops the monthly partitions that end at or before cutoff, so every
// row in them started before it; with finishedOnly, only those holding nothing but
// finished executions (retention keeps queued, running and paused ones, as store/bolt). It returns how many executions went with them. A partition whose
// lock is not granted in time is left to the row-by-row delete that follows.
func (l *logs) dropPartitions(ctx context.Context, cutoff time.Time, finishedOnly bool) (int, error) {
	rows, err := l.db.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'executions'::regclass`)
	if err != nil {
		return 0, fmt.Errorf("list partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("list partitions: %w", err)
	}
	total := 0
	for _, name := range names {
		m, ok := partitionMonth(name)
		if !ok || monthStart(m+1).After(cutoff) {
			continue
		}
		var n int
		dropped := false
		err := l.db.InTx(ctx, func(tx pgx.Tx) error {
			// The parent's lock (which DROP takes anyway) first, so no row arrives
			// between the check and the drop.
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `LOCK TABLE executions IN ACCESS EXCLUSIVE MODE`); err != nil {
				return err
			}
			ident := pgx.Identifier{name}.Sanitize()
			if finishedOnly {
				var open bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+ident+` WHERE status NOT IN ('completed', 'failed', 'cancelled'))`).Scan(&open); err != nil {
					return err
				}
				if open {
					return nil
				}
			}
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+ident).Scan(&n); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM execution_run_ids x USING `+ident+` p
				WHERE p.run_id <> '' AND x.workflow_id = p.workflow_id AND x.run_id = p.run_id AND x.execution_id = p.id`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DROP TABLE `+ident); err != nil {
				return err
			}
			dropped = true
			return nil
		})
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available
			continue
		}
		if err != nil {
			return total, fmt.Errorf("drop partition %s: %w", name, err)
		}
		if dropped {
			l.parts.drop(m)
			total += n
		}
	}
	return total, nil
}

// partitionMonth parses a partition name made by partitionName.
func partitionMonth(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "executions_p")
	if !ok || len(s) != 6 {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v%100 < 1 || v%100 > 12 {
		return 0, false
	}
	return v/100*12 + v%100 - 1, true
}
