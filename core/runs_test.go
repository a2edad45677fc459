package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

func resolve(t *testing.T, e *testenv.Env, key string) *auth.Principal {
	t.Helper()
	p, err := e.App.Resolver.Resolve(context.Background(), key, "127.0.0.1", auth.TransportHTTP)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecuteRecordsTheRun(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	p := resolve(t, e, e.WSKey)
	run, err := e.App.Service.Execute(ctx, p, core.RunRequest{WorkflowID: e.Echo.ID, Input: map[string]any{"message": "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := run.Result.Output["result"].(map[string]any)
	if !run.Result.Success || res["message"] != "hi" {
		t.Fatalf("result %+v", run.Result)
	}
	got, err := e.App.Store.Logs().Get(ctx, run.Execution.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusCompleted || got.KeyID != p.KeyID || got.Trigger != store.TriggerAPI || got.BilledTo != e.Admin.ID {
		t.Fatalf("record %+v", got)
	}
}

func TestExecuteRefusesUndeployedAndOutsiders(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	_, err := e.App.Service.Execute(ctx, resolve(t, e, e.WSKey), core.RunRequest{WorkflowID: e.Undeployed.ID})
	if !errors.Is(err, core.ErrNotDeployed) {
		t.Fatalf("undeployed: %v", err)
	}
	for name, key := range map[string]string{"outsider": e.OutsiderKey, "read-only": e.WSReadKey, "narrowed": e.WSNarrowKey, "org workflow grant": e.OrgWorkflowKey} {
		_, err := e.App.Service.Execute(ctx, resolve(t, e, key), core.RunRequest{WorkflowID: e.Greet.ID})
		var ae *auth.Error
		if !errors.As(err, &ae) || ae.Status != 403 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestAsyncRunCompletesAndRunIDIsOneShot(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	p := resolve(t, e, e.WSKey)
	run, err := e.App.Service.Execute(ctx, p, core.RunRequest{WorkflowID: e.Greet.ID, Async: true, RunID: "job-1"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := e.App.Service.GetRun(ctx, p, e.Greet.ID, "job-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == store.StatusCompleted {
			if got.ID != run.Execution.ID {
				t.Fatalf("run id resolves to %s, want %s", got.ID, run.Execution.ID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = e.App.Service.Execute(ctx, p, core.RunRequest{WorkflowID: e.Greet.ID, RunID: "job-1"})
	if !errors.Is(err, core.ErrRunIDConflict) {
		t.Fatalf("reused run id: %v", err)
	}
}

func TestListLogsNarrowedToGrants(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	admin := resolve(t, e, e.WSKey)
	for _, wf := range []string{e.Greet.ID, e.Echo.ID, e.Echo.ID} {
		if _, err := e.App.Service.Execute(ctx, admin, core.RunRequest{WorkflowID: wf, Input: map[string]any{"message": "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		key  string
		q    store.LogQuery
		want int
		code int
	}{
		{"workspace key sees all", e.WSKey, store.LogQuery{WorkspaceID: e.WS.ID}, 3, 0},
		{"org workflow key sees its workflow", e.OrgWorkflowKey, store.LogQuery{WorkspaceID: e.WS.ID}, 2, 0},
		{"org workflow key asking for another workflow", e.OrgWorkflowKey, store.LogQuery{WorkspaceID: e.WS.ID, WorkflowIDs: []string{e.Greet.ID}}, 0, 403},
		{"outsider", e.OutsiderKey, store.LogQuery{WorkspaceID: e.WS.ID}, 0, 403},
		{"missing workspace id", e.WSKey, store.LogQuery{}, 0, 400},
	}
	for _, c := range cases {
		page, err := e.App.Service.ListLogs(ctx, resolve(t, e, c.key), c.q)
		if c.code != 0 {
			var ae *auth.Error
			var ce *core.Error
			status := 0
			if errors.As(err, &ae) {
				status = ae.Status
			} else if errors.As(err, &ce) {
				status = ce.Status
			}
			if status != c.code {
				t.Errorf("%s: err %v, want status %d", c.name, err, c.code)
			}
			continue
		}
		if err != nil || len(page.Items) != c.want {
			t.Errorf("%s: %d items, err %v; want %d", c.name, len(page.Items), err, c.want)
		}
	}
}
