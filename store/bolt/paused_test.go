package bolt

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func TestPausedRuns(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	human := &store.PausedRun{ExecutionID: "e1", WorkflowID: "wf1", WorkspaceID: "ws", Version: 2, Status: store.PausedWaiting,
		PausePoints: []store.PausePoint{{ContextID: "hitl", BlockID: "hitl", Kind: store.PauseHuman, PausedAt: t0}}, State: []byte("sealed")}
	timed := &store.PausedRun{ExecutionID: "e2", WorkflowID: "wf2", WorkspaceID: "ws", Status: store.PausedWaiting,
		PausePoints: []store.PausePoint{{ContextID: "w", BlockID: "w", Kind: store.PauseTime, PausedAt: t0, ResumeAt: at(time.Hour)}}}
	later := &store.PausedRun{ExecutionID: "e3", WorkflowID: "wf2", WorkspaceID: "ws", Status: store.PausedWaiting,
		PausePoints: []store.PausePoint{{ContextID: "w", BlockID: "w", Kind: store.PauseTime, PausedAt: t0, ResumeAt: at(2 * time.Hour)}}}
	for _, p := range []*store.PausedRun{human, timed, later} {
		if err := s.PutPausedRun(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.PausedRun(ctx, "e1")
	if err != nil || got.Version != 2 || string(got.State) != "sealed" || got.Point("hitl") == nil {
		t.Fatalf("get: %v %+v", err, got)
	}
	if l, _ := s.PausedRuns(ctx, "wf2"); len(l) != 2 {
		t.Fatalf("list wf2 = %d, want 2", len(l))
	}
	due := func(d time.Duration) []string {
		t.Helper()
		l, err := s.DuePausedRuns(ctx, t0.Add(d), 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range l {
			ids = append(ids, p.ExecutionID)
		}
		return ids
	}
	if ids := due(59 * time.Minute); len(ids) != 0 {
		t.Fatalf("due before time: %v", ids)
	}
	if ids := due(3 * time.Hour); len(ids) != 2 || ids[0] != "e2" || ids[1] != "e3" {
		t.Fatalf("due = %v, want [e2 e3]", ids)
	}

	// Two resumes race for one pause point: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.ClaimPausedRun(ctx, "e2", "w")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != 7 {
		t.Fatalf("wins %d conflicts %d", wins, conflicts)
	}
	if ids := due(3 * time.Hour); len(ids) != 1 || ids[0] != "e3" {
		t.Fatalf("a claimed run is no longer due: %v", ids)
	}
	if _, err := s.ClaimPausedRun(ctx, "e1", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown context: %v", err)
	}
	if _, err := s.ClaimPausedRun(ctx, "none", "hitl"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown run: %v", err)
	}
	if err := s.DeletePausedRun(ctx, "e3"); err != nil {
		t.Fatal(err)
	}
	if ids := due(3 * time.Hour); len(ids) != 0 {
		t.Fatalf("deleted run still due: %v", ids)
	}
	if _, err := s.PausedRun(ctx, "e3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
}
