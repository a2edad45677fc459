package embed_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// TestPagesFastWithManyExecutions times every dashboard page on a store with 100,000
// executions (the budget: under 100 ms each). It takes a minute to seed, so it
// runs only with STEELENGINE_DASHBOARD_LOAD=1.
func TestPagesFastWithManyExecutions(t *testing.T) {
	if os.Getenv("STEELENGINE_DASHBOARD_LOAD") == "" {
		t.Skip("set STEELENGINE_DASHBOARD_LOAD=1 to time the pages on 100,000 executions")
	}
	e := testenv.New(t)
	const n = 100_000
	ctx := context.Background()
	start := time.Now().Add(-7 * 24 * time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < n; i += 64 {
				at := start.Add(time.Duration(i) * (7 * 24 * time.Hour / n))
				end := at.Add(time.Duration(i%500) * time.Millisecond)
				wf := e.Greet
				if i%3 == 0 {
					wf = e.Echo
				}
				ex := &store.Execution{ID: store.NewID(), WorkflowID: wf.ID, WorkspaceID: e.WS.ID, Version: 1, Trigger: store.TriggerAPI,
					Status: store.StatusCompleted, Level: "info", StartedAt: at, EndedAt: &end, DurationMs: int64(i % 500)}
				if i%17 == 0 {
					ex.Status, ex.Level, ex.Error = store.StatusFailed, "error", "boom"
				}
				if err := e.App.Store.Logs().Put(ctx, ex); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}(g)
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if c, err := e.App.Store.Logs().Count(ctx); err != nil || c < n {
		t.Fatalf("logs.db holds %d executions (%v), want %d", c, err, n)
	}
	b := signIn(t, e, e.Admin.Email, e.AdminPassword)
	ws := "/dashboard/workspaces/" + e.WS.ID
	pages := []string{"/dashboard", ws + "/workflows", ws + "/workflows/" + e.Greet.ID, ws + "/settings/api-keys", ws + "/settings/members",
		ws + "/logs", ws + "/logs?range=7d", ws + "/logs?range=all", ws + "/logs?range=30d&status=failed", ws + "/logs?range=7d&workflow=" + e.Echo.ID,
		"/dashboard/organizations/" + e.Org.ID, "/dashboard/organizations/" + e.Org.ID + "/settings/api-keys"}
	for _, p := range pages {
		var ds []time.Duration
		for i := 0; i < 7; i++ {
			t0 := time.Now()
			code, _ := b.get(p)
			ds = append(ds, time.Since(t0))
			if code != 200 {
				t.Fatalf("GET %s = %d", p, code)
			}
		}
		slices.Sort(ds)
		msg := fmt.Sprintf("%-70s median %6.1f ms, max %6.1f ms", p, ms(ds[len(ds)/2]), ms(ds[len(ds)-1]))
		t.Log(msg)
		if ds[len(ds)/2] > 100*time.Millisecond {
			t.Errorf("too slow: %s", msg)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
