package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// Paused runs (Sim's human-in-the-loop and async waits; apps/sim/lib/workflows/
// executor/human-in-the-loop-manager.ts, apps/sim/app/api/resume/**).
//
// A run that pauses is recorded twice: its execution record (logs.db) says "paused"
// with the pause blocks' output, and a PausedRun (core.db) keeps the engine's state,
// sealed with the master key since it holds unredacted block outputs, together with
// the version, trigger and principal it runs as. The PausedRun is written first and is
// the authority: a resume claims it (paused → resuming) in one transaction, so a
// pause point is resumed at most once; the second answer gets 409. When the continued
// run completes, fails or is cancelled its record is written and the PausedRun
// deleted; if it pauses again, the PausedRun is replaced.
//
// Human pauses resume through Resume (write on the workflow, decided by Authorize).
// Time pauses (async waits) resume through ResumeDue, which the scheduler loop calls
// every few seconds with the service's clock. After a restart, waits that fell due
// while the server was down resume at the first tick after start, once each.

var (
	errPausedNotFound = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "Paused execution not found or already resumed"}
	errPointNotFound  = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "Pause point not found for execution"}
	errNotResumable   = &Error{Status: http.StatusConflict, Code: "not_resumable", Message: "Paused execution is not resumable"}
	errPointTaken     = &Error{Status: http.StatusConflict, Code: "already_resumed", Message: "Pause point already resumed or in progress"}
)

// ResumeRequest answers one pause point of a paused run.
type ResumeRequest struct {
	WorkflowID  string
	ExecutionID string
	ContextID   string
	// Input is the approval payload; it becomes the block's submission (Sim's merge).
	Input any
	// BaseURL makes resume links of later pauses absolute (see RunRequest.BaseURL).
	BaseURL string
}

func sealAAD(execID string) string { return "paused-run:" + execID }

// pausedBlob is what is sealed: the engine's state and, for a draft run, the draft it
// ran (a draft changes under the same id; a deployed version never does).
type pausedBlob struct {
	State      *engine.PauseState `json:"state"`
	Definition json.RawMessage    `json:"definition,omitempty"`
}

// savePause stores the state of a run that just paused. Caller holds no locks.
func (s *Service) savePause(ctx context.Context, comp *compiled, exec *store.Execution, st *engine.PauseState) error {
	blob := pausedBlob{State: st}
	if exec.Version == 0 {
		def, err := engine.Normalize(comp.wf)
		if err != nil {
			return fmt.Errorf("encode draft: %w", err)
		}
		blob.Definition = def
	}
	raw, err := json.Marshal(blob)
	if err != nil {
		return fmt.Errorf("encode paused state: %w", err)
	}
	sealed, err := s.sec.Seal(sealAAD(exec.ID), raw)
	if err != nil {
		return fmt.Errorf("seal paused state: %w", err)
	}
	pr := &store.PausedRun{ExecutionID: exec.ID, WorkflowID: exec.WorkflowID, WorkspaceID: exec.WorkspaceID,
		Version: exec.Version, Trigger: exec.Trigger, TriggerBlockID: exec.TriggerBlockID, KeyID: exec.KeyID,
		UserID: exec.UserID, BilledTo: exec.BilledTo, Status: store.PausedWaiting, PausedAt: s.now(), State: sealed}
	for _, p := range st.Points {
		pr.PausePoints = append(pr.PausePoints, store.PausePoint{ContextID: p.ContextID, BlockID: p.BlockID,
			BlockName: p.BlockName, Kind: p.Kind, PausedAt: p.PausedAt.UTC(), ResumeAt: p.ResumeAt})
	}
	return s.st.PutPausedRun(context.WithoutCancel(ctx), pr)
}

