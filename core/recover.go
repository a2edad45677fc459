package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
		return fmt.Errorf("%w: workflow version is gone or invalid", errCannotResume)
	}
	if err != nil {
		return fmt.Errorf("resume execution %s: %w", exec.ID, err)
	}
	var input map[string]any
	if len(exec.Input) > 0 {
		if err := json.Unmarshal(exec.Input, &input); err != nil {
			return fmt.Errorf("%w: stored input unreadable", errCannotResume)
		}
	}
	env, secrets, err := s.runEnv(ctx, exec.WorkspaceID, exec.UserID)
	if err != nil {
		return fmt.Errorf("resume execution %s: %w", exec.ID, err)
	}
	models, keys, err := s.modelResolver(ctx, exec.WorkspaceID)
	if err != nil {
		return fmt.Errorf("resume execution %s: %w", exec.ID, err)
	}
	secrets = append(secrets, keys...)
	// The caller's principal is gone after a restart: a resumed run cannot start child
	// workflows (they would need its access), so those blocks fail clearly.
	in := s.runInput(nil, exec.WorkspaceID, env, models, secrets, []string{exec.WorkflowID}, true)
	in.Input, in.Timeout = input, s.cfg.ExecutionTimeout
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
