package storetest

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func testSchedules(t *testing.T, open Opener) {
	sched := func(wf, block string, next time.Time) *store.Schedule {
		return &store.Schedule{WorkflowID: wf, BlockID: block, WorkspaceID: "ws", BlockName: "Every " + block, Version: 3,
			Cron: "*/5 * * * *", Timezone: "Europe/Paris", NextRunAt: next, CreatedAt: t0}
	}
	takeNew := func(old, nw *store.Schedule) *store.Schedule { return nw }
	keys := func(l []*store.Schedule) (out []string) {
		for _, sc := range l {
			out = append(out, sc.WorkflowID+"/"+sc.BlockID)
		}
		return out
	}

	t.Run("Sync", func(t *testing.T) {
		s := open(t)
		if l, err := s.Schedules(ctx); err != nil || len(l) != 0 {
			t.Fatalf("empty store = %v %v", l, err)
		}
		next := t0.Add(5 * time.Minute)
		want := []*store.Schedule{sched("wf-b", "s1", next), sched("wf-a", "s2", next), sched("wf-a", "s1", next), sched("wf-A", "s9", next)}
		wantErr(t, "sync", s.SyncSchedules(ctx, want, takeNew), nil)
		l, err := s.Schedules(ctx)
		if err != nil || !slices.Equal(keys(l), []string{"wf-A/s9", "wf-a/s1", "wf-a/s2", "wf-b/s1"}) {
			t.Fatalf("schedules (by workflow, then block) = %v %v", keys(l), err)
		}
		got := l[1]
		if got.WorkspaceID != "ws" || got.BlockName != "Every s1" || got.Version != 3 || got.Cron != "*/5 * * * *" ||
			got.Timezone != "Europe/Paris" || !got.NextRunAt.Equal(next) || got.LastRunAt != nil || !got.CreatedAt.Equal(t0) {
			t.Errorf("stored = %+v", got)
		}

		// merge sees the stored entry; nil leaves it; entries not wanted go.
		var seen []string
		later := next.Add(time.Hour)
		err = s.SyncSchedules(ctx, []*store.Schedule{sched("wf-a", "s1", later), sched("wf-a", "s2", later), sched("wf-c", "s1", later)},
			func(old, nw *store.Schedule) *store.Schedule {
				if old == nil {
					seen = append(seen, nw.WorkflowID+"/"+nw.BlockID+":new")
					return nw
				}
				seen = append(seen, old.WorkflowID+"/"+old.BlockID+":"+old.NextRunAt.Sub(t0).String())
				if old.BlockID == "s1" {
					return nil // keep as stored
				}
				nw.Version = 4
				return nw
			})
		wantErr(t, "resync", err, nil)
		slices.Sort(seen)
		if !slices.Equal(seen, []string{"wf-a/s1:5m0s", "wf-a/s2:5m0s", "wf-c/s1:new"}) {
			t.Errorf("merge saw %v", seen)
		}
		l, _ = s.Schedules(ctx)
		if !slices.Equal(keys(l), []string{"wf-a/s1", "wf-a/s2", "wf-c/s1"}) {
			t.Fatalf("after resync = %v", keys(l))
		}
		if !l[0].NextRunAt.Equal(next) || l[0].Version != 3 || !l[1].NextRunAt.Equal(later) || l[1].Version != 4 {
			t.Errorf("kept / replaced = %+v / %+v", l[0], l[1])
		}
		wantErr(t, "sync to nothing", s.SyncSchedules(ctx, nil, takeNew), nil)
		if l, _ := s.Schedules(ctx); len(l) != 0 {
			t.Errorf("after sync to nothing = %v", keys(l))
		}
	})

	t.Run("ClaimAndRecord", func(t *testing.T) {
		s := open(t)
		due := t0.Add(5 * time.Minute)
		wantErr(t, "sync", s.SyncSchedules(ctx, []*store.Schedule{sched("wf", "s", due)}, takeNew), nil)
		wantErr(t, "record before a claim", s.RecordScheduleRun(ctx, "wf", "s", "exec-0", "boom"), nil)
		now, next := due.Add(time.Second), due.Add(5*time.Minute)
		for _, c := range []struct {
			name        string
			wf, block   string
			due         time.Time
			wantClaimed bool
		}{
			{"not the stored due time", "wf", "s", due.Add(-5 * time.Minute), false},
			{"unknown schedule", "wf", "nope", due, false},
			{"the due fire", "wf", "s", due, true},
			{"the same fire again", "wf", "s", due, false},
		} {
			ok, err := s.ClaimSchedule(ctx, c.wf, c.block, c.due, now, next)
			if err != nil || ok != c.wantClaimed {
				t.Errorf("%s: claimed %v, %v; want %v", c.name, ok, err, c.wantClaimed)
			}
		}
		l, _ := s.Schedules(ctx)
		if len(l) != 1 || l[0].LastRunAt == nil || !l[0].LastRunAt.Equal(now) || !l[0].NextRunAt.Equal(next) ||
			l[0].LastExecutionID != "" || l[0].LastError != "" {
			t.Fatalf("after claim = %+v (a claim clears the last run's outcome)", l[0])
		}
		wantErr(t, "record", s.RecordScheduleRun(ctx, "wf", "s", "exec-1", ""), nil)
		wantErr(t, "record unknown", s.RecordScheduleRun(ctx, "wf", "nope", "exec-1", ""), nil)
		l, _ = s.Schedules(ctx)
		if l[0].LastExecutionID != "exec-1" || l[0].LastError != "" || !l[0].NextRunAt.Equal(next) {
			t.Errorf("after record = %+v", l[0])
		}
		wantErr(t, "record failure", s.RecordScheduleRun(ctx, "wf", "s", "", "workflow not deployed"), nil)
		if l, _ := s.Schedules(ctx); l[0].LastExecutionID != "" || l[0].LastError != "workflow not deployed" {
			t.Errorf("after failure = %+v", l[0])
		}
		// The next fire is claimable at its own due time.
		if ok, err := s.ClaimSchedule(ctx, "wf", "s", next, next, next.Add(5*time.Minute)); err != nil || !ok {
			t.Errorf("next fire: %v %v", ok, err)
		}
	})

	t.Run("ConcurrentClaims", func(t *testing.T) {
		s := open(t)
		due := t0.Add(5 * time.Minute)
		wantErr(t, "sync", s.SyncSchedules(ctx, []*store.Schedule{sched("wf", "s", due)}, takeNew), nil)
		// n replicas see the same due fire: exactly one runs it.
		const n = 8
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.ClaimSchedule(ctx, "wf", "s", due, due.Add(time.Duration(i)*time.Millisecond), due.Add(5*time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d of %d claimers took one fire, want exactly 1", wins.Load(), n)
		}
	})
}