// PausedRun returns the pause state of execution execID of workflow wfID for a caller
// with read on the workflow (status views, the paused-runs listing).
func (s *Service) PausedRun(ctx context.Context, p *auth.Principal, wfID, execID string) (*store.PausedRun, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelRead); err != nil {
		return nil, err
	}
	pr, err := s.st.PausedRun(ctx, execID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && pr.WorkflowID != wfID) {
		return nil, errPausedNotFound
	}
	if err != nil {
		return nil, err
	}
	pr.State = nil // sealed engine state is for resuming only
	return pr, nil
}

// PausedRuns lists the paused runs of workflow wfID for a caller with read on it.
func (s *Service) PausedRuns(ctx context.Context, p *auth.Principal, wfID string) ([]*store.PausedRun, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelRead); err != nil {
		return nil, err
	}
	list, err := s.st.PausedRuns(ctx, wfID)
	if err != nil {
		return nil, err
	}
	for _, pr := range list {
		pr.State = nil
	}
	return list, nil
}

// Resume answers a human pause point of a paused run and continues the run until it
// completes, fails or pauses again; the caller needs write on the workflow (the same
// Authorize decision as Execute). It returns the run as Execute does for sync runs.
func (s *Service) Resume(ctx context.Context, p *auth.Principal, req ResumeRequest) (*Run, error) {
	if err := s.authorize(ctx, p, workflowTarget(req.WorkflowID), store.LevelWrite); err != nil {
		return nil, err
	}
	if err := checkInput(map[string]any{"input": req.Input}); err != nil {
		return nil, err
	}
	pr, err := s.st.PausedRun(ctx, req.ExecutionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && pr.WorkflowID != req.WorkflowID) {
		// Gone because it already finished: a second answer is a conflict, as Sim's
		// "not resumable"; never seen: not found.
		if exec, lerr := s.st.Logs().Get(ctx, req.ExecutionID); lerr == nil && exec.WorkflowID == req.WorkflowID {
			return nil, errNotResumable
		}
		return nil, errPausedNotFound
	}
	if err != nil {
		return nil, err
	}
	pt := pr.Point(req.ContextID)
	if pt == nil {
		return nil, errPointNotFound
	}
	if pt.Kind != store.PauseHuman {
		return nil, newError(http.StatusBadRequest, "invalid_pause_kind",
			"Pause kind '%s' is not allowed for this resume endpoint (allowed: human)", pt.Kind)
	}
	pr, err = s.claim(ctx, pr.ExecutionID, req.ContextID)
	if err != nil {
		return nil, err
	}
	res, exec, err := s.continueRun(ctx, p, pr, req.ContextID, req.Input, req.BaseURL, resumeCaller)
	if err != nil {
		return nil, err
	}
	return &Run{Execution: exec, Result: res}, nil
}

func (s *Service) claim(ctx context.Context, execID, contextID string) (*store.PausedRun, error) {
	pr, err := s.st.ClaimPausedRun(ctx, execID, contextID)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, errPointTaken
	case errors.Is(err, store.ErrNotFound):
		return nil, errPointNotFound
	case err != nil:
		return nil, fmt.Errorf("claim paused run: %w", err)
	}
	return pr, nil
}

// release hands a claimed pause back when its run could not start (run limits, the
// store): it may be resumed again.
func (s *Service) release(ctx context.Context, pr *store.PausedRun) {
	pr.Status, pr.ResumingContext = store.PausedWaiting, ""
	if err := s.st.PutPausedRun(context.WithoutCancel(ctx), pr); err != nil {
		s.log.Error("release paused run", "execution", pr.ExecutionID, "err", err)
	}
}

// resumeMode is how a claimed resume runs.
type resumeMode int

const (
	// resumeCaller: a person waits for the result; the run is admitted against the caps.
	resumeCaller resumeMode = iota
	// resumeBackground: a due wait on one process; it runs in the background, never
	// refused (it was accepted long ago).
	resumeBackground
	// resumeJob: a due wait the shared queue hands this replica; the job waits for the
	// result, the run is never refused, and cancelling the job cancels it.
	resumeJob
)

