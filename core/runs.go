package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// RunRequest asks for one execution of a workflow's active deployed version.
type RunRequest struct {
	WorkflowID string
	Input      map[string]any
	Trigger    string // store.TriggerAPI, TriggerMCP, TriggerManual
	Async      bool
	// RunID is a caller-chosen id (v2 X-Run-Id); a reused one fails with ErrRunIDConflict.
	RunID string
	// Timeout shortens the default execution timeout; it is capped by the maximum.
	Timeout time.Duration
	// Hooks receive block progress (SSE frames, MCP progress notifications).
	Hooks engine.Hooks
	// Draft runs the current draft instead of the active deployed version (manual runs
	// from the CLI or dashboard); API and MCP runs never set it.
	Draft bool
	// Via is the chain of workflows that called this run through api blocks
	// (X-SteelEngine-Via, see ParseVia).
	Via []string
	// TriggerBlockID starts the run at this trigger block (schedule and webhook runs)
	// instead of the API start block.
	TriggerBlockID string
	// Reservation is the front door's hold on the input budget (ReserveInput), taken
	// before decoding the body; the run takes it over. Nil: Execute reserves the size
	// of the input itself.
	Reservation *Reservation
	// BaseURL makes the resume links of a run that pauses absolute (the server's
	// public URL as the front door knows it); empty → links relative to the server.
	BaseURL string
}

// Run is an execution: its log record, and for sync runs the engine's result.
type Run struct {
	Execution *store.Execution
	Result    *engine.Result // nil for async runs
}

