package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// ErrorCodeInterrupted marks a run that was in flight when the previous process stopped
// without finishing it (crash, kill -9, power loss).
const ErrorCodeInterrupted = "interrupted"

// Recovery counts what Recover settled.
type Recovery struct {
	Resumed     int // queued jobs started again
	Interrupted int // runs in flight at the stop, now failed
	Paused      int // paused runs still waiting for their resume
}

// Recover settles the executions a previous process left unfinished: queued async jobs
// (accepted, never started) run now; runs that had started are marked failed with code
// "interrupted" and never run again, since their side effects may have happened. Call
// it once at start, before serving.
func (s *Service) Recover(ctx context.Context) (Recovery, error) {
	if s.cfg.Jobs != nil {
		return s.recoverShared(ctx)
	}
	var rec Recovery
	open, err := s.st.Logs().Unfinished(ctx)
	if err != nil {
		return rec, fmt.Errorf("list unfinished executions: %w", err)
	}
	// Paused runs wait for their resume (time waits resume on the scheduler's first tick).
	settled, waiting, interrupted, err := s.settlePaused(ctx, open)
	if err != nil {
		return rec, err
	}
	rec.Paused, rec.Interrupted = waiting, interrupted
	var errs []error
	for _, exec := range open {
		if settled[exec.ID] {
			continue
		}
		if exec.Status == store.StatusQueued {
			if err := s.resume(ctx, exec); err == nil {
				rec.Resumed++
				continue
			} else if !errors.Is(err, errCannotResume) {
				errs = append(errs, err)
				continue
			} else {
				s.log.Warn("queued job cannot run", "execution", exec.ID, "err", err)
				fail(exec, "Execution could not be resumed after a restart: "+err.Error())
			}
		} else {
			fail(exec, "Execution interrupted: the server stopped while it was running")
		}
		if err := s.st.Logs().Put(ctx, exec); err != nil {
			errs = append(errs, fmt.Errorf("record interrupted execution %s: %w", exec.ID, err))
			continue
		}
		rec.Interrupted++
	}
	return rec, errors.Join(errs...)
}

// recoverShared is Recover for replicas sharing a database, where other replicas' runs
// are in flight right now and must be left alone. Async runs and due waits are jobs of
// the shared queue, which takes over the job of a replica that died. What the queue
// cannot see is settled here: an unfinished run (a sync run, a resume, or a queued run
// whose job was discarded after its last attempt) or a claimed resume that neither a job
// nor a live replica holds (Jobs.Live; each replica lists the runs it holds in its
// heartbeat). Such a run lost its replica: it is marked interrupted, as one process
// marks the runs a crash cut off, and never run again (one that had saved its pause
// waits, as paused). A run must be found unheld by two
// settles in a row: a run that has just started shows in its replica's heartbeat only
// at the next beat, so the settles must be further apart than the beats (app runs them
// three beats apart). Doing the same settlement twice is harmless.
func (s *Service) recoverShared(ctx context.Context) (Recovery, error) {
	var rec Recovery
	open, err := s.st.Logs().Unfinished(ctx)
	if err != nil {
		return rec, fmt.Errorf("list unfinished executions: %w", err)
	}
	resuming, err := s.st.ResumingPausedRuns(ctx)
	if err != nil {
		return rec, fmt.Errorf("list resuming paused runs: %w", err)
	}
	records := make(map[string]*store.Execution, len(open)+len(resuming))
	for _, e := range open {
		records[e.ID] = e
	}
	claimed := make(map[string]bool, len(resuming))
	for _, pr := range resuming {
		claimed[pr.ExecutionID] = true
		if _, ok := records[pr.ExecutionID]; !ok {
			records[pr.ExecutionID] = nil // its record is read if it turns out lost
		}
	}
	ids := make([]string, 0, len(records))
	for id := range records {
		ids = append(ids, id)
	}
	live, err := s.cfg.Jobs.Live(ctx, ids)
	if err != nil {
		return rec, fmt.Errorf("find held executions: %w", err)
	}
	var lost []string
	s.mu.Lock()
	suspects := make(map[string]bool)
	for _, id := range ids {
		if live[id] || s.active[id] != nil {
			continue
		}
		if s.suspects[id] {
			lost = append(lost, id)
		} else {
			suspects[id] = true
		}
	}
	s.suspects = suspects
	s.mu.Unlock()
	slices.Sort(lost)
	var errs []error
	for _, id := range lost {
		exec := records[id]
		if exec == nil {
			exec, err = s.st.Logs().Get(ctx, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, fmt.Errorf("read execution %s: %w", id, err))
				continue
			}
		}
		if exec != nil && exec.Status == store.StatusRunning && !claimed[id] {
			// It saved its pause and stopped before its record said so (as settlePaused
			// finds on one process): it waits, and is not interrupted.
			if pr, err := s.st.PausedRun(ctx, id); err == nil && pr.Status == store.PausedWaiting {
				exec.Status, exec.Level, exec.EndedAt = store.StatusPaused, "info", nil
				if err := s.st.Logs().Put(ctx, exec); err != nil {
					errs = append(errs, fmt.Errorf("record paused execution %s: %w", id, err))
					continue
				}
				rec.Paused++
				continue
			}
		}
		switch {
		case exec == nil: // its record was pruned: nothing to settle but the pause state
		case exec.Status == store.StatusQueued:
			fail(exec, "Execution could not start: its job failed on every attempt")
		case exec.Status == store.StatusRunning || exec.Status == store.StatusPaused && claimed[id]:
			fail(exec, "Execution interrupted: the replica running it stopped")
		default:
			exec = nil // finished meanwhile
		}
		if exec != nil {
			if err := s.st.Logs().Put(ctx, exec); err != nil {
				errs = append(errs, fmt.Errorf("record interrupted execution %s: %w", id, err))
				continue
			}
			rec.Interrupted++
		}
		if claimed[id] {
			if err := s.st.DeletePausedRun(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, fmt.Errorf("drop paused state of %s: %w", id, err))
			}
		}
	}
	return rec, errors.Join(errs...)
}

