package store

import (
	"context"
	"time"
)

// Schedule is the firing state of one schedule trigger block of a deployed workflow.
// NextRunAt is persisted so a restart neither loses nor repeats a fire: a fire is
// claimed (NextRunAt advanced) in the same transaction that records it.
type Schedule struct {
	WorkflowID      string     `json:"workflowId"`
	BlockID         string     `json:"blockId"`
	WorkspaceID     string     `json:"workspaceId"`
	BlockName       string     `json:"blockName,omitempty"`
	Version         uint32     `json:"version"` // deployed version the schedule was read from
	Cron            string     `json:"cron"`
	Timezone        string     `json:"timezone"`
	NextRunAt       time.Time  `json:"nextRunAt"`
	LastRunAt       *time.Time `json:"lastRunAt,omitempty"`
	LastExecutionID string     `json:"lastExecutionId,omitempty"`
	LastError       string     `json:"lastError,omitempty"`
	CreatedAt       time.Time  `json:"createdAt"`
}

// Schedules holds schedule triggers and claims their fires.
type Schedules interface {
	// Schedules returns every stored schedule, ordered by workflow then block id.
	Schedules(ctx context.Context) ([]*Schedule, error)

	// SyncSchedules replaces the stored schedules by want. For each wanted entry, merge
	// gets the stored one under the same workflow and block (nil if none) and returns what
	// to store, or nil to leave the stored entry as it is. Stored entries missing from want
	// are deleted.
	SyncSchedules(ctx context.Context, want []*Schedule, merge func(old, new *Schedule) *Schedule) error

	// ClaimSchedule takes the fire that was due at due: only while the stored NextRunAt is
	// still due (nobody took it), it records now as LastRunAt and next as NextRunAt, in one
	// transaction. It reports whether the fire is the caller's to run.
	ClaimSchedule(ctx context.Context, wfID, blockID string, due, now, next time.Time) (bool, error)

	// RecordScheduleRun notes the execution a claimed fire started, or why it could not.
	RecordScheduleRun(ctx context.Context, wfID, blockID, execID, errMsg string) error
}