// activeRun is an execution in flight, for status and cancellation.
type activeRun struct {
	exec   *store.Execution
	cancel context.CancelCauseFunc
	input  int64 // bytes it holds of the in-flight input budget
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// errCancelled is the cause recorded when a caller cancels a run.
var errCancelled = errors.New("execution cancelled")

// Execute runs the workflow's active deployed version as principal p, which needs write
// on the workflow, and logs the run. A sync run returns after its record is durably
// committed; an async run returns once its queued record is committed.
func (s *Service) Execute(ctx context.Context, p *auth.Principal, req RunRequest) (*Run, error) {
	if err := s.authorize(ctx, p, workflowTarget(req.WorkflowID), store.LevelWrite); err != nil {
		return nil, err
	}
	if err := checkInput(req.Input); err != nil {
		return nil, err
	}
	if err := s.checkVia(req.Via); err != nil {
		return nil, err
	}
	var (
		wf  *store.Workflow
		dep *store.Deployment
		err error
	)
	if req.Draft {
		wf, err = s.st.GetWorkflow(ctx, req.WorkflowID)
	} else {
		// From memory while no workflow changed (see planCache).
		wf, dep, err = s.activeDeployment(ctx, req.WorkflowID)
	}
	if err != nil {
		return nil, mapStoreErr(err, "Workflow not found")
	}
	var comp *compiled
	switch {
	case req.Draft:
		// Drafts change under the same id, so they are compiled per run, not cached.
		dep = &store.Deployment{WorkflowID: wf.ID, Definition: wf.Draft}
		comp, err = compileDefinitionFrom(wf.Draft, req.TriggerBlockID)
	case dep == nil:
		return nil, ErrNotDeployed
	default:
		comp, err = s.plan.getFrom(dep, req.TriggerBlockID)
	}
	if err != nil {
		return nil, fmt.Errorf("prepare run: %w", err)
	}
	timeout := s.cfg.ExecutionTimeout
	if req.Timeout > 0 {
		timeout = min(req.Timeout, s.cfg.MaxExecutionTimeout)
	}
	env, secrets, err := s.runEnv(ctx, wf.WorkspaceID, actingUser(p))
	if err != nil {
		return nil, err
	}
	models, keys, err := s.modelResolver(ctx, wf.WorkspaceID)
	if err != nil {
		return nil, err
	}
	secrets = append(secrets, keys...)
	billed, err := s.billedTo(ctx, p, wf.WorkspaceID)
	if err != nil {
		return nil, err
	}
	exec := &store.Execution{
		ID: store.NewID(), WorkflowID: wf.ID, WorkspaceID: wf.WorkspaceID, Version: dep.Version,
		Trigger: req.Trigger, Status: store.StatusRunning, Level: "info", StartedAt: time.Now().UTC(),
		KeyID: p.KeyID, UserID: p.UserID, BilledTo: billed, RunID: req.RunID,
		Input:          mustJSON(engine.Redact(anyMap(req.Input), secrets)),
		TriggerBlockID: req.TriggerBlockID,
	}
	if exec.Trigger == "" {
		exec.Trigger = store.TriggerAPI
	}
	if err := s.claimRunID(ctx, wf.ID, req.RunID); err != nil {
		return nil, err
	}
	in := s.runInput(p, wf.WorkspaceID, env, models, secrets, append(append([]string(nil), req.Via...), wf.ID), !req.Draft)
	in.Input, in.Hooks, in.Timeout = req.Input, req.Hooks, timeout
	in.ExecutionID, in.WorkflowID, in.BaseURL, in.Now = exec.ID, wf.ID, req.BaseURL, s.cfg.Now
	if req.Async && s.cfg.Jobs != nil {
		exec.Status = store.StatusQueued
		return s.enqueue(ctx, p, exec, timeout, req.Via, req.BaseURL)
	}
	if req.Async {
		exec.Status = store.StatusQueued
		runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		if err := s.track(exec, cancel, req.Reservation); err != nil {
			cancel(nil)
			return nil, err
		}
		if err := s.st.Logs().Put(ctx, exec); err != nil {
			s.untrack(exec)
			cancel(nil)
			return nil, fmt.Errorf("queue execution: %w", err)
		}
		queued := copyExec(exec) // before the run goroutine starts writing exec
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer cancel(nil)
			s.runAndRecord(runCtx, comp, exec, in, secrets)
		}()
		return &Run{Execution: queued}, nil
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := s.track(exec, cancel, req.Reservation); err != nil {
		return nil, err
	}
	res, err := s.runAndRecord(runCtx, comp, exec, in, secrets)
	if err != nil {
		return nil, err
	}
	if res.ErrorCode == engine.CodeOverloaded {
		return nil, errOverloaded(exec.ID)
	}
	return &Run{Execution: exec, Result: res}, nil
}

// runAndRecord runs the plan and commits the final record. The commit does not depend
// on the caller still listening: a run that finished is logged.
func (s *Service) runAndRecord(ctx context.Context, comp *compiled, exec *store.Execution, in engine.RunInput, secrets []string) (*engine.Result, error) {
	defer s.untrack(exec)
	s.mu.Lock()
	queued := exec.Status == store.StatusQueued
	exec.Status = store.StatusRunning
	s.mu.Unlock()
	stopMark := s.markStart(ctx, exec, queued)
	res := comp.plan.Run(ctx, in)
	stopMark()
	if cause := context.Cause(ctx); res.ErrorCode == engine.CodeCancelled && errors.Is(cause, errShutdown) {
		res.Error = "Execution cancelled: server shutting down"
	}
	s.mu.Lock()
	finish(exec, res, secrets)
	s.mu.Unlock()
	if res.Paused != nil {
		// The pause state first: a record saying paused always has a state to resume.
		if err := s.savePause(ctx, comp, exec, res.Paused); err != nil {
			s.log.Error("save paused run", "execution", exec.ID, "err", err)
			res.Success, res.Paused = false, nil
			res.Error, res.ErrorCode = "Execution paused but its state could not be saved: "+err.Error(), "pause_failed"
			s.mu.Lock()
			finish(exec, res, secrets)
			s.mu.Unlock()
		}
	}
	if err := s.st.Logs().Put(context.WithoutCancel(ctx), exec); err != nil {
		s.log.Error("record execution", "execution", exec.ID, "err", err)
		return res, fmt.Errorf("record execution: %w", err)
	}
	if in.Resume != nil && res.Paused == nil {
		// Finished: nothing is left to resume.
		if err := s.st.DeletePausedRun(context.WithoutCancel(ctx), exec.ID); err != nil {
			s.log.Error("delete paused run", "execution", exec.ID, "err", err)
		}
	}
	if s.cfg.OnFinish != nil {
		s.cfg.OnFinish(exec)
	}
	return res, nil
}

// markAfter is how long a sync run goes without a start marker in the log.
const markAfter = 500 * time.Millisecond

// markStart records that exec started, so that a crash while it runs leaves it marked
// interrupted at the next start (Recover) instead of nowhere. A queued job's record
// says "queued" and would run again after a crash, so its marker is queued at once. A
// sync run that has told nobody anything yet gets one only when it outlives markAfter:
// most finish sooner, and then their final record is their one write. The marker is
// not waited on; stop, called when the run returned and before its final record,
// makes sure a marker in progress is queued ahead of that record.
func (s *Service) markStart(ctx context.Context, exec *store.Execution, now bool) (stop func()) {
	mark := func() {
		s.mu.Lock()
		marker := copyExec(exec)
		s.mu.Unlock()
		if err := s.st.Logs().Mark(context.WithoutCancel(ctx), marker); err != nil {
			s.log.Warn("record run start", "execution", exec.ID, "err", err)
		}
	}
	if now {
		mark()
		return func() {}
	}
	marked := make(chan struct{})
	t := time.AfterFunc(markAfter, func() { defer close(marked); mark() })
	return func() {
		if !t.Stop() {
			<-marked
		}
	}
}

// finish copies a result into the execution record.
func finish(exec *store.Execution, res *engine.Result, secrets []string) {
	end := res.EndedAt.UTC()
	if end.IsZero() {
		end = time.Now().UTC()
	}
	exec.EndedAt = &end
	exec.DurationMs = end.Sub(exec.StartedAt).Milliseconds()
	exec.Error, exec.ErrorCode = "", ""
	if res.ErrorCode == engine.CodeOverloaded {
		// Refused for load: a small record, not one bloated by the logs of a retry storm.
		exec.Output = json.RawMessage(`{}`)
	} else {
		exec.Output = mustJSON(engine.Redact(anyMap(res.Output), secrets))
		exec.BlockLogs = mustJSON(res.BlockLogs)
		exec.TraceSpans = mustJSON(res.TraceSpans)
		exec.Cost = res.Cost() // the logs API's cost.total, as Sim's
	}
	switch {
	case res.Paused != nil:
		// Not over: no end time until the run completes after its resume.
		exec.Status, exec.Level, exec.EndedAt = store.StatusPaused, "info", nil
	case res.Success:
		exec.Status, exec.Level = store.StatusCompleted, "info"
	case res.ErrorCode == engine.CodeCancelled:
		exec.Status, exec.Level = store.StatusCancelled, "info"
	default:
		exec.Status, exec.Level = store.StatusFailed, "error"
	}
	if !res.Success {
		exec.Error, exec.ErrorCode = res.Error, res.ErrorCode
	}
}

// track admits a run (see admitLocked) and registers it for status and cancellation.
// A refused run releases its claimed run id.
func (s *Service) track(exec *store.Execution, cancel context.CancelCauseFunc, resv *Reservation) error {
	return s.trackRun(exec, cancel, true, resv)
}

// trackRun registers a run; with admit false (jobs resumed at start, already
// accepted) it counts against the caps without being refused.
func (s *Service) trackRun(exec *store.Execution, cancel context.CancelCauseFunc, admit bool, resv *Reservation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ar := &activeRun{exec: exec, cancel: cancel}
	if resv == nil || !resv.held {
		ar.input = int64(len(exec.Input))
	}
	if !admit {
		s.perWS[exec.WorkspaceID]++
		s.inputBytes += ar.input
	} else if err := s.admitLocked(exec.WorkspaceID, ar.input); err != nil {
		if exec.RunID != "" {
			delete(s.runIDs, exec.WorkflowID+"/"+exec.RunID)
		}
		return err
	}
	if resv != nil && resv.held {
		resv.held, ar.input = false, resv.n // the run holds it from now on
	}
	s.active[exec.ID] = ar
	if s.closing {
		cancel(errShutdown)
	}
	return nil
}

func (s *Service) untrack(exec *store.Execution) {
	s.mu.Lock()
	if ar, ok := s.active[exec.ID]; ok {
		delete(s.active, exec.ID)
		s.leaveLocked(exec.WorkspaceID, ar.input)
	}
	if exec.RunID != "" {
		delete(s.runIDs, exec.WorkflowID+"/"+exec.RunID)
	}
	s.mu.Unlock()
}

// claimRunID reserves a caller-chosen run id: unused in the log and by runs in flight.
func (s *Service) claimRunID(ctx context.Context, wfID, runID string) error {
	if runID == "" {
		return nil
	}
	if !runIDPattern.MatchString(runID) {
		return newError(http.StatusBadRequest, "invalid_run_id", "Run ID must be 1-128 characters of A-Z a-z 0-9 . _ : -")
	}
	if _, err := s.st.Logs().GetByRunID(ctx, wfID, runID); err == nil {
		return ErrRunIDConflict
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("check run id: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := wfID + "/" + runID
	if s.runIDs[k] {
		return ErrRunIDConflict
	}
	s.runIDs[k] = true
	return nil
}

// Cancel stops a run in flight. Write on the workflow cancels the caller's own runs;
// admin cancels anyone's (auth.AuthorizeCancel decides).
func (s *Service) Cancel(ctx context.Context, p *auth.Principal, wfID, execID string) (*store.Execution, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelWrite); err != nil {
		return nil, err
	}
	s.mu.Lock()
	r, ok := s.active[execID]
	var running *store.Execution
	if ok && r.exec.WorkflowID == wfID {
		running = copyExec(r.exec)
	}
	s.mu.Unlock()
	if running == nil {
		exec, err := s.st.Logs().Get(ctx, execID)
		if err != nil || exec.WorkflowID != wfID {
			return nil, newError(http.StatusNotFound, "not_found", "Execution not found")
		}
		if exec.Status == store.StatusPaused {
			return s.cancelPaused(ctx, p, exec)
		}
		if s.cfg.Jobs != nil && (exec.Status == store.StatusQueued || exec.Status == store.StatusRunning) {
			return s.cancelJob(ctx, p, exec)
		}
		return exec, errNotCancellable
	}
	if running.Status != store.StatusQueued && running.Status != store.StatusRunning {
		return running, errNotCancellable // finished, its record is being written
	}
	if err := s.az.AuthorizeCancel(ctx, p, wfID, running.KeyID, running.UserID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if r, ok := s.active[execID]; ok {
		r.cancel(errCancelled)
	}
	s.mu.Unlock()
	return running, nil
}

// GetExecution returns an execution (in flight or logged) of workflow wfID; the caller
// needs read on the workflow. An empty wfID accepts any workflow (job lookups); then
// an execution outside the caller's reach reads as not found, so ids leak nothing.
func (s *Service) GetExecution(ctx context.Context, p *auth.Principal, wfID, execID string) (*store.Execution, error) {
	if wfID != "" {
		if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelRead); err != nil {
			return nil, err
		}
	}
	exec, err := s.lookupExecution(ctx, execID)
	if err != nil || (wfID != "" && exec.WorkflowID != wfID) {
		return nil, errExecutionNotFound
	}
	if wfID != "" {
		return exec, nil
	}
	if err := s.authorizeExecution(ctx, p, exec); err != nil {
		var ae *auth.Error
		if errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound) {
			return nil, errExecutionNotFound
		}
		return nil, err
	}
	return exec, nil
}

var errExecutionNotFound = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "Execution not found"}

