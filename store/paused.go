package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Paused run states.
const (
	PausedWaiting  = "paused"   // waiting for a resume (a person, or its time)
	PausedResuming = "resuming" // claimed by one resume; nobody else may take it
)

// Pause kinds, as Sim names them.
const (
	PauseHuman = "human" // human_in_the_loop: resumed through the API
	PauseTime  = "time"  // async wait: resumed by the server at ResumeAt
)

// PausedRun is a run suspended at one or more pause points (human_in_the_loop blocks,
// async waits): what it needs to continue after a restart. The execution record in
// logs.db shows it as paused; this record is the authority on whether it may resume.
type PausedRun struct {
	ExecutionID    string `json:"executionId"`
	WorkflowID     string `json:"workflowId"`
	WorkspaceID    string `json:"workspaceId"`
	Version        uint32 `json:"version"` // deployed version it runs (0 = draft)
	Trigger        string `json:"trigger"`
	TriggerBlockID string `json:"triggerBlockId,omitempty"`
	// Who it runs as: the key and user that started it and who pays.
	KeyID    string `json:"keyId,omitempty"`
	UserID   string `json:"userId,omitempty"`
	BilledTo string `json:"billedTo,omitempty"`

	Status      string       `json:"status"` // PausedWaiting or PausedResuming
	PausePoints []PausePoint `json:"pausePoints"`
	// ResumingContext is the pause point a claim took (Status PausedResuming).
	ResumingContext string    `json:"resumingContext,omitempty"`
	PausedAt        time.Time `json:"pausedAt"`
	// State is the engine's snapshot of the run (outputs of completed blocks, variables,
	// logs), sealed by the caller: the store keeps it opaque.
	State []byte `json:"state"`
}

// PausePoint is one block a run waits at.
type PausePoint struct {
	ContextID string     `json:"contextId"`
	BlockID   string     `json:"blockId"`
	BlockName string     `json:"blockName,omitempty"`
	Kind      string     `json:"pauseKind"` // PauseHuman or PauseTime
	PausedAt  time.Time  `json:"pausedAt"`
	ResumeAt  *time.Time `json:"resumeAt,omitempty"` // time pauses
}

// NextResumeAt is the earliest time pause point, nil when the run waits for people only.
func (p *PausedRun) NextResumeAt() *time.Time {
	var next *time.Time
	for i := range p.PausePoints {
		if at := p.PausePoints[i].ResumeAt; at != nil && (next == nil || at.Before(*next)) {
			next = at
		}
	}
	return next
}

// Point returns the pause point with contextID, nil when there is none.
func (p *PausedRun) Point(contextID string) *PausePoint {
	for i := range p.PausePoints {
		if p.PausePoints[i].ContextID == contextID {
			return &p.PausePoints[i]
		}
	}
	return nil
}

func pausedDueKey(at time.Time, execID string) []byte {
	k := make([]byte, 8, 8+len(execID))
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	return append(k, execID...)
}

// putPaused stores p and keeps the due index in step: a waiting run with a time pause
// point is indexed under its earliest resume time, nothing else is.
func putPaused(w *writer, p *PausedRun) error {
	b, due := w.tx.Bucket(bPaused), w.tx.Bucket(bPausedDue)
	if old, err := getJSON[PausedRun](b, []byte(p.ExecutionID)); err == nil {
		if at := old.NextResumeAt(); at != nil {
			if err := due.Delete(pausedDueKey(*at, old.ExecutionID)); err != nil {
				return err
			}
		}
	}
	if at := p.NextResumeAt(); at != nil && p.Status == PausedWaiting {
		if err := due.Put(pausedDueKey(*at, p.ExecutionID), nil); err != nil {
			return err
		}
	}
	return putJSON(b, []byte(p.ExecutionID), p)
}

// PutPausedRun saves a paused run (new, or paused again at later blocks after a
// resume), waiting for its resume.
func (s *Store) PutPausedRun(ctx context.Context, p *PausedRun) error {
	if p.ExecutionID == "" {
		return fmt.Errorf("paused run without execution id")
	}
	return s.update(ctx, func(w *writer) error { return putPaused(w, p) })
}

// PausedRun returns the paused run of execution execID.
func (s *Store) PausedRun(ctx context.Context, execID string) (*PausedRun, error) {
	var p *PausedRun
	err := s.View(ctx, func(r *Reader) error {
		var err error
		p, err = getJSON[PausedRun](r.tx.Bucket(bPaused), []byte(execID))
		return err
	})
	return p, err
}

// PausedRuns lists the paused runs of workflow wfID ("" for every workflow), oldest
// execution first.
func (s *Store) PausedRuns(ctx context.Context, wfID string) ([]*PausedRun, error) {
	var out []*PausedRun
	err := s.View(ctx, func(r *Reader) error {
		return r.tx.Bucket(bPaused).ForEach(func(_, v []byte) error {
			var p PausedRun
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

// DuePausedRuns returns the waiting runs with a time pause point due at now, earliest
// first, at most limit of them.
func (s *Store) DuePausedRuns(ctx context.Context, now time.Time, limit int) ([]*PausedRun, error) {
	var out []*PausedRun
	end := make([]byte, 8)
	binary.BigEndian.PutUint64(end, uint64(now.UnixNano()))
	err := s.View(ctx, func(r *Reader) error {
		b := r.tx.Bucket(bPaused)
		c := r.tx.Bucket(bPausedDue).Cursor()
		for k, _ := c.First(); k != nil && len(k) > 8 && bytes.Compare(k[:8], end) <= 0 && len(out) < limit; k, _ = c.Next() {
			p, err := getJSON[PausedRun](b, k[8:])
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
func (s *Store) ClaimPausedRun(ctx context.Context, execID, contextID string) (*PausedRun, error) {
	var p *PausedRun
	err := s.update(ctx, func(w *writer) error {
		var err error
		p, err = getJSON[PausedRun](w.tx.Bucket(bPaused), []byte(execID))
		if err != nil {
			return err
		}
		if p.Point(contextID) == nil {
			return fmt.Errorf("pause point %q: %w", contextID, ErrNotFound)
		}
		if p.Status != PausedWaiting {
			return fmt.Errorf("execution %s is already resuming: %w", execID, ErrConflict)
		}
		p.Status, p.ResumingContext = PausedResuming, contextID
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
		old, err := getJSON[PausedRun](b, []byte(execID))
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
