package core_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(s string)   { c.mu.Lock(); c.t, _ = time.Parse(time.RFC3339, s); c.mu.Unlock() }

// openAt opens the data directory dir with the service's clock c; jobs, when given, is
// the shared queue (as on PostgreSQL).
func openAt(t *testing.T, dir string, c *fakeClock, jobs ...store.Jobs) *app.App {
	t.Helper()
	cc := core.Config{Now: c.Now}
	if len(jobs) > 0 {
		cc.Jobs = jobs[0]
	}
	a, err := app.Open(context.Background(), app.Config{DataDir: dir, InProcessSandbox: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Core: cc})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func closeApp(t *testing.T, a *app.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// A schedule firing every minute (Sim's "minutes" type with minutesInterval 1, cron
// */1 * * * *: apps/sim/lib/workflows/schedules/utils.ts generateCronExpression) fires
// once per minute on an injected clock; a restart between fires loses none and repeats
// none, and fires missed while the server was down run once at start.
func TestScheduleEveryMinuteAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{}
	clock.Set("2026-11-29T10:00:30Z")
	ctx := context.Background()
	a := openAt(t, dir, clock)
	owner := &store.User{Email: "o@example.com", Name: "O"}
	if err := a.Store.CreateUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	ws := store.NewWorkspace("Ops", owner.ID, "")
	if err := a.Store.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	wf, err := a.Service.ImportWorkflow(ctx, auth.Operator(), ws.ID, testenv.Workflow(t, "schedule-every-minute.json"))
	if err != nil {
		t.Fatal(err)
	}

	var fired []string
	tick := func(a *app.App, at string, want int) {
		t.Helper()
		clock.Set(at)
		execs, err := a.Service.RunDueSchedules(ctx)
		if err != nil {
			t.Fatalf("%s: %v", at, err)
		}
		if len(execs) != want {
			t.Fatalf("%s: %d fires, want %d", at, len(execs), want)
		}
		for _, e := range execs {
			fired = append(fired, e.ID)
		}
	}
	tick(a, "2026-11-29T10:01:00Z", 0) // not deployed: nothing fires
	if _, err := a.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	tick(a, "2026-11-29T10:01:10Z", 0) // armed now: next fire 10:02
	tick(a, "2026-11-29T10:02:00Z", 1)
	tick(a, "2026-11-29T10:02:00Z", 0) // same instant again: already claimed
	tick(a, "2026-11-29T10:02:40Z", 0)
	closeApp(t, a)

	// Restart between fires.
	a = openAt(t, dir, clock)
	tick(a, "2026-11-29T10:02:50Z", 0)
	tick(a, "2026-11-29T10:03:01Z", 1)
	closeApp(t, a)

	// Down from 10:03:01 to 10:07:20: 10:04, 10:05, 10:06 and 10:07 were missed; one
	// run at start, then the next whole minute.
	clock.Set("2026-11-29T10:07:20Z")
	a = openAt(t, dir, clock)
	defer closeApp(t, a)
	tick(a, "2026-11-29T10:07:20Z", 1)
	tick(a, "2026-11-29T10:07:59Z", 0)
	tick(a, "2026-11-29T10:08:00Z", 1)

	scheds, err := a.Service.Schedules(ctx, auth.Operator(), ws.ID)
	if err != nil || len(scheds) != 1 {
		t.Fatalf("schedules = %v, %v", scheds, err)
	}
	if sc := scheds[0]; sc.NextRunAt.Format(time.RFC3339) != "2026-11-29T10:09:00Z" || sc.LastExecutionID != fired[len(fired)-1] || sc.Cron != "*/1 * * * *" || sc.Timezone != "Europe/Paris" {
		t.Errorf("schedule = %+v", sc)
	}
	if len(fired) != 4 {
		t.Fatalf("fired %d runs, want 4", len(fired))
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range fired {
		for {
			ex, err := a.Store.Logs().Get(ctx, id)
			if err == nil && ex.Status != store.StatusQueued && ex.Status != store.StatusRunning {
				if ex.Status != store.StatusCompleted || ex.Trigger != store.TriggerSchedule || ex.TriggerBlockID != "sched" || ex.Version != 1 {
					t.Errorf("run %s = %+v", id, ex)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s did not finish: %+v %v", id, ex, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Undeploy disarms it.
	if _, err := a.Service.Undeploy(ctx, auth.Operator(), wf.ID); err != nil {
		t.Fatal(err)
	}
	tick(a, "2026-11-29T10:30:00Z", 0)
}

// A fire whose run was accepted by a replica that died before claiming the fire is
// claimed by the next tick without a second run: the fire's run id is taken.
func TestScheduleFireAcceptedButNotClaimedRunsOnce(t *testing.T) {
	clock := &fakeClock{}
	clock.Set("2026-11-29T10:00:30Z")
	ctx := context.Background()
	a := openAt(t, t.TempDir(), clock)
	defer closeApp(t, a)
	wf := deployFixture(t, a, "schedule-every-minute.json")
	if _, err := a.Service.RunDueSchedules(ctx); err != nil { // arms it: next fire 10:01
		t.Fatal(err)
	}
	scheds, err := a.Service.Schedules(ctx, auth.Operator(), "")
	if err != nil || len(scheds) != 1 {
		t.Fatalf("schedules = %v, %v", scheds, err)
	}
	sc := scheds[0]
	clock.Set("2026-11-29T10:01:00Z")
	// What the dead replica got done: the fire's run, accepted; no claim.
	first, err := a.Service.Execute(ctx, auth.Operator(), core.RunRequest{WorkflowID: wf.ID, Trigger: store.TriggerSchedule,
		Async: true, TriggerBlockID: sc.BlockID, RunID: core.FireRunID(sc), Input: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	execs, err := a.Service.RunDueSchedules(ctx)
	if err != nil || len(execs) != 0 {
		t.Fatalf("the next tick ran %d more (%v), want none", len(execs), err)
	}
	scheds, _ = a.Service.Schedules(ctx, auth.Operator(), "")
	if got := scheds[0]; got.NextRunAt.Format(time.RFC3339) != "2026-11-29T10:02:00Z" || got.LastExecutionID != first.Execution.ID {
		t.Fatalf("schedule after the tick = next %v, last run %s; want 10:02 and %s", got.NextRunAt, got.LastExecutionID, first.Execution.ID)
	}
	clock.Set("2026-11-29T10:02:00Z")
	if execs, err := a.Service.RunDueSchedules(ctx); err != nil || len(execs) != 1 {
		t.Fatalf("the 10:02 fire: %d runs, %v", len(execs), err)
	}
}