// authorizeExecution needs read on the execution's workflow, or on its workspace once
// the workflow is deleted (its logs stay readable to the workspace).
func (s *Service) authorizeExecution(ctx context.Context, p *auth.Principal, exec *store.Execution) error {
	err := s.authorize(ctx, p, workflowTarget(exec.WorkflowID), store.LevelRead)
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return s.authorize(ctx, p, workspaceTarget(exec.WorkspaceID), store.LevelRead)
	}
	return err
}

// GetRun returns the execution of workflow wfID with caller-chosen run id or execution id.
func (s *Service) GetRun(ctx context.Context, p *auth.Principal, wfID, runID string) (*store.Execution, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelRead); err != nil {
		return nil, err
	}
	if exec, err := s.st.Logs().GetByRunID(ctx, wfID, runID); err == nil {
		return s.GetExecution(ctx, p, wfID, exec.ID)
	}
	s.mu.Lock()
	for _, r := range s.active {
		if r.exec.WorkflowID == wfID && r.exec.RunID == runID {
			runID = r.exec.ID
		}
	}
	s.mu.Unlock()
	return s.GetExecution(ctx, p, wfID, runID)
}

func (s *Service) lookupExecution(ctx context.Context, execID string) (*store.Execution, error) {
	s.mu.Lock()
	if r, ok := s.active[execID]; ok {
		e := copyExec(r.exec)
		s.mu.Unlock()
		return e, nil
	}
	s.mu.Unlock()
	return s.st.Logs().Get(ctx, execID)
}