// continueRun runs a claimed paused run on from contextID. The run executes the version
// it started with, sees the environment of the user it started as, and starts child
// workflows as p (the person who resumed it; nil for time resumes, which then cannot).
func (s *Service) continueRun(ctx context.Context, p *auth.Principal, pr *store.PausedRun, contextID string, input any, baseURL string, mode resumeMode) (*engine.Result, *store.Execution, error) {
	exec, err := s.st.Logs().Get(ctx, pr.ExecutionID)
	if err != nil {
		s.release(ctx, pr)
		return nil, nil, fmt.Errorf("read paused execution: %w", err)
	}
	fail := func(msg string) (*engine.Result, *store.Execution, error) {
		// The state cannot be run any more: the run ends failed, and is never retried.
		end := s.now()
		exec.EndedAt, exec.DurationMs = &end, end.Sub(exec.StartedAt).Milliseconds()
		exec.Status, exec.Level, exec.Error, exec.ErrorCode = store.StatusFailed, "error", msg, "resume_failed"
		if err := s.st.Logs().Put(context.WithoutCancel(ctx), exec); err != nil {
			return nil, nil, fmt.Errorf("record execution: %w", err)
		}
		if err := s.st.DeletePausedRun(context.WithoutCancel(ctx), pr.ExecutionID); err != nil {
			s.log.Error("delete paused run", "execution", pr.ExecutionID, "err", err)
		}
		return nil, nil, newError(http.StatusConflict, "resume_failed", "%s", msg)
	}
	raw, err := s.sec.Open(sealAAD(pr.ExecutionID), pr.State)
	if err != nil {
		return fail("Paused execution snapshot is invalid")
	}
	var blob pausedBlob
	if err := json.Unmarshal(raw, &blob); err != nil || blob.State == nil {
		return fail("Paused execution snapshot is invalid")
	}
	st := blob.State
	var comp *compiled
	err = s.st.View(ctx, func(r store.Reader) error {
		wf, err := r.Workflow(pr.WorkflowID)
		if err != nil {
			return err // deleted: nothing to resume
		}
		if pr.Version == 0 {
			def := blob.Definition // the draft as it ran
			if def == nil {
				def = wf.Draft
			}
			comp, err = compileDefinitionFrom(def, pr.TriggerBlockID)
			return err
		}
		dep, err := r.Deployment(pr.WorkflowID, pr.Version)
		if err != nil {
			return err
		}
		comp, err = s.plan.getFrom(dep, pr.TriggerBlockID)
		return err
	})
	var ve *engine.ValidationError
	if errors.Is(err, store.ErrNotFound) || errors.As(err, &ve) {
		return fail("Paused execution cannot resume: its workflow version is gone or invalid")
	}
	if err != nil {
		s.release(ctx, pr)
		return nil, nil, fmt.Errorf("resume execution %s: %w", pr.ExecutionID, err)
	}
	env, secrets, err := s.runEnv(ctx, pr.WorkspaceID, pr.UserID)
	if err == nil {
		var models engine.ModelResolver
		var keys []string
		models, keys, err = s.modelResolver(ctx, pr.WorkspaceID)
		if err == nil {
			secrets = append(secrets, keys...)
			in := s.runInput(p, pr.WorkspaceID, env, models, secrets, []string{pr.WorkflowID}, pr.Version > 0)
			in.Timeout, in.ExecutionID, in.WorkflowID, in.BaseURL, in.Now = s.cfg.ExecutionTimeout, pr.ExecutionID, pr.WorkflowID, baseURL, s.cfg.Now
			in.Resume = &engine.Resume{State: st, ContextID: contextID, Input: input, ExecutionID: pr.ExecutionID}
			return s.startResumed(ctx, comp, exec, in, secrets, pr, mode)
		}
	}
	s.release(ctx, pr)
	return nil, nil, fmt.Errorf("resume execution %s: %w", pr.ExecutionID, err)
}

