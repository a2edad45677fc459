package core_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// fakeJobs is a shared queue in memory: jobs wait until run is called, as on a replica
// that has not fetched them yet.
type fakeJobs struct {
	mu        sync.Mutex
	jobs      map[string]store.Job
	live      map[string]bool
	cancelled []string
}

func (f *fakeJobs) Enqueue(ctx context.Context, j store.Job) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[j.ExecutionID] {
		f.jobs[j.ExecutionID], f.live[j.ExecutionID] = j, true
	}
	return nil
}

func (f *fakeJobs) Cancel(ctx context.Context, execID string) (bool, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[execID] {
		return false, false, nil
	}
	delete(f.live, execID)
	f.cancelled = append(f.cancelled, execID)
	return true, false, nil
}

func (f *fakeJobs) Live(ctx context.Context, ids []string) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]bool{}
	for _, id := range ids {
		if f.live[id] {
			out[id] = true
		}
	}
	return out, nil
}

// run works execID's job on svc, as the replica that fetched it would.
func (f *fakeJobs) run(t *testing.T, svc *core.Service, execID string) {
	t.Helper()
	f.mu.Lock()
	j, ok := f.jobs[execID]
	f.mu.Unlock()
	if !ok {
		t.Fatalf("no job for %s", execID)
	}
	if err := svc.RunJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	delete(f.live, execID)
	f.mu.Unlock()
}

func sharedEnv(t *testing.T) (*testenv.Env, *fakeJobs) {
	f := &fakeJobs{jobs: map[string]store.Job{}, live: map[string]bool{}}
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.Core.Jobs = f }})
	return e, f
}

// With a shared queue an async run is a job: accepted as queued, carrying its caller and
// timeout, and run to completion by whichever replica works the job.
func TestAsyncRunGoesThroughTheSharedQueue(t *testing.T) {
	e, f := sharedEnv(t)
	ctx := context.Background()
	p := resolve(t, e, e.WSKey)
	run, err := e.App.Service.Execute(ctx, p, core.RunRequest{WorkflowID: e.Greet.ID, Async: true, RunID: "q-1",
		Timeout: 7 * time.Second, Input: map[string]any{"name": "queue"}})
	if err != nil {
		t.Fatal(err)
	}
	if run.Execution.Status != store.StatusQueued {
		t.Fatalf("accepted as %s", run.Execution.Status)
	}
	j := f.jobs[run.Execution.ID]
	if j.Timeout != 7*time.Second {
		t.Fatalf("job timeout %v", j.Timeout)
	}
	if jp, err := auth.DecodePrincipal(j.Principal); err != nil || jp.KeyID != p.KeyID || jp.WorkspaceID != p.WorkspaceID {
		t.Fatalf("job principal %+v, %v; want key %s", jp, err, p.KeyID)
	}
	// Queued in the log (any replica sees it), and the run id is taken.
	got, err := e.App.Service.GetRun(ctx, p, e.Greet.ID, "q-1")
	if err != nil || got.Status != store.StatusQueued {
		t.Fatalf("queued run: %+v, %v", got, err)
	}
	if _, err := e.App.Service.Execute(ctx, p, core.RunRequest{WorkflowID: e.Greet.ID, Async: true, RunID: "q-1"}); err != core.ErrRunIDConflict {
		t.Fatalf("reused run id: %v", err)
	}

	f.run(t, e.App.Service, run.Execution.ID)
	got, err = e.App.Store.Logs().Get(ctx, run.Execution.ID)
	if err != nil || got.Status != store.StatusCompleted || got.KeyID != p.KeyID {
		t.Fatalf("after the job: %+v, %v", got, err)
	}
	// A job delivered again after its run finished (a replica died before River heard)
	// changes nothing.
	if err := e.App.Service.RunJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	again, _ := e.App.Store.Logs().Get(ctx, run.Execution.ID)
	if !again.EndedAt.Equal(*got.EndedAt) {
		t.Fatal("a finished execution ran again")
	}
}