func copyExec(e *store.Execution) *store.Execution {
	c := *e
	return &c
}

// billedTo names who pays for a run: the user for personal keys and sessions, the
// workspace's billing owner for workspace and organization keys.
func (s *Service) billedTo(ctx context.Context, p *auth.Principal, wsID string) (string, error) {
	if p.UserID != "" && p.KeyType != store.KeyWorkspace && p.KeyType != store.KeyOrganization {
		return p.UserID, nil
	}
	// Every workspace write moves the auth epoch, so an owner read at the current epoch
	// is still the owner: no store read per run while nothing changed.
	epoch := s.st.AuthEpoch()
	if o, ok := s.owners.Load(wsID); ok && o.(billingOwner).epoch == epoch {
		return o.(billingOwner).userID, nil
	}
	ws, err := s.st.GetWorkspace(ctx, wsID)
	if err != nil {
		return "", fmt.Errorf("billing owner: %w", err)
	}
	s.owners.Store(wsID, billingOwner{epoch: epoch, userID: ws.OwnerID})
	return ws.OwnerID, nil
}

// billingOwner is a workspace's billing owner as read at an auth epoch.
type billingOwner struct {
	epoch  uint64
	userID string
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}

func anyMap(m map[string]any) any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func mapStoreErr(err error, notFoundMsg string) error {
	if errors.Is(err, store.ErrNotFound) {
		return newError(http.StatusNotFound, "not_found", "%s", notFoundMsg)
	}
	return err
}