func (s *Service) startResumed(ctx context.Context, comp *compiled, exec *store.Execution, in engine.RunInput, secrets []string, pr *store.PausedRun, mode resumeMode) (*engine.Result, *store.Execution, error) {
	exec.Status = store.StatusRunning
	parent := context.WithoutCancel(ctx) // a caller who leaves does not cancel the run
	if mode == resumeJob {
		parent = ctx
	}
	runCtx, cancel := context.WithCancelCause(parent)
	switch mode {
	case resumeBackground:
		// The wait was accepted long ago: it counts against the caps, never refused.
		_ = s.trackRun(exec, cancel, false, nil)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer cancel(nil)
			s.runAndRecord(runCtx, comp, exec, in, secrets)
		}()
		return nil, exec, nil
	case resumeJob:
		_ = s.trackRun(exec, cancel, false, nil)
	default:
		if err := s.track(exec, cancel, nil); err != nil {
			cancel(nil)
			s.release(ctx, pr)
			return nil, nil, err
		}
	}
	defer cancel(nil)
	res, err := s.runAndRecord(runCtx, comp, exec, in, secrets)
	if err != nil {
		return nil, nil, err
	}
	return res, exec, nil
}

// ResumeDue resumes every time pause (async wait) whose time has come by the service's
// clock and returns the executions it resumed: in the background on one process; on
// replicas sharing a database, as jobs of the shared queue (one per pause point, which
// whichever replica fetches it runs: resumeJob). The scheduler calls it; tests call it
// with an injected clock.
func (s *Service) ResumeDue(ctx context.Context) ([]string, error) {
	now := s.now()
	due, err := s.st.DuePausedRuns(ctx, now, 100)
	if err != nil {
		return nil, fmt.Errorf("read due paused runs: %w", err)
	}
	var out []string
	var errs []error
	for _, pr := range due {
		var ctxID string
		for _, pt := range pr.PausePoints {
			if pt.Kind == store.PauseTime && pt.ResumeAt != nil && !pt.ResumeAt.After(now) {
				ctxID = pt.ContextID
				break
			}
		}
		if ctxID == "" {
			continue
		}
		if s.cfg.Jobs != nil {
			if err := s.cfg.Jobs.Enqueue(ctx, store.Job{ExecutionID: pr.ExecutionID, ContextID: ctxID}, nil); err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, pr.ExecutionID)
			continue
		}
		claimed, err := s.claim(ctx, pr.ExecutionID, ctxID)
		if errors.Is(err, errPointTaken) || errors.Is(err, errPointNotFound) {
			continue // taken by another resume in the meantime
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, _, err := s.continueRun(ctx, nil, claimed, ctxID, nil, "", resumeBackground); err != nil {
			s.log.Warn("resume due wait", "execution", pr.ExecutionID, "err", err)
			errs = append(errs, err)
			continue
		}
		out = append(out, pr.ExecutionID)
	}
	return out, errors.Join(errs...)
}

