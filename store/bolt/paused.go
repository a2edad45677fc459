package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/steelengine/steelengine/store"
)

func pausedDueKey(at time.Time, execID string) []byte {
	k := make([]byte, 8, 8+len(execID))
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	return append(k, execID...)
}

// putPaused stores p and keeps the due index in step: a waiting run with a time pause
// point is indexed under its earliest resume time, nothing else is.
func putPaused(w *writer, p *store.PausedRun) error {
	b, due := w.tx.Bucket(bPaused), w.tx.Bucket(bPausedDue)
	if old, err := getJSON[store.PausedRun](b, []byte(p.ExecutionID)); err == nil {
		if at := old.NextResumeAt(); at != nil {
			if err := due.Delete(pausedDueKey(*at, old.ExecutionID)); err != nil {
				return err
			}
		}
	}
	if at := p.NextResumeAt(); at != nil && p.Status == store.PausedWaiting {
		if err := due.Put(pausedDueKey(*at, p.ExecutionID), nil); err != nil {
			return err
		}
	}
	return putJSON(b, []byte(p.ExecutionID), p)
}

// PutPausedRun saves a paused run (new, or paused again at later blocks after a
// resume), waiting for its resume.
func (s *Store) PutPausedRun(ctx context.Context, p *store.PausedRun) error {
	if p.ExecutionID == "" {
		return fmt.Errorf("paused run without execution id")
	}
	return s.update(ctx, func(w *writer) error { return putPaused(w, p) })
}

// PausedRun returns the paused run of execution execID.
func (s *Store) PausedRun(ctx context.Context, execID string) (*store.PausedRun, error) {
	var p *store.PausedRun
	err := s.view(ctx, func(r *Reader) error {
		var err error
		p, err = getJSON[store.PausedRun](r.tx.Bucket(bPaused), []byte(execID))
		return err
	})
	return p, err
}

// PausedRuns lists the paused runs of workflow wfID ("" for every workflow), oldest
// execution first.
func (s *Store) PausedRuns(ctx context.Context, wfID string) ([]*store.PausedRun, error) {
	var out []*store.PausedRun
	err := s.view(ctx, func(r *Reader) error {
		return r.tx.Bucket(bPaused).ForEach(func(_, v []byte) error {
			var p store.PausedRun
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("decode paused run: %w", err)
			}
			if wfID == "" || p.WorkflowID == wfID {
				out = append(out, &p)
			}
			return nil
		})
	})
	return out, err
}

// ResumingPausedRuns returns the runs claimed for a resume, oldest execution first.
func (s *Store) ResumingPausedRuns(ctx context.Context) ([]*store.PausedRun, error) {
	all, err := s.PausedRuns(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []*store.PausedRun
	for _, p := range all {
		if p.Status == store.PausedResuming {
			out = append(out, p)
		}
	}
	return out, nil
}

// DuePausedRuns returns the waiting runs with a time pause point due at now, earliest
// first, at most limit of them.
func (s *Store) DuePausedRuns(ctx context.Context, now time.Time, limit int) ([]*store.PausedRun, error) {
	var out []*store.PausedRun
	end := make([]byte, 8)
	binary.BigEndian.PutUint64(end, uint64(now.UnixNano()))
	err := s.view(ctx, func(r *Reader) error {
		b := r.tx.Bucket(bPaused)
		c := r.tx.Bucket(bPausedDue).Cursor()
		for k, _ := c.First(); k != nil && len(k) > 8 && bytes.Compare(k[:8], end) <= 0 && len(out) < limit; k, _ = c.Next() {
			p, err := getJSON[store.PausedRun](b, k[8:])
			if err != nil {
				continue // index entry of a run deleted in the same breath
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// ClaimPausedRun takes pause point contextID of a waiting run for one resume, in one
// transaction: the run moves to PausedResuming, so a second claim (a second answer,
// the timer racing a person) gets ErrConflict and runs nothing. ErrNotFound: no such
// paused run, or no such pause point.
func (s *Store) ClaimPausedRun(ctx context.Context, execID, contextID string) (*store.PausedRun, error) {
	var p *store.PausedRun
	err := s.update(ctx, func(w *writer) error {
		var err error
		p, err = getJSON[store.PausedRun](w.tx.Bucket(bPaused), []byte(execID))
		if err != nil {
			return err
		}
		if p.Point(contextID) == nil {
			return fmt.Errorf("pause point %q: %w", contextID, store.ErrNotFound)
		}
		if p.Status != store.PausedWaiting {
			return fmt.Errorf("execution %s is already resuming: %w", execID, store.ErrConflict)
		}
		p.Status, p.ResumingContext = store.PausedResuming, contextID
		return putPaused(w, p)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// DeletePausedRun removes a paused run (it completed, failed, or was cancelled).
func (s *Store) DeletePausedRun(ctx context.Context, execID string) error {
	return s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bPaused)
		old, err := getJSON[store.PausedRun](b, []byte(execID))
		if err != nil {
			return nil
		}
		if at := old.NextResumeAt(); at != nil {
			if err := w.tx.Bucket(bPausedDue).Delete(pausedDueKey(*at, execID)); err != nil {
				return err
			}
		}
		return b.Delete([]byte(execID))
	})
}
