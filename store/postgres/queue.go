// The queue: store.Jobs on River (github.com/riverqueue/river) ...
// one PostgreSQL database: an async execution accepted by any replica becomes a River job
// that whichever replica fetches it runs, and a job of a replica that died is rescued by
// another. app wires it when the store is PostgreSQL.
//
// At least once: River's rescuer retries a job that has been "running" for longer than
// RescueAfter. A job's worker refreshes the job's attempted_at every RescueAfter/3 while it
// runs (its heartbeat), so only the job of a replica that stopped (crash, kill -9, lost
// network) goes stale and is run again from the start on another replica — which means a run
// interrupted mid-way may repeat side effects it had already made, unlike the single-binary
// mode, where such a run is marked interrupted and never repeated.

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/steelengine/steelengine/store"
)

// QueueOptions tunes a Queue; the zero value is what production uses.
type QueueOptions struct {
	// Workers is how many jobs of each queue (runs, resumes) this replica runs at once
	// (default 32).
	Workers int
	// RescueAfter is how long a running job's heartbeat may lapse before another replica
	// runs it again (default 30 s). River's rescuer looks every 30 s, so a job of a dead
	// replica restarts within about RescueAfter + 30 s.
	RescueAfter time.Duration
	// LongestRun is the longest an execution may run (default 1 h): River reports a
	// job still running past it (and RescueAfter) as stuck.
	LongestRun time.Duration
	Logger     *slog.Logger
	// Periodic are tasks that must run once per period across every replica (retention):
	// River's leader inserts one job per period, and whichever replica fetches it runs it.
	Periodic []Periodic
	// ReplicaAlive is how recent a replica's heartbeat must be for the runs it lists to
	// count as held (Live; default 15 s).
	ReplicaAlive time.Duration
}

// Periodic is a task run once per Every by one of the replicas.
type Periodic struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// PeriodicKind is the River job kind of a Periodic task.
const PeriodicKind = "periodic"

type periodicArgs struct {
	Name string `json:"name"`
}

func (periodicArgs) Kind() string { return PeriodicKind }

// periodicWorker runs a Periodic task by name.
type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	tasks map[string]Periodic
}

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicArgs]) error {
	p, ok := w.tasks[job.Args.Name]
	if !ok {
		return nil // a task an older or newer replica knows: it runs it
	}
	return p.Run(ctx)
}

// JobKind is the River job kind of an async execution.
const JobKind = "execution"

// queueName is the River queue of runs from the start; resumeQueue holds the resumes of
// due waits, apart so that a replica of an older release (which knows no resume jobs)
// never fetches one during a rolling upgrade.
const (
	queueName   = river.QueueDefault
	resumeQueue = "resume"
)

// executionArgs is the job's args: store.Job, unique by execution id and pause point.
type executionArgs struct {
	ExecutionID string          `json:"execution_id" river:"unique"`
	ContextID   string          `json:"context_id,omitempty" river:"unique"`
	Principal   json.RawMessage `json:"principal,omitempty"`
	TimeoutNs   int64           `json:"timeout_ns,omitempty"`
	Via         []string        `json:"via,omitempty"`
	BaseURL     string          `json:"base_url,omitempty"`
}

func (executionArgs) Kind() string { return JobKind }

// Queue is store.Jobs on River.
type Queue struct {
	pool   pgPool
	logs   *logs // a queued record commits with its job
	client *river.Client[pgx.Tx]
	opts   QueueOptions
	log    *slog.Logger

	mu      sync.Mutex
	handler func(context.Context, store.Job) error
	started bool
}

var _ store.Jobs = (*Queue)(nil)

// riverLockKey serializes River's migrations between replicas starting together.
const riverLockKey int64 = 0x5354_4545_4c52_4956 // "STEELRIV"

