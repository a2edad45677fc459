package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// enqueue queues an accepted async run on the shared queue. Admission is checked here
// against this replica's caps; the run is counted where it runs.
func (s *Service) enqueue(ctx context.Context, p *auth.Principal, exec *store.Execution, timeout time.Duration, via []string, baseURL string) (*Run, error) {
	s.mu.Lock()
	err := s.admitLocked(exec.WorkspaceID, 0)
	if err == nil {
		s.leaveLocked(exec.WorkspaceID, 0)
	}
	if exec.RunID != "" {
		// From here the log holds the run id (or the run is refused).
		defer func() { s.mu.Lock(); delete(s.runIDs, exec.WorkflowID+"/"+exec.RunID); s.mu.Unlock() }()
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	pb, err := auth.EncodePrincipal(p)
	if err != nil {
		return nil, err
	}
	// The record and its job commit together: a run is accepted with its job or not at all.
	if err := s.cfg.Jobs.Enqueue(ctx, store.Job{ExecutionID: exec.ID, Principal: pb, Timeout: timeout, Via: via, BaseURL: baseURL}, exec); err != nil {
		if exec.RunID != "" && errors.Is(err, store.ErrConflict) {
			return nil, ErrRunIDConflict // another replica's run took it first
		}
		return nil, fmt.Errorf("queue execution: %w", err)
	}
	return &Run{Execution: copyExec(exec)}, nil
}

// cancelJob cancels an async run that this replica does not hold: still waiting in the
// queue, or running on another replica (whose context River cancels; that replica
// records the run as cancelled).
func (s *Service) cancelJob(ctx context.Context, p *auth.Principal, exec *store.Execution) (*store.Execution, error) {
	if err := s.az.AuthorizeCancel(ctx, p, exec.WorkflowID, exec.KeyID, exec.UserID); err != nil {
		return nil, err
	}
	found, running, err := s.cfg.Jobs.Cancel(ctx, exec.ID)
	if err != nil {
		return nil, fmt.Errorf("cancel job: %w", err)
	}
	if !found {
		return exec, errNotCancellable // it finished meanwhile
	}
	if !running {
		// It never started and never will: its record says so now.
		end := time.Now().UTC()
		exec.EndedAt = &end
		exec.Status, exec.Level = store.StatusCancelled, "info"
		exec.Error, exec.ErrorCode = "workflow execution was cancelled", engine.CodeCancelled
		if err := s.st.Logs().Put(context.WithoutCancel(ctx), exec); err != nil {
			return nil, fmt.Errorf("record cancelled execution: %w", err)
		}
	}
	return exec, nil
}

// RunJob runs a queued execution the shared queue hands this replica (queue workers
// call it), or resumes a paused one at the due time pause point the job names. An
// execution already finished (its job ran to the end on a replica that
// died before the queue heard of it) is left alone; one recorded as running was taken
// from a replica that died mid-run and runs again from the start: at least once.
func (s *Service) RunJob(ctx context.Context, j store.Job) error {
	if j.ContextID != "" {
		return s.resumeJob(ctx, j)
	}
	exec, err := s.st.Logs().Get(ctx, j.ExecutionID)
	if errors.Is(err, store.ErrNotFound) {
		s.log.Warn("job for an unknown execution", "execution", j.ExecutionID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read execution %s: %w", j.ExecutionID, err)
	}
	switch exec.Status {
	case store.StatusQueued:
	case store.StatusRunning:
		s.log.Warn("running again an execution whose replica stopped mid-run", "execution", exec.ID)
		exec.Status = store.StatusQueued
	default:
		return nil
	}
	p, err := auth.DecodePrincipal(j.Principal)
	if err != nil {
		s.log.Warn("job principal unreadable; the run starts no child workflows", "execution", exec.ID, "err", err)
	}
	timeout := s.cfg.ExecutionTimeout
	if j.Timeout > 0 {
		timeout = min(j.Timeout, s.cfg.MaxExecutionTimeout)
	}
	comp, in, secrets, err := s.prepareStored(ctx, exec, p, j.Via)
	if errors.Is(err, errCannotResume) {
		fail(exec, "Execution could not start: "+err.Error())
		exec.ErrorCode = ""
		return s.st.Logs().Put(context.WithoutCancel(ctx), exec)
	}
	if err != nil {
		return err
	}
	in.Timeout, in.BaseURL = timeout, j.BaseURL
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	_ = s.trackRun(exec, cancel, false, nil) // accepted already: never refused now
	_, err = s.runAndRecord(runCtx, comp, exec, in, secrets)
	return err
}
