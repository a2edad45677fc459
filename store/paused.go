package store

import (
	"context"
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

// PausedRuns holds runs suspended at human_in_the_loop blocks and async waits until
// they resume.
type PausedRuns interface {
	// PutPausedRun saves a paused run (new, or paused again at later blocks after a
	// resume), waiting for its resume.
	PutPausedRun(ctx context.Context, p *PausedRun) error
	// PausedRun returns the paused run of execution execID.
	PausedRun(ctx context.Context, execID string) (*PausedRun, error)
	// PausedRuns lists the paused runs of workflow wfID ("" for every workflow), oldest
	// execution first.
	PausedRuns(ctx context.Context, wfID string) ([]*PausedRun, error)
	// DuePausedRuns returns the waiting runs with a time pause point due at now, earliest
	// first, at most limit of them.
	DuePausedRuns(ctx context.Context, now time.Time, limit int) ([]*PausedRun, error)
	// ResumingPausedRuns returns the runs claimed for a resume (PausedResuming), oldest
	// execution first: few, since a resume's run soon completes, fails or pauses again.
	ResumingPausedRuns(ctx context.Context) ([]*PausedRun, error)
	// ClaimPausedRun takes pause point contextID of a waiting run for one resume, in one
	// transaction: the run moves to PausedResuming, so a second claim (a second answer,
	// the timer racing a person) gets ErrConflict and runs nothing. ErrNotFound: no such
	// paused run, or no such pause point.
	ClaimPausedRun(ctx context.Context, execID, contextID string) (*PausedRun, error)
	// DeletePausedRun removes a paused run (it completed, failed, or was cancelled).
	DeletePausedRun(ctx context.Context, execID string) error
}