// OpenQueue migrates River's tables (under an advisory lock, so replicas may start together)
// and returns a queue on s's database that can insert jobs at once and works them after
// Start.
func OpenQueue(ctx context.Context, s *Store, opts QueueOptions) (*Queue, error) {
	pool := s.pool
	if opts.Workers <= 0 {
		opts.Workers = 32
	}
	if opts.RescueAfter <= 0 {
		opts.RescueAfter = 30 * time.Second
	}
	if opts.LongestRun <= 0 {
		opts.LongestRun = time.Hour
	}
	if opts.ReplicaAlive <= 0 {
		opts.ReplicaAlive = 15 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := migrateRiver(ctx, pool.Pool); err != nil {
		return nil, err
	}
	q := &Queue{pool: pool, logs: s.logs, opts: opts, log: opts.Logger}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{q: q}); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	pw := &periodicWorker{tasks: map[string]Periodic{}}
	var periodic []*river.PeriodicJob
	for _, p := range opts.Periodic {
		pw.tasks[p.Name] = p
		name, every := p.Name, p.Every
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(every),
			func() (river.JobArgs, *river.InsertOpts) {
				return periodicArgs{Name: name}, &river.InsertOpts{MaxAttempts: 1,
					UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: every}}
			}, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	if err := river.AddWorkerSafely(workers, pw); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	client, err := river.NewClient(riverpgxv5.New(pool.Pool), &river.Config{
		Queues:       map[string]river.QueueConfig{queueName: {MaxWorkers: opts.Workers}, resumeQueue: {MaxWorkers: opts.Workers}},
		Workers:      workers,
		PeriodicJobs: periodic,
		// River rescues only jobs with a timeout, once attempted_at is older than it; the
		// heartbeat keeps attempted_at fresh, and the run itself ignores this deadline
		// (see worker.Work).
		JobTimeout:           opts.RescueAfter,
		RescueStuckJobsAfter: opts.RescueAfter,
		// Not "Job appears to be stuck" for every run longer than that deadline.
		JobStuckThreshold: opts.LongestRun + time.Minute,
		MaxAttempts:       5,
		// River's own info lines (leadership, start and stop) are noise in our log.
		Logger: slog.New(levelFloor{h: opts.Logger.Handler(), min: slog.LevelWarn}),
	})
	if err != nil {
		return nil, fmt.Errorf("queue: new River client: %w", err)
	}
	q.client = client
	return q, nil
}

// migrate brings River's tables up to date. River's migrations cannot share one
// transaction (one adds an enum value another uses), so replicas starting together queue on
// a session advisory lock held on a connection of its own meanwhile.
func migrateRiver(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("queue: migrate River tables: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", riverLockKey); err != nil {
		return fmt.Errorf("queue: take migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", riverLockKey)
	}()
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("queue: migrate River tables: %w", err)
	}
	// Cancel and Live find a job by its execution id.
	if _, err := conn.Exec(ctx, `CREATE INDEX IF NOT EXISTS river_job_execution_id ON river_job ((args->>'execution_id')) WHERE kind = '`+JobKind+`'`); err != nil {
		return fmt.Errorf("queue: index River jobs: %w", err)
	}
	return nil
}

// Start works jobs with handler until Stop.
func (q *Queue) Start(ctx context.Context, handler func(context.Context, store.Job) error) error {
	q.mu.Lock()
	q.handler, q.started = handler, true
	q.mu.Unlock()
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for the running ones until ctx ends, then cancels
// them (each records itself as cancelled).
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	started := q.started
	q.mu.Unlock()
	if !started {
		return nil
	}
	err := q.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		return q.client.StopAndCancel(context.Background())
	}
	return err
}

