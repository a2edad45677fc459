package store

import (
	"context"
	"encoding/json"
	"time"
)

// Jobs is a queue of accepted async executions shared by every replica on one database
// (River on PostgreSQL: store/postgres queue.go): a job accepted by one replica is worked by
// whichever replica fetches it, and a job of a replica that died is taken over by
// another. Nil (bbolt, one process): async runs start in the accepting process at once
// and Recover settles them at the next start.
type Jobs interface {
	// Enqueue hands j to the queue. With record (the execution's queued record), the two
	// commit in one transaction, so an accepted run always has its job and a refused one
	// leaves no record. Without (the resume of a paused run, whose state is stored), only
	// the job is inserted. A second Enqueue of the same execution and pause point while
	// its job exists does nothing.
	Enqueue(ctx context.Context, j Job, record *Execution) error
	// Cancel cancels the job of execID: a waiting job never runs (running false); a
	// running one has its context cancelled on the replica that runs it (running true).
	// A run without a job that a live replica holds (a sync run, a resume) is cancelled
	// there (running true). found is false when nothing waits or runs for execID.
	Cancel(ctx context.Context, execID string) (found, running bool, err error)
	// Live returns those of execIDs still in hand: a job waits or runs for it, or a
	// replica alive now holds it (a sync run or a resume: see the replica heartbeat). An
	// unfinished execution in none of these lost its replica.
	Live(ctx context.Context, execIDs []string) (map[string]bool, error)
}

// Job is an async execution as the queue carries it: the record holds the rest.
type Job struct {
	ExecutionID string `json:"executionId"`
	// Principal is who accepted it (auth.EncodePrincipal), so that its child workflows
	// are authorized as that caller on whichever replica runs it.
	Principal json.RawMessage `json:"principal,omitempty"`
	Timeout   time.Duration   `json:"timeout,omitempty"`
	Via       []string        `json:"via,omitempty"`
	// BaseURL makes resume links of its pauses absolute (RunRequest.BaseURL).
	BaseURL string `json:"baseUrl,omitempty"`
	// ContextID, when set, makes the job the resume of execution ExecutionID at its time
	// pause point ContextID (an async wait that fell due) rather than a run from the start.
	ContextID string `json:"contextId,omitempty"`
}
