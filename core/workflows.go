package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// ImportWorkflow validates a Sim-format file and stores it as a new draft in wsID; the
// caller needs admin on the workspace. Validation problems come back together in an
// *engine.ValidationError.
func (s *Service) ImportWorkflow(ctx context.Context, p *auth.Principal, wsID string, data []byte) (*store.Workflow, error) {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelAdmin); err != nil {
		return nil, err
	}
	wf, err := engine.Import(data)
	if err != nil {
		return nil, err
	}
	draft, err := engine.Normalize(wf)
	if err != nil {
		return nil, fmt.Errorf("normalise workflow: %w", err)
	}
	name := wf.Name()
	if name == "" {
		name = "Imported workflow"
	}
	rec := &store.Workflow{WorkspaceID: wsID, Name: name, Description: wf.Description(), Draft: draft}
	if err := s.st.CreateWorkflow(ctx, rec); err != nil {
		return nil, mapStoreErr(err, "Workspace not found")
	}
	return rec, nil
}

// Deploy snapshots the draft as the next immutable version and activates it; the caller
// needs admin on the workflow. Blocks SteelEngine cannot run refuse the deploy, listed.
func (s *Service) Deploy(ctx context.Context, p *auth.Principal, wfID string) (*store.Deployment, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelAdmin); err != nil {
		return nil, err
	}
	rec, err := s.st.GetWorkflow(ctx, wfID)
	if err != nil {
		return nil, mapStoreErr(err, "Workflow not found")
	}
	wf, err := engine.Import(rec.Draft)
	if err != nil {
		return nil, err
	}
	if bad := engine.Unsupported(wf); len(bad) > 0 {
		return nil, &Error{Status: http.StatusBadRequest, Code: "unsupported_blocks",
			Message: fmt.Sprintf("Workflow contains %d block(s) SteelEngine cannot run", len(bad)), Details: bad}
	}
	if _, err := engine.Compile(wf, engine.CompileOptions{}); err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_workflow", Message: err.Error()}
	}
	by := p.UserID
	if by == "" {
		by = p.KeyID
	}
	return s.st.Deploy(ctx, wfID, rec.Draft, by)
}

// Undeploy deactivates a workflow; the caller needs admin on it.
func (s *Service) Undeploy(ctx context.Context, p *auth.Principal, wfID string) (*store.Workflow, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelAdmin); err != nil {
		return nil, err
	}
	wf, err := s.st.Undeploy(ctx, wfID)
	return wf, mapStoreErr(err, "Workflow not found")
}

// ActivateVersion makes an older deployed version active again; admin on the workflow.
func (s *Service) ActivateVersion(ctx context.Context, p *auth.Principal, wfID string, version uint32) (*store.Workflow, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelAdmin); err != nil {
		return nil, err
	}
	wf, err := s.st.ActivateVersion(ctx, wfID, version)
	return wf, mapStoreErr(err, "Workflow version not found")
}

// DeleteWorkflow removes a workflow; admin on it.
func (s *Service) DeleteWorkflow(ctx context.Context, p *auth.Principal, wfID string) error {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelAdmin); err != nil {
		return err
	}
	return mapStoreErr(s.st.DeleteWorkflow(ctx, wfID), "Workflow not found")
}

// GetWorkflow returns a workflow p may read.
func (s *Service) GetWorkflow(ctx context.Context, p *auth.Principal, wfID string) (*store.Workflow, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelRead); err != nil {
		return nil, err
	}
	wf, err := s.st.GetWorkflow(ctx, wfID)
	return wf, mapStoreErr(err, "Workflow not found")
}

// ExportWorkflow returns the workflow's draft in Sim's export format; secrets are
// never exported.
func (s *Service) ExportWorkflow(ctx context.Context, p *auth.Principal, wfID string) ([]byte, error) {
	rec, err := s.GetWorkflow(ctx, p, wfID)
	if err != nil {
		return nil, err
	}
	wf, err := engine.Import(rec.Draft)
	if err != nil {
		return nil, err
	}
	wf.Info = &engine.WorkflowInfo{ID: rec.ID, Name: rec.Name, Description: rec.Description, WorkspaceID: rec.WorkspaceID}
	return engine.Export(wf)
}

// Status reports whether a workflow is deployed and whether its draft differs
// semantically from the active version (layout-only changes do not count).
func (s *Service) Status(ctx context.Context, p *auth.Principal, wfID string) (*store.Workflow, bool, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelRead); err != nil {
		return nil, false, err
	}
	wf, dep, err := s.st.ActiveDeployment(ctx, wfID)
	if err != nil {
		return nil, false, mapStoreErr(err, "Workflow not found")
	}
	if dep == nil {
		return wf, false, nil
	}
	return wf, s.needsRedeployment(wf, dep), nil
}

func (s *Service) needsRedeployment(wf *store.Workflow, dep *store.Deployment) bool {
	draft, err1 := engine.Import(wf.Draft)
	active, err2 := engine.Import(dep.Definition)
	if err1 != nil || err2 != nil {
		return true
	}
	return !engine.SemanticEqual(draft, active)
}

// ListWorkflows returns the workflows of wsID (all workspaces when empty) that p can
// read at least.
func (s *Service) ListWorkflows(ctx context.Context, p *auth.Principal, wsID string) ([]*store.Workflow, error) {
	return s.workflowsAt(ctx, p, wsID, store.LevelRead)
}

func (s *Service) workflowsAt(ctx context.Context, p *auth.Principal, wsID string, need store.Level) ([]*store.Workflow, error) {
	if wsID != "" {
		if _, err := s.st.GetWorkspace(ctx, wsID); err != nil {
			return nil, mapStoreErr(err, "Workspace not found")
		}
	}
	all, err := s.st.ListWorkflows(ctx, wsID)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, wf := range all {
		err := s.authorize(ctx, p, workflowTarget(wf.ID), need)
		var ae *auth.Error
		switch {
		case err == nil:
			out = append(out, wf)
		case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		default:
			return nil, err
		}
	}
	return out, nil
}

// Tool is a deployed workflow as a front door presents it (MCP tools, run forms).
type Tool struct {
	Workflow *store.Workflow
	Inputs   []engine.InputField
	Outbound bool // makes outbound calls (MCP open-world hint)
}

// ExecutableWorkflows returns the deployed workflows p may execute (write), in wsID or
// everywhere when wsID is empty, optionally limited to ids.
func (s *Service) ExecutableWorkflows(ctx context.Context, p *auth.Principal, wsID string, ids []string) ([]Tool, error) {
	wfs, err := s.workflowsAt(ctx, p, wsID, store.LevelWrite)
	if err != nil {
		return nil, err
	}
	var allow map[string]bool
	if ids != nil {
		allow = make(map[string]bool, len(ids))
		for _, id := range ids {
			allow[id] = true
		}
	}
	var out []Tool
	for _, wf := range wfs {
		if !wf.IsDeployed() || (allow != nil && !allow[wf.ID]) {
			continue
		}
		_, dep, err := s.st.ActiveDeployment(ctx, wf.ID)
		if err != nil || dep == nil {
			continue // undeployed since the list was read
		}
		comp, err := s.plan.get(dep)
		if err != nil {
			s.log.Warn("deployed workflow does not compile", "workflow", wf.ID, "err", err)
			continue
		}
		out = append(out, Tool{Workflow: wf, Inputs: comp.inputs, Outbound: comp.outbound})
	}
	return out, nil
}