// Cancelling a job no replica runs yet takes it off the queue and records the run as
// cancelled; a job recorded as running whose replica died runs again (at least once).
func TestSharedQueueCancelAndRescue(t *testing.T) {
	e, f := sharedEnv(t)
	ctx := context.Background()
	p := resolve(t, e, e.WSKey)
	run, err := e.App.Service.Execute(ctx, p, core.RunRequest{WorkflowID: e.Greet.ID, Async: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Cancel(ctx, p, e.Greet.ID, run.Execution.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := e.App.Store.Logs().Get(ctx, run.Execution.ID)
	if got.Status != store.StatusCancelled || len(f.cancelled) != 1 {
		t.Fatalf("after cancel: status %s, cancelled jobs %v", got.Status, f.cancelled)
	}
	if _, err := e.App.Service.Cancel(ctx, p, e.Greet.ID, run.Execution.ID); err == nil {
		t.Fatal("a cancelled run was cancelled again")
	}

	run, err = e.App.Service.Execute(ctx, p, core.RunRequest{WorkflowID: e.Greet.ID, Async: true})
	if err != nil {
		t.Fatal(err)
	}
	mid := *run.Execution
	mid.Status = store.StatusRunning // a replica took it and died mid-run
	if err := e.App.Store.Logs().Put(ctx, &mid); err != nil {
		t.Fatal(err)
	}
	f.run(t, e.App.Service, run.Execution.ID)
	got, _ = e.App.Store.Logs().Get(ctx, run.Execution.ID)
	if got.Status != store.StatusCompleted {
		t.Fatalf("rescued run ended %s", got.Status)
	}
}

// Recover with a shared queue leaves runs of live replicas alone: it re-queues only a
// queued execution whose job is missing for a minute, and marks interrupted only a run
// "running" longer than any run may without a job.
func TestSharedRecoverTouchesOnlyWhatNoReplicaHolds(t *testing.T) {
	e, f := sharedEnv(t)
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(status string, started time.Time) *store.Execution {
		x := &store.Execution{ID: store.NewID(), WorkflowID: e.Greet.ID, WorkspaceID: e.WS.ID, Version: 1,
			Trigger: store.TriggerAPI, Status: status, Level: "info", StartedAt: started, Input: []byte(`{}`)}
		if err := e.App.Store.Logs().Put(ctx, x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	freshQueued := mk(store.StatusQueued, now)                   // its replica is inserting the job right now
	orphan := mk(store.StatusQueued, now.Add(-2*time.Minute))    // its replica died before the insert
	liveRun := mk(store.StatusRunning, now.Add(-2*time.Hour))    // a long job some replica still runs
	syncRun := mk(store.StatusRunning, now.Add(-10*time.Minute)) // a sync run on another replica
	deadRun := mk(store.StatusRunning, now.Add(-2*time.Hour))    // a sync run of a dead replica
	f.live[liveRun.ID] = true

	rec, err := e.App.Service.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Resumed != 1 || rec.Interrupted != 1 {
		t.Fatalf("recovery %+v, want 1 re-queued and 1 interrupted", rec)
	}
	if _, ok := f.jobs[orphan.ID]; !ok {
		t.Fatal("the orphaned queued execution got no job")
	}
	if _, ok := f.jobs[freshQueued.ID]; ok {
		t.Fatal("a just-accepted execution was queued twice")
	}
	for _, c := range []struct {
		x    *store.Execution
		want string
	}{{freshQueued, store.StatusQueued}, {liveRun, store.StatusRunning}, {syncRun, store.StatusRunning}, {deadRun, store.StatusFailed}} {
		got, _ := e.App.Store.Logs().Get(ctx, c.x.ID)
		if got.Status != c.want {
			t.Errorf("execution started %v ago: %s, want %s", now.Sub(c.x.StartedAt).Round(time.Minute), got.Status, c.want)
		}
	}
	f.run(t, e.App.Service, orphan.ID)
	if got, _ := e.App.Store.Logs().Get(ctx, orphan.ID); got.Status != store.StatusCompleted {
		t.Fatalf("re-queued orphan ended %s", got.Status)
	}
}