// Enqueue inserts j's job unless it is in the queue already, with record in the same
// transaction when given (written through the log's group commit, so queued runs accepted
// together share a commit).
func (q *Queue) Enqueue(ctx context.Context, j store.Job, record *store.Execution) error {
	args := executionArgs{ExecutionID: j.ExecutionID, ContextID: j.ContextID, Principal: j.Principal,
		TimeoutNs: int64(j.Timeout), Via: j.Via, BaseURL: j.BaseURL}
	opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
	if j.ContextID != "" {
		// A resume is unique while it waits or runs, not once it completed: a job that
		// found its run resuming at another point completes without resuming, and when
		// the run pauses again with this wait still due the next one must be queued.
		opts.Queue, opts.UniqueOpts.ByState = resumeQueue, resumeUniqueStates
	}
	var err error
	if record == nil {
		_, err = q.client.Insert(ctx, args, opts)
	} else {
		if record.ID != j.ExecutionID {
			return fmt.Errorf("queue: record %q is not job %q's: %w", record.ID, j.ExecutionID, store.ErrInvalid)
		}
		err = q.logs.putThen(ctx, record, func(ctx context.Context, tx pgx.Tx) error {
			_, err := q.client.InsertTx(ctx, tx, args, opts)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("queue: insert job for %s: %w", j.ExecutionID, unavailable(err))
	}
	return nil
}

// resumeUniqueStates are the states in which a resume job stops another like it.
var resumeUniqueStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// liveStates are the states of a job that has yet to finish.
const liveStates = `('available', 'pending', 'retryable', 'running', 'scheduled')`

// Cancel stops whatever runs execID, or else whatever waits to: the running job of
// execID; else, when a live replica holds it without a job (a sync run or a resume,
// listed in its heartbeat), an ask to stop, stored and announced on CancelChannel, which
// the holder acts on (OnCancel, or its next Heartbeat if it missed the announcement);
// else its newest waiting job, which then never runs.
func (q *Queue) Cancel(ctx context.Context, execID string) (found, running bool, err error) {
	var id int64
	var state string
	err = q.pool.QueryRow(ctx, `SELECT id, state::text FROM river_job WHERE kind = $1 AND args->>'execution_id' = $2
		AND state IN `+liveStates+` ORDER BY state = 'running' DESC, id DESC LIMIT 1`, JobKind, execID).Scan(&id, &state)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, false, fmt.Errorf("queue: find job of %s: %w", execID, err)
	}
	if errors.Is(err, pgx.ErrNoRows) || state != string(rivertype.JobStateRunning) {
		// A waiting job (a resume due at another point) must not be mistaken for the run:
		// cancelling it would leave the run going and record it cancelled.
		if found, running, err := q.cancelHeld(ctx, execID); found || err != nil || id == 0 {
			return found, running, err
		}
	}
	row, err := q.client.JobCancel(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("queue: cancel job of %s: %w", execID, unavailable(err))
	}
	switch row.State {
	case rivertype.JobStateRunning:
		return true, true, nil
	case rivertype.JobStateCancelled:
		return true, false, nil
	}
	return false, false, nil // it finished first
}

// cancelHeld asks the live replica holding execID, if any, to cancel it.
func (q *Queue) cancelHeld(ctx context.Context, execID string) (found, running bool, err error) {
	err = q.pool.QueryRow(ctx, `WITH held AS (
			SELECT 1 FROM replicas, unnest(runs) AS run
			WHERE seen_at >= now() - make_interval(secs => $2) AND run = $1 LIMIT 1
		), ask AS (
			INSERT INTO run_cancels (execution_id) SELECT $1 FROM held
			ON CONFLICT (execution_id) DO UPDATE SET requested_at = now()
			RETURNING pg_notify($3, execution_id)
		) SELECT count(*) > 0 FROM ask`, execID, q.opts.ReplicaAlive.Seconds(), CancelChannel).Scan(&found)
	if err != nil {
		return false, false, fmt.Errorf("queue: ask the replica holding %s to cancel it: %w", execID, err)
	}
	return found, found, nil
}

// Live returns those of execIDs with a job still to finish or held by a replica whose
// heartbeat is recent (Store.Heartbeat).
func (q *Queue) Live(ctx context.Context, execIDs []string) (map[string]bool, error) {
	live := map[string]bool{}
	if len(execIDs) == 0 {
		return live, nil
	}
	rows, err := q.pool.Query(ctx, `SELECT args->>'execution_id' FROM river_job
		WHERE kind = $1 AND args->>'execution_id' = ANY($2) AND state IN `+liveStates+`
		UNION
		SELECT run FROM replicas, unnest(runs) AS run
		WHERE seen_at >= now() - make_interval(secs => $3) AND run = ANY($2)`,
		JobKind, execIDs, q.opts.ReplicaAlive.Seconds())
	if err != nil {
		return nil, fmt.Errorf("queue: live jobs: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("queue: live jobs: %w", err)
	}
	for _, id := range ids {
		live[id] = true
	}
	return live, nil
}

// Counts returns how many jobs of each queue are in each state still to finish (River's
// queue names and job states: "default"/"resume", "available", "running", ...).
func (q *Queue) Counts(ctx context.Context) (map[[2]string]int, error) {
	rows, err := q.pool.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job
		WHERE state IN `+liveStates+` GROUP BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("queue: count jobs: %w", err)
	}
	out := map[[2]string]int{}
	var queue, state string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&queue, &state, &n}, func() error {
		out[[2]string{queue, state}] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue: count jobs: %w", err)
	}
	return out, nil
}

