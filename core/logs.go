package core

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// ListLogs returns the page of executions q selects, narrowed to what p may read: the
// whole workspace with read on it, otherwise only the workflows p can read in it (an
// organization key with a workflow grant sees that workflow's logs and no others).
func (s *Service) ListLogs(ctx context.Context, p *auth.Principal, q store.LogQuery) (store.LogPage, error) {
	wfIDs, err := s.readableScope(ctx, p, q.WorkspaceID, q.WorkflowIDs)
	if err != nil {
		return store.LogPage{}, err
	}
	if wfIDs != nil && len(wfIDs) == 0 {
		return store.LogPage{}, nil
	}
	q.WorkflowIDs = wfIDs
	page, err := s.st.Logs().List(ctx, q)
	if err != nil {
		return page, err
	}
	for i, e := range page.Items {
		page.Items[i] = currentTrace(e)
	}
	return page, nil
}

// currentTrace returns e with its trace in the current (Sim) shape: records written
// before SteelEngine used Sim's span names are mapped when read, never rewritten.
func currentTrace(e *store.Execution) *store.Execution {
	if e == nil || len(e.TraceSpans) == 0 {
		return e
	}
	up, changed := engine.UpgradeTraceSpans(e.TraceSpans)
	if !changed {
		return e
	}
	c := *e
	c.TraceSpans = up
	return &c
}

// Metrics returns per-bucket aggregates over the executions p may read.
func (s *Service) Metrics(ctx context.Context, p *auth.Principal, q store.MetricsQuery) ([]store.MetricsBucket, error) {
	wfIDs, err := s.readableScope(ctx, p, q.WorkspaceID, q.WorkflowIDs)
	if err != nil {
		return nil, err
	}
	if wfIDs != nil && len(wfIDs) == 0 {
		return nil, nil
	}
	q.WorkflowIDs = wfIDs
	return s.st.Logs().Metrics(ctx, q)
}

// GetLog returns one execution record p may read. Any access failure reads as not
// found, so ids outside the caller's scope leak nothing.
func (s *Service) GetLog(ctx context.Context, p *auth.Principal, execID string) (*store.Execution, error) {
	exec, err := s.GetExecution(ctx, p, "", execID)
	if err != nil {
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
			return nil, newError(http.StatusNotFound, "not_found", "Log not found")
		}
		return nil, err
	}
	return currentTrace(exec), nil
}

// readableScope returns nil when p may read the whole workspace and requested is
// empty; otherwise the workflow ids (from requested, or all of the workspace's) that p
// may read. A workflow outside p's reach in requested fails the call.
func (s *Service) readableScope(ctx context.Context, p *auth.Principal, wsID string, requested []string) ([]string, error) {
	if wsID == "" {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "workspaceId is required", Details: []map[string]string{{"field": "workspaceId", "message": "required"}}}
	}
	wsErr := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelRead)
	if wsErr == nil && len(requested) == 0 {
		return nil, nil
	}
	var ae *auth.Error
	if wsErr != nil && (!errors.As(wsErr, &ae) || ae.Status != http.StatusForbidden) {
		return nil, wsErr
	}
	candidates := requested
	if len(candidates) == 0 {
		wfs, err := s.st.ListWorkflows(ctx, wsID)
		if err != nil {
			return nil, err
		}
		for _, wf := range wfs {
			candidates = append(candidates, wf.ID)
		}
	}
	var out []string
	for _, id := range candidates {
		err := s.authorize(ctx, p, workflowTarget(id), store.LevelRead)
		if err == nil {
			out = append(out, id)
			continue
		}
		if len(requested) > 0 && wsErr != nil {
			return nil, err
		}
	}
	if len(out) == 0 && wsErr != nil {
		return nil, wsErr
	}
	if out == nil {
		out = []string{} // asked for workflows, none readable: nothing, not everything
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
