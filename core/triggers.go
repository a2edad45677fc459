package core

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// Schedule and webhook triggers fire the active deployed version of a workflow, as
// Sim's schedule executor and webhook route do (apps/sim/background/schedule-execution.ts,
// apps/sim/app/api/webhooks/trigger/[path]/route.ts). Both go through Execute as async
// jobs, so they count against the workspace's run limits, are logged with their
// trigger, and a queued job survives a restart like any other.
//
// Missed fires: each schedule's next fire time is stored. A fire that fell due while
// the server was down runs once at start (however many were missed), and the next one
// is computed from that moment — Sim's poller does the same (nextRunAt from now). A fire
// is claimed, moving the stored next time forward, in the transaction that records it,
// so a restart can neither repeat nor lose it. A fire refused by the workspace's run
// limits is skipped (its error is kept on the schedule), not retried.

// triggerIndex is derived from the active deployed versions and rebuilt whenever the
// store's workflow epoch moves (deploy, undeploy, rollback, delete).
type triggerIndex struct {
	mu    sync.Mutex
	built bool
	epoch uint64
	hooks map[string]*hookTarget // path → webhook
}

type hookTarget struct {
	WorkflowID, WorkspaceID, BlockID, BlockName string
	Version                                     uint32
	spec                                        *engine.WebhookSpec
}

// WebhookInfo is a webhook trigger as listed to operators; secrets are not shown.
type WebhookInfo struct {
	Path        string `json:"path"`
	WorkflowID  string `json:"workflowId"`
	WorkspaceID string `json:"workspaceId"`
	BlockID     string `json:"blockId"`
	BlockName   string `json:"blockName"`
	Version     uint32 `json:"version"`
	RequireAuth bool   `json:"requireAuth"`
	TokenHeader string `json:"tokenHeader,omitempty"` // "" = Authorization: Bearer
	HMACHeader  string `json:"hmacHeader,omitempty"`  // set when a signature is required
}

func (s *Service) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now().UTC()
	}
	return time.Now().UTC()
}

// refreshTriggers rebuilds the webhook index and the stored schedules from the active
// deployed versions if any workflow changed since the last build.
func (s *Service) refreshTriggers(ctx context.Context) error {
	epoch := s.st.WorkflowEpoch()
	s.trig.mu.Lock()
	fresh := s.trig.built && s.trig.epoch == epoch
	s.trig.mu.Unlock()
	if fresh {
		return nil
	}
	wfs, err := s.st.ListWorkflows(ctx, "")
	if err != nil {
		return fmt.Errorf("list workflows: %w", err)
	}
	now := s.now()
	var want []*store.Schedule
	hooks := map[string]*hookTarget{}
	for _, rec := range wfs {
		if !rec.IsDeployed() {
			continue
		}
		_, dep, err := s.st.ActiveDeployment(ctx, rec.ID)
		if err != nil || dep == nil {
			continue
		}
		w, err := engine.Import(dep.Definition)
		if err != nil {
			s.log.Warn("deployed workflow does not import", "workflow", rec.ID, "err", err)
			continue
		}
		for _, b := range engine.FireableTriggers(w) {
			switch b.Type {
			case engine.TypeSchedule:
				spec, err := engine.ParseSchedule(b)
				if err != nil {
					s.log.Warn("schedule not armed", "workflow", rec.ID, "block", b.ID, "err", err)
					continue
				}
				want = append(want, &store.Schedule{WorkflowID: rec.ID, BlockID: b.ID, WorkspaceID: rec.WorkspaceID,
					BlockName: b.Name, Version: dep.Version, Cron: spec.Cron, Timezone: spec.Timezone,
					NextRunAt: spec.Next(now), CreatedAt: now})
			case engine.TypeWebhook:
				spec := engine.ParseWebhook(b)
				if other, dup := hooks[spec.Path]; dup {
					s.log.Warn("webhook path already taken", "path", spec.Path, "workflow", rec.ID, "by", other.WorkflowID)
					continue
				}
				hooks[spec.Path] = &hookTarget{WorkflowID: rec.ID, WorkspaceID: rec.WorkspaceID, BlockID: b.ID,
					BlockName: b.Name, Version: dep.Version, spec: spec}
			}
		}
	}
	err = s.st.SyncSchedules(ctx, want, func(old, nw *store.Schedule) *store.Schedule {
		if old == nil || old.Cron != nw.Cron || old.Timezone != nw.Timezone {
			return nw // new, or new timing: the next fire counts from now
		}
		if old.Version == nw.Version && old.BlockName == nw.BlockName && old.WorkspaceID == nw.WorkspaceID {
			return nil
		}
		// Redeployed with the same timing: the schedule keeps its place.
		nw.NextRunAt, nw.LastRunAt, nw.CreatedAt = old.NextRunAt, old.LastRunAt, old.CreatedAt
		nw.LastExecutionID, nw.LastError = old.LastExecutionID, old.LastError
		return nw
	})
	if err != nil {
		return fmt.Errorf("sync schedules: %w", err)
	}
	s.trig.mu.Lock()
	s.trig.built, s.trig.epoch, s.trig.hooks = true, epoch, hooks
	s.trig.mu.Unlock()
	return nil
}

