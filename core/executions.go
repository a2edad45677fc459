package core

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// ExecutionState is a logged execution with the workflow it belongs to and the
// definition of the version that ran (the logs API's "workflow state" view).
type ExecutionState struct {
	Execution *store.Execution
	Workflow  *store.Workflow // nil when the workflow has been deleted
	// Definition is the definition that ran, secrets masked; nil when it is gone.
	Definition json.RawMessage
}

// GetExecutionState returns an execution p may read, its workflow and the definition
// of the version that ran. Any access failure reads as not found (as GetLog).
func (s *Service) GetExecutionState(ctx context.Context, p *auth.Principal, execID string) (*ExecutionState, error) {
	exec, err := s.GetLog(ctx, p, execID)
	if err != nil {
		return nil, err
	}
	out := &ExecutionState{Execution: exec}
	err = s.st.View(ctx, func(r store.Reader) error {
		wf, err := r.Workflow(exec.WorkflowID)
		if err != nil {
			return err
		}
		out.Workflow = wf
		def := wf.Draft
		if exec.Version > 0 {
			dep, err := r.Deployment(exec.WorkflowID, exec.Version)
			if err != nil {
				return err
			}
			def = dep.Definition
		}
		out.Definition = def
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if out.Definition != nil {
		var v any
		if json.Unmarshal(out.Definition, &v) == nil {
			_, secrets, _ := s.runEnv(ctx, exec.WorkspaceID, actingUser(p))
			out.Definition = mustJSON(engine.Redact(v, secrets))
		}
	}
	return out, nil
}

// WorkflowsByID returns the workflows among ids that p may read, by id; ids p cannot
// read or that no longer exist are left out (log listings show them as deleted).
func (s *Service) WorkflowsByID(ctx context.Context, p *auth.Principal, ids []string) map[string]*store.Workflow {
	out := make(map[string]*store.Workflow, len(ids))
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		wf, err := s.GetWorkflow(ctx, p, id)
		if err == nil {
			out[id] = wf
		}
	}
	return out
}