// resumeJob resumes a paused run at the due time pause point job j names (see
// ResumeDue). A point taken already runs nothing: the run was cancelled, or an earlier
// attempt of this job claimed it on a replica that died mid-resume, whose run Recover
// marks interrupted (a resume is never run twice).
func (s *Service) resumeJob(ctx context.Context, j store.Job) error {
	claimed, err := s.claim(ctx, j.ExecutionID, j.ContextID)
	if errors.Is(err, errPointTaken) || errors.Is(err, errPointNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, _, err = s.continueRun(ctx, nil, claimed, j.ContextID, nil, j.BaseURL, resumeJob)
	var ce *Error
	if errors.As(err, &ce) {
		return nil // recorded as failed: nothing a retry would change
	}
	return err
}

// settlePaused reconciles paused runs with their execution records at start (see
// Recover). A paused record waits: it is not among the unfinished runs, and is counted.
// A record still marked running or queued whose run had already saved its pause is
// set to paused. A resume cut off by the stop leaves its run interrupted (never run
// twice) and its pause state is dropped, as is the state of a run already finished.
// It returns the open records it settled (Recover leaves them), how many runs wait,
// and how many it marked interrupted.
func (s *Service) settlePaused(ctx context.Context, open []*store.Execution) (map[string]bool, int, int, error) {
	all, err := s.st.PausedRuns(ctx, "")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list paused runs: %w", err)
	}
	openByID := make(map[string]*store.Execution, len(open))
	for _, e := range open {
		openByID[e.ID] = e
	}
	settled := map[string]bool{}
	waiting, interrupted := 0, 0
	var errs []error
	for _, pr := range all {
		exec := openByID[pr.ExecutionID]
		if exec == nil {
			if e, err := s.st.Logs().Get(ctx, pr.ExecutionID); err == nil {
				exec = e
			} else if !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, err)
				continue
			}
		}
		switch {
		case exec == nil: // its record was pruned: nothing to resume into
			errs = append(errs, s.st.DeletePausedRun(ctx, pr.ExecutionID))
		case pr.Status == store.PausedWaiting && exec.Status == store.StatusPaused:
			waiting++
		case pr.Status == store.PausedWaiting && (exec.Status == store.StatusRunning || exec.Status == store.StatusQueued):
			// Saved its pause, stopped before its record said so.
			exec.Status, exec.Level, exec.EndedAt = store.StatusPaused, "info", nil
			if err := s.st.Logs().Put(ctx, exec); err != nil {
				errs = append(errs, err)
				continue
			}
			settled[exec.ID] = true
			waiting++
		case pr.Status == store.PausedWaiting: // finished before its state was dropped
			errs = append(errs, s.st.DeletePausedRun(ctx, pr.ExecutionID))
		default: // resuming when the process stopped
			if exec.Status == store.StatusPaused {
				// Its start marker had not landed: marked interrupted here, as Recover
				// marks the open ones.
				fail(exec, "Execution interrupted: the server stopped while it was running")
				if err := s.st.Logs().Put(ctx, exec); err != nil {
					errs = append(errs, err)
					continue
				}
				interrupted++
			}
			errs = append(errs, s.st.DeletePausedRun(ctx, pr.ExecutionID))
		}
	}
	return settled, waiting, interrupted, errors.Join(errs...)
}

// ErrorCodePausedCancelled marks a run cancelled while it was paused (Sim's
// pausedCancelled).
const ErrorCodePausedCancelled = "cancelled_while_paused"

// cancelPaused cancels a paused run: it takes the run from its pause points (so a
// resume racing the cancel gets 409, or the cancel does) and records it cancelled.
// Who may cancel is auth.AuthorizeCancel's decision, as for running runs.
func (s *Service) cancelPaused(ctx context.Context, p *auth.Principal, exec *store.Execution) (*store.Execution, error) {
	if err := s.az.AuthorizeCancel(ctx, p, exec.WorkflowID, exec.KeyID, exec.UserID); err != nil {
		return nil, err
	}
	pr, err := s.st.PausedRun(ctx, exec.ID)
	if err != nil || len(pr.PausePoints) == 0 {
		return exec, errNotCancellable
	}
	if _, err := s.claim(ctx, exec.ID, pr.PausePoints[0].ContextID); err != nil {
		return exec, errNotCancellable // being resumed right now
	}
	end := s.now()
	exec.EndedAt, exec.DurationMs = &end, end.Sub(exec.StartedAt).Milliseconds()
	exec.Status, exec.Level = store.StatusCancelled, "info"
	exec.Error, exec.ErrorCode = "Execution cancelled while paused", ErrorCodePausedCancelled
	if err := s.st.Logs().Put(context.WithoutCancel(ctx), exec); err != nil {
		s.release(ctx, pr)
		return nil, fmt.Errorf("record execution: %w", err)
	}
	if err := s.st.DeletePausedRun(context.WithoutCancel(ctx), exec.ID); err != nil {
		s.log.Error("delete paused run", "execution", exec.ID, "err", err)
	}
	return exec, nil
}
