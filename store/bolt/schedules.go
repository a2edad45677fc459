package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/steelengine/steelengine/store"
)

func scheduleKey(wfID, blockID string) []byte { return ckey(wfID, blockID) }

// Schedules returns every stored schedule, ordered by workflow then block id.
func (s *Store) Schedules(ctx context.Context) ([]*store.Schedule, error) {
	var out []*store.Schedule
	err := s.view(ctx, func(r *Reader) error {
		return r.tx.Bucket(bSchedules).ForEach(func(_, v []byte) error {
			var sc store.Schedule
			if err := json.Unmarshal(v, &sc); err != nil {
				return fmt.Errorf("decode schedule: %w", err)
			}
			out = append(out, &sc)
			return nil
		})
	})
	return out, err
}

// SyncSchedules replaces the stored schedules by want. For each wanted entry, merge
// gets the stored one under the same workflow and block (nil if none) and returns what
// to store, or nil to leave the stored entry as it is. Stored entries missing from want
// are deleted.
func (s *Store) SyncSchedules(ctx context.Context, want []*store.Schedule, merge func(old, new *store.Schedule) *store.Schedule) error {
	return s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bSchedules)
		wanted := map[string]bool{}
		for _, sc := range want {
			k := scheduleKey(sc.WorkflowID, sc.BlockID)
			wanted[string(k)] = true
			old, err := getJSON[store.Schedule](b, k)
			if err != nil {
				old = nil
			}
			put := merge(old, sc)
			if put == nil {
				continue
			}
			if err := putJSON(b, k, put); err != nil {
				return err
			}
		}
		var stale [][]byte
		if err := b.ForEach(func(k, _ []byte) error {
			if !wanted[string(k)] {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClaimSchedule takes the fire that was due at due: only while the stored NextRunAt is
// still due (nobody took it), it records now as LastRunAt and next as NextRunAt, in one
// transaction. It reports whether the fire is the caller's to run.
func (s *Store) ClaimSchedule(ctx context.Context, wfID, blockID string, due, now, next time.Time) (bool, error) {
	claimed := false
	err := s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bSchedules)
		k := scheduleKey(wfID, blockID)
		sc, err := getJSON[store.Schedule](b, k)
		if err != nil {
			return nil // removed (undeployed) since it was read
		}
		if !sc.NextRunAt.Equal(due) {
			return nil
		}
		now = now.UTC()
		sc.LastRunAt, sc.NextRunAt = &now, next.UTC()
		sc.LastExecutionID, sc.LastError = "", ""
		claimed = true
		return putJSON(b, k, sc)
	})
	return claimed && err == nil, err
}

// RecordScheduleRun notes the execution a claimed fire started, or why it could not.
func (s *Store) RecordScheduleRun(ctx context.Context, wfID, blockID, execID, errMsg string) error {
	return s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bSchedules)
		k := scheduleKey(wfID, blockID)
		sc, err := getJSON[store.Schedule](b, k)
		if err != nil {
			return nil
		}
		sc.LastExecutionID, sc.LastError = execID, errMsg
		return putJSON(b, k, sc)
	})
}
