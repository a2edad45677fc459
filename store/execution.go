package store

import (
	"encoding/json"
	"time"
)

// Execution trigger values.
const (
	TriggerAPI      = "api"
	TriggerMCP      = "mcp"
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
	TriggerWebhook  = "webhook"
)

// Execution status values.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	// StatusPaused: suspended at a human_in_the_loop block or an async wait (see PausedRun).
	StatusPaused = "paused"
)

// Execution is one run of a workflow: the log entry served by the logs API.
type Execution struct {
	ID          string          `json:"id"` // ULID: time-ordered
	WorkflowID  string          `json:"workflowId"`
	WorkspaceID string          `json:"workspaceId"`
	Version     uint32          `json:"version,omitempty"` // deployed version that ran (0 = draft)
	Trigger     string          `json:"trigger"`
	Status      string          `json:"status"`
	Level       string          `json:"level"` // info | error
	StartedAt   time.Time       `json:"startedAt"`
	EndedAt     *time.Time      `json:"endedAt,omitempty"`
	DurationMs  int64           `json:"durationMs"`
	Input       json.RawMessage `json:"input,omitempty"`
	Output      json.RawMessage `json:"output,omitempty"`
	Error       string          `json:"error,omitempty"`
	ErrorCode   string          `json:"errorCode,omitempty"`
	// BlockLogs and TraceSpans are the engine's JSON; the store keeps them opaque.
	BlockLogs  json.RawMessage `json:"blockLogs,omitempty"`
	TraceSpans json.RawMessage `json:"traceSpans,omitempty"`
	Cost       float64         `json:"cost"`
	KeyID      string          `json:"keyId,omitempty"`
	UserID     string          `json:"userId,omitempty"`   // acting user, if any
	BilledTo   string          `json:"billedTo,omitempty"` // user id charged for the run
	RunID      string          `json:"runId,omitempty"`    // client-supplied X-Run-Id (v2), unique per workflow
	Truncated  bool            `json:"truncated,omitempty"`
	// TriggerBlockID is the trigger block the run started at when it is not the API
	// start block (schedule and webhook runs); a queued job resumes from it.
	TriggerBlockID string `json:"triggerBlockId,omitempty"`
}
