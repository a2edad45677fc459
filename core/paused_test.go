package core_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

func deployFixture(t *testing.T, a *app.App, name string) *store.Workflow {
	t.Helper()
	ctx := context.Background()
	owner := &store.User{Email: "o@example.com", Name: "O"}
	if err := a.Store.CreateUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	ws := store.NewWorkspace("Ops", owner.ID, "")
	if err := a.Store.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	wf, err := a.Service.ImportWorkflow(ctx, auth.Operator(), ws.ID, testenv.Workflow(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	return wf
}

func codeOf(err error) string {
	var ce *core.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

// A run paused at human_in_the_loop survives closing and reopening the data directory
// and completes after resume; the second answer is refused (Sim:
// apps/sim/lib/workflows/executor/human-in-the-loop-manager.ts enqueueOrStartResume,
// "Pause point already resumed or in progress" / "Paused execution is not resumable").
func TestHumanPauseSurvivesReopenAndResumesOnce(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{}
	clock.Set("2026-11-29T10:00:00Z")
	ctx := context.Background()
	a := openAt(t, dir, clock)
	wf := deployFixture(t, a, "approval.json")
	run, err := a.Service.Execute(ctx, auth.Operator(), core.RunRequest{WorkflowID: wf.ID, Input: map[string]any{"amount": 21}})
	if err != nil {
		t.Fatal(err)
	}
	if run.Result.Paused == nil || run.Execution.Status != store.StatusPaused || run.Execution.EndedAt != nil {
		t.Fatalf("want paused, got %+v", run.Execution)
	}
	execID := run.Execution.ID
	data, _ := run.Result.Output["data"].(map[string]any)
	links, _ := data["_resume"].(map[string]any)
	if links["apiUrl"] != "/api/resume/"+wf.ID+"/"+execID+"/approval" {
		t.Fatalf("resume links %v", links)
	}
	pr, err := a.Service.PausedRun(ctx, auth.Operator(), wf.ID, execID)
	if err != nil || pr.Version != 1 || pr.Trigger != store.TriggerAPI || len(pr.PausePoints) != 1 || pr.PausePoints[0].Kind != store.PauseHuman || pr.State != nil {
		t.Fatalf("paused run %+v %v", pr, err)
	}
	closeApp(t, a)

	a = openAt(t, dir, clock)
	defer closeApp(t, a)
	rec, err := a.Service.Recover(ctx)
	if err != nil || rec.Paused != 1 || rec.Interrupted != 0 {
		t.Fatalf("recover %+v %v", rec, err)
	}
	if ex, _ := a.Store.Logs().Get(ctx, execID); ex.Status != store.StatusPaused {
		t.Fatalf("after restart: %+v", ex)
	}
	// Time pauses only through the scheduler; unknown pause points are not found.
	if _, err := a.Service.Resume(ctx, auth.Operator(), core.ResumeRequest{WorkflowID: wf.ID, ExecutionID: execID, ContextID: "nope"}); codeOf(err) != "not_found" {
		t.Fatalf("unknown context: %v", err)
	}
	clock.Set("2026-11-29T11:00:00Z")
	got, err := a.Service.Resume(ctx, auth.Operator(), core.ResumeRequest{WorkflowID: wf.ID, ExecutionID: execID, ContextID: "approval",
		Input: map[string]any{"approved": true, "comment": "fine"}})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Result.Success || got.Result.Output["result"] != "approved 42: fine" || got.Execution.Status != store.StatusCompleted {
		t.Fatalf("resumed: %+v / %+v", got.Result, got.Execution)
	}
	ex, err := a.Store.Logs().Get(ctx, execID)
	if err != nil || ex.Status != store.StatusCompleted || ex.EndedAt == nil || ex.Version != 1 {
		t.Fatalf("record after resume %+v %v", ex, err)
	}
	if _, err := a.Store.PausedRun(ctx, execID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("paused state left behind: %v", err)
	}
	_, err = a.Service.Resume(ctx, auth.Operator(), core.ResumeRequest{WorkflowID: wf.ID, ExecutionID: execID, ContextID: "approval"})
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Status != 409 {
		t.Fatalf("second resume: %v", err)
	}
	if _, err := a.Service.Resume(ctx, auth.Operator(), core.ResumeRequest{WorkflowID: wf.ID, ExecutionID: "no-such-run", ContextID: "approval"}); codeOf(err) != "not_found" {
		t.Fatalf("unknown run: %v", err)
	}
}

// Sim's async wait (apps/sim/executor/handlers/wait/wait-handler.ts) pauses with
// pauseKind "time"; its poller (apps/sim/app/api/resume/poll/route.ts) resumes it
// once resumeAt has passed. Here the clock is injected: nothing resumes early, the
// wait resumes on time, once, and a wait that fell due while the server was down
// resumes at the first tick after start.
func TestAsyncWaitResumesOnTime(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{}
	clock.Set("2026-11-29T10:00:00Z")
	ctx := context.Background()
	a := openAt(t, dir, clock)
	wf := deployFixture(t, a, "long-wait.json")
	start := func() string {
		t.Helper()
		run, err := a.Service.Execute(ctx, auth.Operator(), core.RunRequest{WorkflowID: wf.ID})
		if err != nil {
			t.Fatal(err)
		}
		if run.Execution.Status != store.StatusPaused || run.Result.Output["resumeAt"] != "2026-11-29T10:01:00.000Z" {
			t.Fatalf("want paused until 10:01, got %+v %v", run.Execution, run.Result.Output)
		}
		return run.Execution.ID
	}
	due := func(at string, want int) {
		t.Helper()
		clock.Set(at)
		ids, err := a.Service.ResumeDue(ctx)
		if err != nil || len(ids) != want {
			t.Fatalf("%s: resumed %v (%v), want %d", at, ids, err, want)
		}
	}
	finished := func(a *app.App, id string) *store.Execution {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			ex, err := a.Store.Logs().Get(ctx, id)
			if err == nil && ex.Status != store.StatusRunning && ex.Status != store.StatusPaused {
				return ex
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s did not finish: %+v %v", id, ex, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	id := start()
	if _, err := a.Service.Resume(ctx, auth.Operator(), core.ResumeRequest{WorkflowID: wf.ID, ExecutionID: id, ContextID: "nap"}); codeOf(err) != "invalid_pause_kind" {
		t.Fatalf("a time pause through the human endpoint: %v", err)
	}
	due("2026-11-29T10:00:59Z", 0)
	due("2026-11-29T10:01:00Z", 1)
	due("2026-11-29T10:01:05Z", 0) // claimed: never twice
	ex := finished(a, id)
	if ex.Status != store.StatusCompleted || string(ex.Output) != `{"result":"woke after 60000 ms, completed","stdout":""}` {
		t.Fatalf("record %+v %s", ex, ex.Output)
	}

	// Paused, then the server is down past the wait's time.
	clock.Set("2026-11-29T12:00:00Z")
	id = func() string {
		run, err := a.Service.Execute(ctx, auth.Operator(), core.RunRequest{WorkflowID: wf.ID})
		if err != nil || run.Execution.Status != store.StatusPaused {
			t.Fatalf("%v %+v", err, run)
		}
		return run.Execution.ID
	}()
	closeApp(t, a)
	clock.Set("2026-11-29T15:00:00Z")
	a = openAt(t, dir, clock)
	defer closeApp(t, a)
	if rec, err := a.Service.Recover(ctx); err != nil || rec.Paused != 1 {
		t.Fatalf("recover %+v %v", rec, err)
	}
	due("2026-11-29T15:00:00Z", 1)
	if ex := finished(a, id); ex.Status != store.StatusCompleted {
		t.Fatalf("overdue wait after restart: %+v", ex)
	}
}

// A resume cut off by a crash (claimed, not finished) leaves the run failed as
// interrupted at the next start, never run twice, and its pause state gone.
func TestRecoverSettlesAResumeCutOff(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{}
	clock.Set("2026-11-29T10:00:00Z")
	ctx := context.Background()
	a := openAt(t, dir, clock)
	wf := deployFixture(t, a, "approval.json")
	run, err := a.Service.Execute(ctx, auth.Operator(), core.RunRequest{WorkflowID: wf.ID})
	if err != nil || run.Execution.Status != store.StatusPaused {
		t.Fatalf("%v %+v", err, run)
	}
	id := run.Execution.ID
	if _, err := a.Store.ClaimPausedRun(ctx, id, "approval"); err != nil {
		t.Fatal(err)
	}
	closeApp(t, a)
	a = openAt(t, dir, clock)
	defer closeApp(t, a)
	rec, err := a.Service.Recover(ctx)
	if err != nil || rec.Interrupted != 1 || rec.Paused != 0 {
		t.Fatalf("recover %+v %v", rec, err)
	}
	ex, _ := a.Store.Logs().Get(ctx, id)
	if ex.Status != store.StatusFailed || ex.ErrorCode != core.ErrorCodeInterrupted {
		t.Fatalf("record %+v", ex)
	}
	if _, err := a.Store.PausedRun(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pause state left: %v", err)
	}
	if _, err := a.Service.Resume(ctx, auth.Operator(), core.ResumeRequest{WorkflowID: wf.ID, ExecutionID: id, ContextID: "approval"}); codeOf(err) != "not_resumable" {
		t.Fatalf("resume after: %v", err)
	}
}

// A draft (manual) run resumes with the draft it paused in, not one edited since: a
// draft changes under the same id, a deployed version never does.
func TestDraftRunResumesWithTheDraftItRan(t *testing.T) {
	clock := &fakeClock{}
	clock.Set("2026-11-29T10:00:00Z")
	ctx := context.Background()
	a := openAt(t, t.TempDir(), clock)
	defer closeApp(t, a)
	wf := deployFixture(t, a, "approval.json")
	run, err := a.Service.Execute(ctx, auth.Operator(), core.RunRequest{WorkflowID: wf.ID, Draft: true, Trigger: store.TriggerManual, Input: map[string]any{"amount": 1}})
	if err != nil || run.Execution.Status != store.StatusPaused || run.Execution.Version != 0 {
		t.Fatalf("%v %+v", err, run)
	}
	edited := bytes.Replace(testenv.Workflow(t, "approval.json"), []byte("'approved '"), []byte("'EDITED '"), 1)
	if _, err := a.Service.UpdateWorkflow(ctx, auth.Operator(), wf.ID, edited); err != nil {
		t.Fatal(err)
	}
	got, err := a.Service.Resume(ctx, auth.Operator(), core.ResumeRequest{WorkflowID: wf.ID, ExecutionID: run.Execution.ID,
		ContextID: "approval", Input: map[string]any{"approved": true, "comment": "c"}})
	if err != nil || got.Result.Output["result"] != "approved 2: c" {
		t.Fatalf("%v %+v", err, got)
	}
}