// worker runs one execution job.
type worker struct {
	river.WorkerDefaults[executionArgs]
	q *Queue
}

// Middleware hands Work the job's context as it is before River adds the job timeout:
// cancelled by JobCancel and by a stop that cancels jobs, never by the deadline.
func (w *worker) Middleware(*rivertype.JobRow) []rivertype.WorkerMiddleware {
	return []rivertype.WorkerMiddleware{&beforeTimeout{}}
}

type outerCtxKey struct{}

type beforeTimeout struct{ river.MiddlewareDefaults }

func (*beforeTimeout) Work(ctx context.Context, _ *rivertype.JobRow, doInner func(context.Context) error) error {
	return doInner(context.WithValue(ctx, outerCtxKey{}, ctx))
}

func (w *worker) Work(ctx context.Context, job *river.Job[executionArgs]) error {
	// River's job timeout exists only so that its rescuer takes the job of a dead replica
	// (one whose heartbeat stopped); runs end by their own execution timeout.
	if outer, ok := ctx.Value(outerCtxKey{}).(context.Context); ok {
		ctx = outer
	}
	w.q.mu.Lock()
	handler := w.q.handler
	w.q.mu.Unlock()
	stop := w.q.heartbeat(job.ID)
	defer stop()
	return handler(ctx, store.Job{ExecutionID: job.Args.ExecutionID, ContextID: job.Args.ContextID, Principal: job.Args.Principal,
		Timeout: time.Duration(job.Args.TimeoutNs), Via: job.Args.Via, BaseURL: job.Args.BaseURL})
}

// heartbeat moves the running job's attempted_at forward every RescueAfter/3, so River's
// rescuer (which takes jobs running since before now − RescueAfter) leaves a job alone
// while its replica lives, however long the run takes.
func (q *Queue) heartbeat(jobID int64) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(q.opts.RescueAfter / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := q.pool.Exec(ctx, `UPDATE river_job SET attempted_at = now() WHERE id = $1 AND state = 'running'`, jobID); err != nil && ctx.Err() == nil {
				q.log.Warn("job heartbeat", "job", jobID, "err", err)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// levelFloor drops records below min.
type levelFloor struct {
	h   slog.Handler
	min slog.Level
}

func (l levelFloor) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.h.Enabled(ctx, lv)
}
func (l levelFloor) Handle(ctx context.Context, r slog.Record) error { return l.h.Handle(ctx, r) }
func (l levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h: l.h.WithAttrs(a), min: l.min}
}
func (l levelFloor) WithGroup(n string) slog.Handler {
	return levelFloor{h: l.h.WithGroup(n), min: l.min}
}
