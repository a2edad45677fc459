package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// testStore opens a replica's store on the database at url.
func testStore(t *testing.T, url string) *Store {
	t.Helper()
	s, err := OpenStore(context.Background(), url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openQueue(t *testing.T, s *Store, opts QueueOptions) *Queue {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	q, err := OpenQueue(context.Background(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	return q
}

// recorder is a job handler that notes what it ran and can hold jobs until released.
type recorder struct {
	mu      sync.Mutex
	ran     map[string]int
	jobs    map[string]store.Job
	started chan string
	hold    chan struct{} // nil: return at once
	errs    chan error    // what held jobs saw when they ended
}

func newRecorder(hold bool) *recorder {
	r := &recorder{ran: map[string]int{}, jobs: map[string]store.Job{}, started: make(chan string, 16), errs: make(chan error, 16)}
	if hold {
		r.hold = make(chan struct{})
	}
	return r
}

func (r *recorder) handle(ctx context.Context, j store.Job) error {
	r.mu.Lock()
	r.ran[j.ExecutionID]++
	r.jobs[j.ExecutionID] = j
	r.mu.Unlock()
	r.started <- j.ExecutionID
	if r.hold != nil {
		select {
		case <-r.hold:
			r.errs <- nil
		case <-ctx.Done():
			r.errs <- context.Cause(ctx)
			return ctx.Err()
		}
	}
	return nil
}

func waitStarted(t *testing.T, r *recorder, d time.Duration) string {
	t.Helper()
	select {
	case id := <-r.started:
		return id
	case <-time.After(d):
		t.Fatalf("no job started within %v", d)
		return ""
	}
}

// A job enqueued (twice: the second is a no-op) through one replica's queue runs once, on
// a replica that works the queue, with the args it was given.
func TestEnqueuedJobRunsOnceOnAnotherReplica(t *testing.T) {
	url := pgtest.URL(t)
	a := openQueue(t, testStore(t, url), QueueOptions{}) // inserts only: never started
	b := openQueue(t, testStore(t, url), QueueOptions{})
	rec := newRecorder(false)
	if err := b.Start(context.Background(), rec.handle); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	job := store.Job{ExecutionID: "exec1", Principal: []byte(`{"keyId":"k1"}`), Timeout: 3 * time.Second, Via: []string{"wf0"}}
	start := time.Now()
	for range 2 {
		if err := a.Enqueue(ctx, job, nil); err != nil {
			t.Fatal(err)
		}
	}
	if id := waitStarted(t, rec, 10*time.Second); id != "exec1" {
		t.Fatalf("ran %q", id)
	}
	t.Logf("job inserted by A ran on B after %v", time.Since(start).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.ran["exec1"] != 1 {
		t.Fatalf("ran %d times, want once", rec.ran["exec1"])
	}
	got := rec.jobs["exec1"]
	var principal bytes.Buffer
	_ = json.Compact(&principal, got.Principal) // jsonb respaces it
	if principal.String() != string(job.Principal) || got.Timeout != job.Timeout || len(got.Via) != 1 || got.Via[0] != "wf0" {
		t.Fatalf("job arrived as %+v, want %+v", got, job)
	}
	// A finished job's execution is not live, and enqueuing it again runs nothing.
	live, err := a.Live(ctx, []string{"exec1", "nope"})
	if err != nil || len(live) != 0 {
		t.Fatalf("live after completion = %v, %v", live, err)
	}
}

// Cancel reaches a job waiting in the queue (it never runs) and a job running on another
// replica (its context ends there).
func TestCancelWaitingAndRunningJobs(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	a := openQueue(t, testStore(t, url), QueueOptions{})

	if err := a.Enqueue(ctx, store.Job{ExecutionID: "waiting"}, nil); err != nil {
		t.Fatal(err)
	}
	if live, _ := a.Live(ctx, []string{"waiting"}); !live["waiting"] {
		t.Fatal("a waiting job is not live")
	}
	found, running, err := a.Cancel(ctx, "waiting")
	if err != nil || !found || running {
		t.Fatalf("cancel waiting job: found %v running %v err %v; want found, not running", found, running, err)
	}
	if found, _, _ := a.Cancel(ctx, "waiting"); found {
		t.Fatal("a cancelled job was found again")
	}
	if found, _, _ := a.Cancel(ctx, "never-queued"); found {
		t.Fatal("cancel found a job nobody queued")
	}

	b := openQueue(t, testStore(t, url), QueueOptions{})
	rec := newRecorder(true)
	if err := b.Start(ctx, rec.handle); err != nil {
		t.Fatal(err)
	}
	if err := a.Enqueue(ctx, store.Job{ExecutionID: "running"}, nil); err != nil {
		t.Fatal(err)
	}
	if id := waitStarted(t, rec, 10*time.Second); id != "running" {
		t.Fatalf("started %q", id)
	}
	start := time.Now()
	found, running, err = a.Cancel(ctx, "running")
	if err != nil || !found || !running {
		t.Fatalf("cancel running job: found %v running %v err %v; want found and running", found, running, err)
	}
	select {
	case err := <-rec.errs:
		if err == nil {
			t.Fatal("held job ended without its context being cancelled")
		}
		t.Logf("cancel reached the replica running the job in %v (%v)", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("cancellation did not reach the replica running the job")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.ran["waiting"] != 0 {
		t.Fatal("the job cancelled while waiting ran")
	}
}

// A running job's heartbeat keeps River's rescuer away while its replica lives: after
// three rescue windows it has still run once.
func TestHeartbeatKeepsLongJobFromRescue(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer (~35 s)")
	}
	t.Parallel() // mostly waiting: TestConformance runs meanwhile
	url := pgtest.URL(t)
	ctx := context.Background()
	p := testStore(t, url)
	q := openQueue(t, p, QueueOptions{RescueAfter: 3 * time.Second})
	rec := newRecorder(true)
	if err := q.Start(ctx, rec.handle); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, store.Job{ExecutionID: "long"}, nil); err != nil {
		t.Fatal(err)
	}
	waitStarted(t, rec, 10*time.Second)
	// River's rescuer runs every 30 s on the leader; stay past one full round.
	select {
	case id := <-rec.started:
		t.Fatalf("job %s started again while it ran", id)
	case <-time.After(35 * time.Second):
	}
	close(rec.hold)
	if err := <-rec.errs; err != nil {
		t.Fatalf("job ended with %v", err)
	}
	var attempts int
	if err := p.pool.QueryRow(ctx, `SELECT attempt FROM river_job WHERE args->>'execution_id' = 'long'`).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 {
		t.Fatalf("attempt %d, want 1", attempts)
	}
}

// A periodic task runs once per period across replicas, not once per replica.
func TestPeriodicTaskRunsOncePerPeriodAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	var mu sync.Mutex
	var runs []time.Time
	task := Periodic{Name: "tick", Every: 2 * time.Second, Run: func(context.Context) error {
		mu.Lock()
		runs = append(runs, time.Now())
		mu.Unlock()
		return nil
	}}
	for range 3 {
		q := openQueue(t, testStore(t, url), QueueOptions{Periodic: []Periodic{task}})
		if err := q.Start(ctx, newRecorder(false).handle); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(9 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d runs in 9 s with three replicas and a 2 s period", len(runs))
	if len(runs) < 2 || len(runs) > 6 {
		t.Fatalf("%d runs in 9 s with a 2 s period over three replicas", len(runs))
	}
	for i := 1; i < len(runs); i++ {
		if gap := runs[i].Sub(runs[i-1]); gap < time.Second {
			t.Fatalf("two runs %v apart: more than one replica ran a period", gap)
		}
	}
}

// An accepted run's queued record and its job commit together: after Enqueue both are
// there; a record the log refuses (its run id is another execution's) leaves no job.
func TestEnqueueCommitsTheRecordWithItsJob(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, pgtest.URL(t))
	q := openQueue(t, s, QueueOptions{}) // never started: jobs wait
	rec := func(id, runID string) *store.Execution {
		return &store.Execution{ID: id, WorkflowID: "wf", WorkspaceID: "ws", Status: store.StatusQueued, Level: "info",
			Trigger: store.TriggerAPI, StartedAt: time.Now().UTC(), RunID: runID}
	}
	if err := q.Enqueue(ctx, store.Job{ExecutionID: "x1"}, rec("x1", "run-1")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Logs().Get(ctx, "x1"); err != nil || got.Status != store.StatusQueued {
		t.Fatalf("queued record = %+v, %v", got, err)
	}
	err := q.Enqueue(ctx, store.Job{ExecutionID: "x2"}, rec("x2", "run-1"))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a record whose run id is taken: %v, want ErrConflict", err)
	}
	if _, err := s.Logs().Get(ctx, "x2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused record stored: %v", err)
	}
	if err := q.Enqueue(ctx, store.Job{ExecutionID: "x3"}, rec("other", "")); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a record of another execution: %v, want ErrInvalid", err)
	}
	live, err := q.Live(ctx, []string{"x1", "x2", "x3", "other"})
	if err != nil || len(live) != 1 || !live["x1"] {
		t.Fatalf("live = %v, %v; want only x1 (no job without its record)", live, err)
	}
}

// A due wait's resume is a job per pause point: noticed twice, it is queued once; another
// point of the same execution is another job.
func TestResumeJobsAreUniquePerPausePoint(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, pgtest.URL(t))
	q := openQueue(t, s, QueueOptions{})
	for _, j := range []store.Job{{ExecutionID: "p1", ContextID: "a"}, {ExecutionID: "p1", ContextID: "a"}, {ExecutionID: "p1", ContextID: "b"}} {
		if err := q.Enqueue(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	// In a queue of their own: a replica of an older release never fetches one.
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE args->>'execution_id' = 'p1' AND queue = 'resume'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d jobs in the resume queue, want 2 (one per pause point)", n)
	}
	r := newRecorder(false)
	if err := q.Start(ctx, r.handle); err != nil {
		t.Fatal(err)
	}
	waitStarted(t, r, 10*time.Second)
	waitStarted(t, r, 10*time.Second)
	r.mu.Lock()
	if j := r.jobs["p1"]; j.ContextID != "a" && j.ContextID != "b" {
		t.Fatalf("resume job arrived as %+v", j)
	}
	r.mu.Unlock()
	// Completed, a resume no longer stops the next one at its point (the run may have
	// been resuming elsewhere and paused again with the wait still due).
	eventually(t, 10*time.Second, "both resume jobs complete", func() bool {
		var done int
		s.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE args->>'execution_id' = 'p1' AND state = 'completed'`).Scan(&done)
		return done == 2
	})
	if err := q.Enqueue(ctx, store.Job{ExecutionID: "p1", ContextID: "a"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE args->>'execution_id' = 'p1' AND args->>'context_id' = 'a'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d jobs at point a after the first completed, want 2", n)
	}
}

// Live counts the runs a replica lists in its heartbeat while the heartbeat is recent:
// a replica that stopped beating holds nothing.
func TestLiveCountsRunsHeldByLiveReplicas(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, pgtest.URL(t))
	q := openQueue(t, s, QueueOptions{ReplicaAlive: time.Second})
	if _, _, err := s.Heartbeat(ctx, "r1", []string{"sync1", "sync2"}, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Heartbeat(ctx, "r2", nil, time.Second); err != nil {
		t.Fatal(err)
	}
	live, err := q.Live(ctx, []string{"sync1", "sync3"})
	if err != nil || len(live) != 1 || !live["sync1"] {
		t.Fatalf("live = %v, %v; want sync1", live, err)
	}
	time.Sleep(1100 * time.Millisecond)
	if n, _, err := s.Heartbeat(ctx, "r2", nil, time.Second); err != nil || n != 1 {
		t.Fatalf("replicas = %d, %v; want 1 (r1 silent)", n, err)
	}
	if live, err := q.Live(ctx, []string{"sync1", "sync2"}); err != nil || len(live) != 0 {
		t.Fatalf("live after r1 stopped beating = %v, %v; want none", live, err)
	}
}

// Cancelling a run with no job reaches the live replica that holds it: at once through
// the notification, and again through that replica's next heartbeat (an ask made while
// its notification connection was down is not lost). A run nobody holds is not found.
func TestCancelReachesTheReplicaHoldingASyncRun(t *testing.T) {
	ctx := context.Background()
	a, b, asked := holderReplicas(t)
	if _, _, err := b.Heartbeat(ctx, "rb", []string{"sync1"}, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	q := openQueue(t, a, QueueOptions{})
	if found, running, err := q.Cancel(ctx, "nobody-holds-it"); err != nil || found || running {
		t.Fatalf("cancel of a run nobody holds: %v %v %v", found, running, err)
	}
	found, running, err := q.Cancel(ctx, "sync1")
	if err != nil || !found || !running {
		t.Fatalf("cancel of a held run: found %v running %v err %v", found, running, err)
	}
	waitAsked(t, asked, "sync1")
	_, cancels, err := b.Heartbeat(ctx, "rb", []string{"sync1", "sync2"}, 15*time.Second)
	if err != nil || len(cancels) != 1 || cancels[0] != "sync1" {
		t.Fatalf("heartbeat cancels = %v, %v; want sync1", cancels, err)
	}
}

// A run held by a replica is cancelled there even when a job of the same execution waits
// (a resume due at another pause point): that job is not mistaken for the run, and stays.
func TestCancelPrefersTheHolderToAWaitingJob(t *testing.T) {
	ctx := context.Background()
	a, b, asked := holderReplicas(t)
	q := openQueue(t, a, QueueOptions{}) // never started: the resume job waits
	if err := q.Enqueue(ctx, store.Job{ExecutionID: "x", ContextID: "wait"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Heartbeat(ctx, "rb", []string{"x"}, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	found, running, err := q.Cancel(ctx, "x")
	if err != nil || !found || !running {
		t.Fatalf("cancel: found %v running %v err %v; want the holder asked", found, running, err)
	}
	waitAsked(t, asked, "x")
	var state string
	if err := a.pool.QueryRow(ctx, `SELECT state::text FROM river_job WHERE args->>'execution_id' = 'x'`).Scan(&state); err != nil || state != "available" {
		t.Fatalf("the waiting resume job is %q (%v), want still available", state, err)
	}
	// Nobody holds it any more: now the waiting job is what a cancel stops.
	if _, _, err := b.Heartbeat(ctx, "rb", nil, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if found, running, err := q.Cancel(ctx, "x"); err != nil || !found || running {
		t.Fatalf("cancel with nothing holding it: found %v running %v err %v; want the waiting job", found, running, err)
	}
}

// holderReplicas opens two replicas' stores on one database; b listens, and the runs
// another replica asks it to cancel arrive on asked.
func holderReplicas(t *testing.T) (a, b *Store, asked chan string) {
	t.Helper()
	url := pgtest.URL(t)
	a, b = testStore(t, url), testStore(t, url)
	eventually(t, 5*time.Second, "b listening", func() bool { return b.listener.up.Load() })
	asked = make(chan string, 4)
	b.OnCancel(func(id string) { asked <- id })
	return a, b, asked
}

// waitAsked waits for the holder to be asked to cancel id.
func waitAsked(t *testing.T, asked chan string, id string) {
	t.Helper()
	select {
	case got := <-asked:
		if got != id {
			t.Fatalf("the holder was asked to cancel %q, want %q", got, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("the holder was not asked to cancel %s", id)
	}
}