// RunDueSchedules fires every schedule whose time has come (by the service's clock)
// and returns the executions it queued. The scheduler loop calls it; tests call it
// with an injected clock.
func (s *Service) RunDueSchedules(ctx context.Context) ([]*store.Execution, error) {
	if err := s.refreshTriggers(ctx); err != nil {
		return nil, err
	}
	list, err := s.st.Schedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("read schedules: %w", err)
	}
	now := s.now()
	var out []*store.Execution
	var errs []error
	for _, sc := range list {
		if sc.NextRunAt.After(now) {
			continue
		}
		spec, err := engine.NewSchedule(sc.Cron, sc.Timezone)
		if err != nil {
			continue // refreshTriggers only stores schedules that parse
		}
		// The fire's run id is fixed by its block and due time, and the run is accepted
		// before the fire is claimed: replicas ticking together run it once (the second
		// gets the run id back as taken), and a replica that dies between the two leaves
		// the claim to the next tick, whose run is refused the same way. A fire is never
		// run twice, nor lost between its acceptance and its claim.
		runID := fireRunID(sc)
		run, err := s.Execute(ctx, auth.Operator(), RunRequest{WorkflowID: sc.WorkflowID, Trigger: store.TriggerSchedule,
			Async: true, TriggerBlockID: sc.BlockID, RunID: runID, Input: map[string]any{}})
		var execID, msg string
		switch {
		case err == nil:
			execID = run.Execution.ID
			out = append(out, run.Execution)
		case errors.Is(err, ErrRunIDConflict): // fired already
			if prev, gerr := s.st.Logs().GetByRunID(ctx, sc.WorkflowID, runID); gerr == nil {
				execID = prev.ID
			}
		case errors.Is(err, store.ErrUnavailable):
			errs = append(errs, err)
			continue // not claimed: the next tick tries again
		default:
			msg = err.Error()
			s.log.Warn("scheduled run refused", "workflow", sc.WorkflowID, "block", sc.BlockID, "err", err)
		}
		ok, err := s.st.ClaimSchedule(ctx, sc.WorkflowID, sc.BlockID, sc.NextRunAt, now, spec.Next(now))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue // another replica claimed it (and records it)
		}
		if err := s.st.RecordScheduleRun(ctx, sc.WorkflowID, sc.BlockID, execID, msg); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// fireRunID is the run id of schedule sc's fire due at sc.NextRunAt.
func fireRunID(sc *store.Schedule) string {
	h := sha256.Sum256([]byte(sc.BlockID))
	return fmt.Sprintf("schedule:%x:%d", h[:6], sc.NextRunAt.Unix())
}

// RunDue fires the due schedules and resumes the due async waits, once.
func (s *Service) RunDue(ctx context.Context) error {
	_, err := s.RunDueSchedules(ctx)
	if err != nil {
		err = fmt.Errorf("run schedules: %w", err)
	}
	if _, rerr := s.ResumeDue(ctx); rerr != nil {
		err = errors.Join(err, fmt.Errorf("resume due waits: %w", rerr))
	}
	return err
}

