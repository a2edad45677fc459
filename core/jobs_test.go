package core_test

import (
	"context"
	"errors"
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
// that has not fetched them yet. live also stands for the runs live replicas list in
// their heartbeats.
type fakeJobs struct {
	st        store.Store
	mu        sync.Mutex
	jobs      map[string]store.Job
	live      map[string]bool
	cancelled []string
}

func (f *fakeJobs) Enqueue(ctx context.Context, j store.Job, record *store.Execution) error {
	if record != nil {
		// PostgreSQL commits the two together; here the record lands first.
		if err := f.st.Logs().Put(ctx, record); err != nil {
			return err
		}
	}
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
	f.st = e.App.Store
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

// Recover with a shared queue settles only what no job and no live replica holds, and
// only once two settles in a row found it so (a run that has just started shows in its
// replica's heartbeat at the next beat): such a run is marked interrupted, never run
// again; a claimed resume that never got going is too, and its pause state dropped.
func TestSharedRecoverTouchesOnlyWhatNoReplicaHolds(t *testing.T) {
	e, f := sharedEnv(t)
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(status string) *store.Execution {
		x := &store.Execution{ID: store.NewID(), WorkflowID: e.Greet.ID, WorkspaceID: e.WS.ID, Version: 1,
			Trigger: store.TriggerAPI, Status: status, Level: "info", StartedAt: now.Add(-time.Hour), Input: []byte(`{}`)}
		if err := e.App.Store.Logs().Put(ctx, x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	held := mk(store.StatusRunning)        // a sync run a live replica lists, or a job
	lost := mk(store.StatusRunning)        // a sync run of a replica that died
	late := mk(store.StatusRunning)        // just started: its replica lists it at the next beat
	finishes := mk(store.StatusRunning)    // finishes between the two settles
	discarded := mk(store.StatusQueued)    // its job failed every attempt and was dropped
	resuming := mk(store.StatusPaused)     // a resume claimed on a replica that died at once
	pausedSaved := mk(store.StatusRunning) // saved its pause, died before its record said so
	f.live[held.ID] = true
	pr := &store.PausedRun{ExecutionID: resuming.ID, WorkflowID: e.Greet.ID, WorkspaceID: e.WS.ID, Status: store.PausedWaiting,
		PausedAt: now, PausePoints: []store.PausePoint{{ContextID: "h", BlockID: "h", Kind: store.PauseHuman, PausedAt: now}}}
	if err := e.App.Store.PutPausedRun(ctx, pr); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Store.ClaimPausedRun(ctx, resuming.ID, "h"); err != nil {
		t.Fatal(err)
	}
	saved := *pr
	saved.ExecutionID, saved.Status = pausedSaved.ID, store.PausedWaiting
	if err := e.App.Store.PutPausedRun(ctx, &saved); err != nil {
		t.Fatal(err)
	}

	if rec, err := e.App.Service.Recover(ctx); err != nil || rec.Interrupted != 0 {
		t.Fatalf("first settle: %+v %v; want nothing settled on a first sighting", rec, err)
	}
	f.live[late.ID] = true
	done := *finishes
	done.Status, done.EndedAt = store.StatusCompleted, &now
	if err := e.App.Store.Logs().Put(ctx, &done); err != nil {
		t.Fatal(err)
	}
	rec, err := e.App.Service.Recover(ctx)
	if err != nil || rec.Interrupted != 3 {
		t.Fatalf("second settle: %+v %v; want 3 interrupted", rec, err)
	}
	for _, c := range []struct {
		x          *store.Execution
		want, code string
	}{
		{held, store.StatusRunning, ""}, {lost, store.StatusFailed, core.ErrorCodeInterrupted},
		{late, store.StatusRunning, ""}, {finishes, store.StatusCompleted, ""},
		{discarded, store.StatusFailed, core.ErrorCodeInterrupted}, {resuming, store.StatusFailed, core.ErrorCodeInterrupted},
		{pausedSaved, store.StatusPaused, ""},
	} {
		got, _ := e.App.Store.Logs().Get(ctx, c.x.ID)
		if got.Status != c.want || got.ErrorCode != c.code {
			t.Errorf("%s: %s/%s, want %s/%s", c.x.ID, got.Status, got.ErrorCode, c.want, c.code)
		}
	}
	if _, err := e.App.Store.PausedRun(ctx, resuming.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the cut-off resume's pause state: %v, want dropped", err)
	}
	if got, err := e.App.Store.PausedRun(ctx, pausedSaved.ID); err != nil || got.Status != store.PausedWaiting {
		t.Errorf("the saved pause: %+v %v, want still waiting", got, err)
	}
	if _, ok := f.jobs[discarded.ID]; ok {
		t.Error("a run whose job was dropped was queued again")
	}
}

// With a shared queue a due wait is resumed by a job (one per pause point, whichever
// replica fetches it), not in the background of the replica that noticed it.
func TestSharedQueueResumesDueWaitsAsJobs(t *testing.T) {
	clock := &fakeClock{}
	clock.Set("2026-11-29T10:00:00Z")
	f := &fakeJobs{jobs: map[string]store.Job{}, live: map[string]bool{}}
	a := openAt(t, t.TempDir(), clock, f)
	t.Cleanup(func() { closeApp(t, a) })
	f.st = a.Store
	ctx := context.Background()
	wf := deployFixture(t, a, "long-wait.json")
	run, err := a.Service.Execute(ctx, auth.Operator(), core.RunRequest{WorkflowID: wf.ID})
	if err != nil || run.Execution.Status != store.StatusPaused {
		t.Fatalf("want paused: %+v %v", run, err)
	}
	id := run.Execution.ID
	clock.Set("2026-11-29T10:01:00Z")
	for range 2 { // noticed twice (two ticks) before a replica fetches it: one job
		if ids, err := a.Service.ResumeDue(ctx); err != nil || len(ids) != 1 {
			t.Fatalf("resume due: %v %v", ids, err)
		}
	}
	if j := f.jobs[id]; j.ContextID != "nap" || len(f.jobs) != 1 {
		t.Fatalf("jobs %+v, want one resume job at nap", f.jobs)
	}
	if got, _ := a.Store.PausedRun(ctx, id); got.Status != store.PausedWaiting {
		t.Fatalf("noticing claimed it: %s", got.Status)
	}
	f.run(t, a.Service, id) // the job waits for the resumed run
	ex, _ := a.Store.Logs().Get(ctx, id)
	if ex.Status != store.StatusCompleted || string(ex.Output) != `{"result":"woke after 60000 ms, completed","stdout":""}` {
		t.Fatalf("record %+v %s", ex, ex.Output)
	}
	// Delivered again (its replica died after the run ended, before the queue heard):
	// the point is taken, nothing runs.
	if err := a.Service.RunJob(ctx, f.jobs[id]); err != nil {
		t.Fatal(err)
	}
	if again, _ := a.Store.Logs().Get(ctx, id); !again.EndedAt.Equal(*ex.EndedAt) {
		t.Fatal("a resumed wait ran twice")
	}
}
