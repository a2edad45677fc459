package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// replicas opens n stores on one database, as n SteelEngine replicas would.
func replicas(t *testing.T, n int) []*Store {
	t.Helper()
	url := pgtest.URL(t)
	out := make([]*Store, n)
	for i := range out {
		s, err := OpenStore(t.Context(), url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	for _, s := range out {
		eventually(t, 5*time.Second, "listening", func() bool { return s.listener.up.Load() })
	}
	return out
}

// A deploy on one replica moves the workflow epoch there at once and on the others
// within a second (the tool lists and plan caches they keep go stale), and deleting a
// workflow, which drops grants, moves the auth epoch everywhere too.
func TestWorkflowChangesReachOtherReplicas(t *testing.T) {
	ctx := context.Background()
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	u := &store.User{Email: "r@x.io", Name: "r"}
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	ws := store.NewWorkspace("W", u.ID, "")
	if err := a.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	wf := &store.Workflow{WorkspaceID: ws.ID, Name: "wf"}
	if err := a.CreateWorkflow(ctx, wf); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "b sees the create", func() bool { return b.WorkflowEpoch() == a.WorkflowEpoch() })

	w0 := b.WorkflowEpoch()
	if _, err := a.Deploy(ctx, wf.ID, json.RawMessage(`{"v":1}`), u.ID, ""); err != nil {
		t.Fatal(err)
	}
	if a.WorkflowEpoch() <= w0 {
		t.Fatal("the deploying replica's workflow epoch did not move at commit")
	}
	took := eventually(t, time.Second, "b sees the deploy", func() bool { return b.WorkflowEpoch() > w0 })
	t.Logf("deploy reached the other replica after %v", took)
	if _, dep, err := b.ActiveDeployment(ctx, wf.ID); err != nil || dep == nil || string(dep.Definition) != `{"v":1}` {
		t.Fatalf("b reads the deployment: %+v %v", dep, err)
	}

	a0 := a.AuthEpoch()
	if err := b.DeleteWorkflow(ctx, wf.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "a sees the delete", func() bool { return a.AuthEpoch() > a0 })
}

// Replicas racing for one schedule fire and one pause point: exactly one of them runs it.
func TestClaimsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	rs := replicas(t, 3)
	due := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	sc := &store.Schedule{WorkflowID: "wf", BlockID: "s", WorkspaceID: "ws", Cron: "* * * * *", NextRunAt: due, CreatedAt: due}
	if err := rs[0].SyncSchedules(ctx, []*store.Schedule{sc}, func(_, n *store.Schedule) *store.Schedule { return n }); err != nil {
		t.Fatal(err)
	}
	at := due.Add(time.Minute)
	p := &store.PausedRun{ExecutionID: "e", WorkflowID: "wf", WorkspaceID: "ws", Status: store.PausedWaiting, PausedAt: due,
		PausePoints: []store.PausePoint{{ContextID: "w", BlockID: "w", Kind: store.PauseTime, PausedAt: due, ResumeAt: &at}}}
	if err := rs[1].PutPausedRun(ctx, p); err != nil {
		t.Fatal(err)
	}

	const perReplica = 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	fires, resumes, conflicts := 0, 0, 0
	for _, s := range rs {
		for range perReplica {
			wg.Add(2)
			go func() {
				defer wg.Done()
				ok, err := s.ClaimSchedule(ctx, "wf", "s", due, due, due.Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if ok {
					fires++
				}
			}()
			go func() {
				defer wg.Done()
				_, err := s.ClaimPausedRun(ctx, "e", "w")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					resumes++
				case errors.Is(err, store.ErrConflict):
					conflicts++
				default:
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	n := len(rs) * perReplica
	if fires != 1 {
		t.Errorf("%d of %d claimers on %d replicas fired one schedule, want 1", fires, n, len(rs))
	}
	if resumes != 1 || conflicts != n-1 {
		t.Errorf("pause point: %d resumes, %d conflicts; want 1 and %d", resumes, conflicts, n-1)
	}
}

// An environment variable set through one replica moves the config epoch there at once
// and on the others within a second, so their run caches read it afresh.
func TestConfigChangesReachOtherReplicas(t *testing.T) {
	ctx := context.Background()
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	u := &store.User{Email: "c@x.io", Name: "c"}
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	ws := store.NewWorkspace("W", u.ID, "")
	if err := a.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	c0 := b.ConfigEpoch()
	if err := a.SetEnvVar(ctx, &store.EnvVar{WorkspaceID: ws.ID, Name: "TOKEN", Ciphertext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if a.ConfigEpoch() <= c0 {
		t.Fatal("the writing replica's config epoch did not move at commit")
	}
	eventually(t, time.Second, "b sees the change", func() bool { return b.ConfigEpoch() == a.ConfigEpoch() })
}
