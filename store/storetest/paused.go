package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func testPausedRuns(t *testing.T, open Opener) {
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	runs := func(t *testing.T, s store.Store) (human, timed, later *store.PausedRun) {
		t.Helper()
		human = &store.PausedRun{ExecutionID: "e1", WorkflowID: "wf1", WorkspaceID: "ws", Version: 2, Trigger: "api", TriggerBlockID: "start",
			KeyID: "k1", UserID: "u1", BilledTo: "u1", Status: store.PausedWaiting, PausedAt: t0,
			PausePoints: []store.PausePoint{{ContextID: "hitl", BlockID: "hitl", BlockName: "Approve", Kind: store.PauseHuman, PausedAt: t0}},
			State:       []byte("sealed\x00state")}
		timed = &store.PausedRun{ExecutionID: "e2", WorkflowID: "wf2", WorkspaceID: "ws", Status: store.PausedWaiting, PausedAt: t0,
			PausePoints: []store.PausePoint{{ContextID: "w", BlockID: "w", Kind: store.PauseTime, PausedAt: t0, ResumeAt: at(time.Hour)}}}
		later = &store.PausedRun{ExecutionID: "e3", WorkflowID: "wf2", WorkspaceID: "ws", Status: store.PausedWaiting, PausedAt: t0,
			PausePoints: []store.PausePoint{
				{ContextID: "h", BlockID: "h", Kind: store.PauseHuman, PausedAt: t0},
				{ContextID: "w2", BlockID: "w2", Kind: store.PauseTime, PausedAt: t0, ResumeAt: at(3 * time.Hour)},
				{ContextID: "w1", BlockID: "w1", Kind: store.PauseTime, PausedAt: t0, ResumeAt: at(2 * time.Hour)},
			}}
		for _, p := range []*store.PausedRun{later, human, timed} {
			wantErr(t, "put "+p.ExecutionID, s.PutPausedRun(ctx, p), nil)
		}
		return human, timed, later
	}
	due := func(t *testing.T, s store.Store, d time.Duration, limit int) []string {
		t.Helper()
		l, err := s.DuePausedRuns(ctx, t0.Add(d), limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range l {
			ids = append(ids, p.ExecutionID)
		}
		return ids
	}
	ids := func(l []*store.PausedRun) (out []string) {
		for _, p := range l {
			out = append(out, p.ExecutionID)
		}
		return out
	}

	t.Run("PutGetList", func(t *testing.T) {
		s := open(t)
		human, _, _ := runs(t, s)
		got, err := s.PausedRun(ctx, "e1")
		if err != nil || got.WorkflowID != "wf1" || got.WorkspaceID != "ws" || got.Version != 2 || got.Trigger != "api" ||
			got.TriggerBlockID != "start" || got.KeyID != "k1" || got.UserID != "u1" || got.BilledTo != "u1" ||
			got.Status != store.PausedWaiting || got.ResumingContext != "" || !got.PausedAt.Equal(t0) ||
			string(got.State) != string(human.State) || len(got.PausePoints) != 1 {
			t.Fatalf("get: %v %+v", err, got)
		}
		if pp := got.Point("hitl"); pp == nil || pp.BlockName != "Approve" || pp.Kind != store.PauseHuman || !pp.PausedAt.Equal(t0) || pp.ResumeAt != nil {
			t.Errorf("pause point = %+v", pp)
		}
		if got, _ := s.PausedRun(ctx, "e3"); len(got.PausePoints) != 3 || got.PausePoints[1].ContextID != "w2" ||
			got.NextResumeAt() == nil || !got.NextResumeAt().Equal(t0.Add(2*time.Hour)) {
			t.Errorf("points keep their order and times: %+v", got)
		}
		if _, err := s.PausedRun(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown: %v", err)
		}
		if l, err := s.PausedRuns(ctx, "wf2"); err != nil || !slices.Equal(ids(l), []string{"e2", "e3"}) {
			t.Errorf("list wf2 = %v %v", ids(l), err)
		}
		if l, err := s.PausedRuns(ctx, ""); err != nil || !slices.Equal(ids(l), []string{"e1", "e2", "e3"}) {
			t.Errorf("list all (oldest execution first) = %v %v", ids(l), err)
		}
		if l, err := s.PausedRuns(ctx, "no-such-wf"); err != nil || len(l) != 0 {
			t.Errorf("list unknown workflow = %v %v", ids(l), err)
		}
		if err := s.PutPausedRun(ctx, &store.PausedRun{WorkflowID: "wf", Status: store.PausedWaiting}); err == nil {
			t.Error("a paused run without an execution id was stored")
		}
		wantErr(t, "delete", s.DeletePausedRun(ctx, "e1"), nil)
		if _, err := s.PausedRun(ctx, "e1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted: %v", err)
		}
		wantErr(t, "delete again", s.DeletePausedRun(ctx, "e1"), nil)
	})

	t.Run("Due", func(t *testing.T) {
		s := open(t)
		runs(t, s)
		if got := due(t, s, 59*time.Minute, 10); len(got) != 0 {
			t.Fatalf("due before time: %v", got)
		}
		if got := due(t, s, time.Hour, 10); !slices.Equal(got, []string{"e2"}) {
			t.Fatalf("due at exactly its time = %v", got)
		}
		// Earliest first, by each run's earliest time point; people-only runs never.
		if got := due(t, s, 5*time.Hour, 10); !slices.Equal(got, []string{"e2", "e3"}) {
			t.Fatalf("due = %v, want [e2 e3]", got)
		}
		if got := due(t, s, 5*time.Hour, 1); !slices.Equal(got, []string{"e2"}) {
			t.Fatalf("due with limit 1 = %v", got)
		}
		// Paused again later: the due time follows the stored points.
		p, _ := s.PausedRun(ctx, "e2")
		p.PausePoints[0].ResumeAt = at(4 * time.Hour)
		wantErr(t, "re-pause", s.PutPausedRun(ctx, p), nil)
		if got := due(t, s, 3*time.Hour, 10); !slices.Equal(got, []string{"e3"}) {
			t.Fatalf("due after e2 moved to 4h = %v", got)
		}
		if got := due(t, s, 5*time.Hour, 10); !slices.Equal(got, []string{"e3", "e2"}) {
			t.Fatalf("due order after e2 moved = %v", got)
		}
		wantErr(t, "delete", s.DeletePausedRun(ctx, "e3"), nil)
		if got := due(t, s, 5*time.Hour, 10); !slices.Equal(got, []string{"e2"}) {
			t.Fatalf("deleted run still due: %v", got)
		}
	})

	t.Run("Claim", func(t *testing.T) {
		s := open(t)
		runs(t, s)
		for _, c := range []struct {
			name, exec, point string
			want              error
		}{
			{"unknown pause point", "e1", "nope", store.ErrNotFound},
			{"unknown run", "none", "hitl", store.ErrNotFound},
		} {
			if _, err := s.ClaimPausedRun(ctx, c.exec, c.point); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		}
		p, err := s.ClaimPausedRun(ctx, "e3", "w1")
		if err != nil || p.Status != store.PausedResuming || p.ResumingContext != "w1" || len(p.PausePoints) != 3 {
			t.Fatalf("claim = %+v %v", p, err)
		}
		if got, _ := s.PausedRun(ctx, "e3"); got.Status != store.PausedResuming || got.ResumingContext != "w1" {
			t.Errorf("stored after claim = %+v", got)
		}
		// The run is taken whole: another of its points (a person answering) conflicts.
		if _, err := s.ClaimPausedRun(ctx, "e3", "h"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second point of a claimed run: %v", err)
		}
		if got := due(t, s, 5*time.Hour, 10); !slices.Equal(got, []string{"e2"}) {
			t.Errorf("a claimed run is no longer due: %v", got)
		}
		if _, err := s.ClaimPausedRun(ctx, "e1", "hitl"); err != nil {
			t.Fatal(err)
		}
		if l, err := s.ResumingPausedRuns(ctx); err != nil || !slices.Equal(ids(l), []string{"e1", "e3"}) {
			t.Errorf("resuming = %v %v, want e1 e3 (oldest first)", ids(l), err)
		}
		// Paused again at a later block, it waits (and is due) again.
		p.Status, p.ResumingContext = store.PausedWaiting, ""
		p.PausePoints = []store.PausePoint{{ContextID: "w3", BlockID: "w3", Kind: store.PauseTime, PausedAt: t0, ResumeAt: at(30 * time.Minute)}}
		wantErr(t, "pause again", s.PutPausedRun(ctx, p), nil)
		if got := due(t, s, 5*time.Hour, 10); !slices.Equal(got, []string{"e3", "e2"}) {
			t.Errorf("due after pausing again = %v", got)
		}
		if l, err := s.ResumingPausedRuns(ctx); err != nil || !slices.Equal(ids(l), []string{"e1"}) {
			t.Errorf("resuming after e3 paused again = %v %v, want e1", ids(l), err)
		}
		if p, err := s.ClaimPausedRun(ctx, "e3", "w3"); err != nil || p.ResumingContext != "w3" {
			t.Errorf("claim after pausing again = %+v %v", p, err)
		}
	})

	t.Run("ConcurrentClaims", func(t *testing.T) {
		s := open(t)
		runs(t, s)
		// A person and the timer (and retries) race for one pause point: exactly one wins.
		oneWins(t, "claims", 8, store.ErrConflict, func(i int) error {
			point := "w1"
			if i%2 == 1 {
				point = "h"
			}
			_, err := s.ClaimPausedRun(ctx, "e3", point)
			return err
		})
	})
}