// CancelHeld cancels run execID if this process runs it, as another replica asked on
// behalf of a caller it authorized (store.Jobs.Cancel); the run records itself cancelled.
func (s *Service) CancelHeld(execID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.active[execID]
	if ok {
		r.cancel(errCancelled)
	}
	return ok
}

// Held returns the executions this process runs now, which a replica lists in its
// heartbeat so that the others leave them alone (recoverShared).
func (s *Service) Held() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.active))
	for id := range s.active {
		ids = append(ids, id)
	}
	return ids
}

var errCannotResume = errors.New("cannot resume")

func fail(exec *store.Execution, msg string) {
	// When it really stopped is unknown; the time until this restart would skew the
	// latency metrics, so the duration is left at zero.
	end := time.Now().UTC()
	exec.EndedAt = &end
	exec.DurationMs = 0
	exec.Status, exec.Level = store.StatusFailed, "error"
	exec.Error, exec.ErrorCode = msg, ErrorCodeInterrupted
}

// resume runs a queued job with the version it was queued for.
func (s *Service) resume(ctx context.Context, exec *store.Execution) error {
	// The caller's principal is gone after a restart: a resumed run cannot start child
	// workflows (they would need its access), so those blocks fail clearly.
	comp, in, secrets, err := s.prepareStored(ctx, exec, nil, nil)
	if err != nil {
		return err
	}
	in.Timeout = s.cfg.ExecutionTimeout
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	_ = s.trackRun(exec, cancel, false, nil) // accepted before the restart: never refused now
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel(nil)
		s.runAndRecord(runCtx, comp, exec, in, secrets)
	}()
	return nil
}

// prepareStored compiles the version a stored execution was queued for and builds its
// engine input (environment, providers, stored input), to run as p (nil: no child
// workflows). Errors wrapping errCannotResume mean it can never run.
func (s *Service) prepareStored(ctx context.Context, exec *store.Execution, p *auth.Principal, via []string) (*compiled, engine.RunInput, []string, error) {
	var comp *compiled
	err := s.st.View(ctx, func(r store.Reader) error {
		wf, err := r.Workflow(exec.WorkflowID)
		if err != nil {
			return err
		}
		if exec.Version == 0 {
			comp, err = compileDefinitionFrom(wf.Draft, exec.TriggerBlockID)
			return err
		}
		dep, err := r.Deployment(exec.WorkflowID, exec.Version)
		if err != nil {
			return err
		}
		comp, err = s.plan.getFrom(dep, exec.TriggerBlockID)
		return err
	})
	var ve *engine.ValidationError
	if errors.Is(err, store.ErrNotFound) || errors.As(err, &ve) {
		return nil, engine.RunInput{}, nil, fmt.Errorf("%w: workflow version is gone or invalid", errCannotResume)
	}
	if err != nil {
		return nil, engine.RunInput{}, nil, fmt.Errorf("prepare execution %s: %w", exec.ID, err)
	}
	var input map[string]any
	if len(exec.Input) > 0 {
		if err := json.Unmarshal(exec.Input, &input); err != nil {
			return nil, engine.RunInput{}, nil, fmt.Errorf("%w: stored input unreadable", errCannotResume)
		}
	}
	user := exec.UserID
	if p != nil {
		user = actingUser(p)
	}
	env, secrets, err := s.runEnv(ctx, exec.WorkspaceID, user)
	if err != nil {
		return nil, engine.RunInput{}, nil, fmt.Errorf("prepare execution %s: %w", exec.ID, err)
	}
	models, keys, err := s.modelResolver(ctx, exec.WorkspaceID)
	if err != nil {
		return nil, engine.RunInput{}, nil, fmt.Errorf("prepare execution %s: %w", exec.ID, err)
	}
	secrets = append(secrets, keys...)
	in := s.runInput(p, exec.WorkspaceID, env, models, secrets, append(append([]string(nil), via...), exec.WorkflowID), exec.Version != 0)
	in.Input, in.ExecutionID, in.WorkflowID, in.Now = input, exec.ID, exec.WorkflowID, s.cfg.Now
	return comp, in, secrets, nil
}
