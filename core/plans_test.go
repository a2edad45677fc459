package core_test

import (
	"context"
	"testing"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// A warm lookup of a workflow's active version touches neither bbolt nor JSON (no
// allocation at all), and a deploy is seen on the very next lookup.
func TestActiveVersionFromMemoryUntilEpochMoves(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	svc, id := e.App.Service, e.Greet.ID
	if v, err := svc.ActiveVersion(ctx, id); err != nil || v != 1 {
		t.Fatalf("version %d, %v", v, err)
	}
	if n := testing.AllocsPerRun(100, func() { svc.ActiveVersion(ctx, id) }); n != 0 {
		t.Fatalf("warm lookup allocates %.0f times: it reads the store", n)
	}
	if _, err := svc.Deploy(ctx, auth.Operator(), id, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	if v, err := svc.ActiveVersion(ctx, id); err != nil || v != 2 {
		t.Fatalf("after deploy: version %d, %v", v, err)
	}
}

// BenchmarkPlanCacheHit is the per-request cost of finding the plan to run.
func BenchmarkPlanCacheHit(b *testing.B) {
	e := testenv.New(b)
	ctx := context.Background()
	svc, id := e.App.Service, e.Greet.ID
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.ActiveVersion(ctx, id); err != nil {
				b.Error(err)
			}
		}
	})
}

// Runs by workspace keys bill the workspace's owner; a new owner is billed from the
// next run on, though the owner is kept in memory between runs.
func TestBillingOwnerFollowsWorkspaceUpdate(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	p := resolve(t, e, e.WSKey)
	billed := func() string {
		t.Helper()
		run, err := e.App.Service.Execute(ctx, p, core.RunRequest{WorkflowID: e.Echo.ID, Input: map[string]any{"message": "hi"}})
		if err != nil {
			t.Fatal(err)
		}
		return run.Execution.BilledTo
	}
	if b := billed(); b != e.Admin.ID {
		t.Fatalf("billed %s, want the owner %s", b, e.Admin.ID)
	}
	if err := e.App.Store.SetWorkspaceMember(ctx, e.WS.ID, e.Member.ID, store.LevelAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Store.UpdateWorkspace(ctx, e.WS.ID, func(ws *store.Workspace) error { ws.OwnerID = e.Member.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	if b := billed(); b != e.Member.ID {
		t.Fatalf("billed %s after the owner changed, want %s", b, e.Member.ID)
	}
}