// RunScheduler runs RunDue every interval until ctx ends; its first tick (at start)
// takes what fell due while the server was down.
func (s *Service) RunScheduler(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Schedules lists the schedules of deployed workflows in wsID (all when empty) that p
// may read.
func (s *Service) Schedules(ctx context.Context, p *auth.Principal, wsID string) ([]*store.Schedule, error) {
	readable, err := s.readableWorkflows(ctx, p, wsID)
	if err != nil {
		return nil, err
	}
	if err := s.refreshTriggers(ctx); err != nil {
		return nil, err
	}
	all, err := s.st.Schedules(ctx)
	if err != nil {
		return nil, err
	}
	out := []*store.Schedule{}
	for _, sc := range all {
		if readable[sc.WorkflowID] {
			out = append(out, sc)
		}
	}
	return out, nil
}

// Webhooks lists the webhook triggers of deployed workflows in wsID (all when empty)
// that p may read, ordered by path.
func (s *Service) Webhooks(ctx context.Context, p *auth.Principal, wsID string) ([]WebhookInfo, error) {
	readable, err := s.readableWorkflows(ctx, p, wsID)
	if err != nil {
		return nil, err
	}
	if err := s.refreshTriggers(ctx); err != nil {
		return nil, err
	}
	s.trig.mu.Lock()
	defer s.trig.mu.Unlock()
	out := []WebhookInfo{}
	for path, h := range s.trig.hooks {
		if !readable[h.WorkflowID] {
			continue
		}
		wi := WebhookInfo{Path: path, WorkflowID: h.WorkflowID, WorkspaceID: h.WorkspaceID, BlockID: h.BlockID,
			BlockName: h.BlockName, Version: h.Version, RequireAuth: h.spec.RequireAuth, TokenHeader: h.spec.SecretHeader}
		if h.spec.HMACSecret != "" {
			wi.HMACHeader = h.spec.HMACHeader
		}
		out = append(out, wi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (s *Service) readableWorkflows(ctx context.Context, p *auth.Principal, wsID string) (map[string]bool, error) {
	wfs, err := s.workflowsAt(ctx, p, wsID, store.LevelRead)
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(wfs))
	for _, wf := range wfs {
		m[wf.ID] = true
	}
	return m, nil
}

// WebhookRequest is one delivery to /api/webhooks/trigger/{path}.
type WebhookRequest struct {
	Path   string
	Header http.Header
	Query  url.Values
	Body   []byte // already capped by the front door
}

var (
	errWebhookNotFound = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "Not Found"}
	errWebhookToken    = &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "Unauthorized - Invalid authentication token"}
	errWebhookSig      = &Error{Status: http.StatusUnauthorized, Code: "invalid_signature", Message: "Unauthorized - Invalid signature"}
)

var envRefPattern = regexp.MustCompile(`^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$`)

// DeliverWebhook checks a delivery against its webhook trigger (Sim's token auth:
// bearer or a custom header; then SteelEngine's optional HMAC-SHA256 of the body),
// binds the payload to the trigger block as Sim does (the JSON or form body, plus the
// query string under "query" when there is one), and queues a run of the active
// deployed version. Unknown paths answer 404 whether or not a workflow ever had them.
func (s *Service) DeliverWebhook(ctx context.Context, req WebhookRequest) (*store.Execution, error) {
	if err := s.refreshTriggers(ctx); err != nil {
		return nil, err
	}
	s.trig.mu.Lock()
	h := s.trig.hooks[strings.Trim(req.Path, "/")]
	s.trig.mu.Unlock()
	if h == nil {
		return nil, errWebhookNotFound
	}
	env, _, err := s.runEnv(ctx, h.WorkspaceID, "")
	if err != nil {
		return nil, err
	}
	secret := func(v string) string {
		if m := envRefPattern.FindStringSubmatch(v); m != nil {
			return env[m[1]] // an unset variable is "" and matches nothing
		}
		return v
	}
	if h.spec.RequireAuth {
		token := secret(h.spec.Token)
		var got string
		if h.spec.SecretHeader != "" {
			got = req.Header.Get(h.spec.SecretHeader)
		} else if a := req.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			got = a[7:]
		}
		if token == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			return nil, errWebhookToken
		}
	}
	if h.spec.HMACSecret != "" {
		key := secret(h.spec.HMACSecret)
		sig := strings.TrimSpace(req.Header.Get(h.spec.HMACHeader))
		sig = strings.TrimPrefix(sig, "sha256=")
		got, err := hex.DecodeString(sig)
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(req.Body)
		if key == "" || err != nil || !hmac.Equal(got, mac.Sum(nil)) {
			return nil, errWebhookSig
		}
	}
	input, err := webhookInput(req)
	if err != nil {
		return nil, err
	}
	run, err := s.Execute(ctx, auth.Operator(), RunRequest{WorkflowID: h.WorkflowID, Trigger: store.TriggerWebhook,
		Async: true, TriggerBlockID: h.BlockID, Input: input})
	if err != nil {
		return nil, err
	}
	return run.Execution, nil
}

// webhookInput is Sim's generic webhook payload (lib/webhooks/processor.ts
// parseWebhookBody, providers/generic.ts formatInput): a form body becomes an object of
// its fields, any other body is JSON (empty is {}); a body that is not an object has no
// fields to bind. The query string joins under "query" unless the body has that key.
func webhookInput(req WebhookRequest) (map[string]any, error) {
	input := map[string]any{}
	ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch {
	case len(strings.TrimSpace(string(req.Body))) == 0:
	case ct == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return nil, newError(http.StatusBadRequest, "invalid_body", "Invalid form body")
		}
		for k, v := range form {
			input[k] = v[0]
		}
	default:
		var body any
		if err := json.Unmarshal(req.Body, &body); err != nil {
			return nil, newError(http.StatusBadRequest, "invalid_json", "Invalid JSON payload")
		}
		if m, ok := body.(map[string]any); ok {
			input = m
		}
	}
	if len(req.Query) > 0 {
		if _, taken := input["query"]; !taken {
			q := make(map[string]any, len(req.Query))
			for k, v := range req.Query {
				q[k] = v[0]
			}
			input["query"] = q
		}
	}
	return input, nil
}

// checkWebhookPaths refuses a deploy whose webhook path another deployed workflow
// already serves (Sim: one webhook per path).
func (s *Service) checkWebhookPaths(ctx context.Context, wfID string, w *engine.Workflow) error {
	if len(engine.FireableTriggers(w)) == 0 {
		return nil
	}
	if err := s.refreshTriggers(ctx); err != nil {
		return err
	}
	s.trig.mu.Lock()
	defer s.trig.mu.Unlock()
	for _, b := range engine.FireableTriggers(w) {
		if b.Type != engine.TypeWebhook {
			continue
		}
		path := engine.ParseWebhook(b).Path
		if h := s.trig.hooks[path]; h != nil && h.WorkflowID != wfID {
			return newError(http.StatusConflict, "webhook_path_taken",
				"Webhook path %q of block %q is already in use; choose another path", path, b.Name)
		}
	}
	return nil
}
