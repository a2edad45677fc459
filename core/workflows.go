package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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

// DeployRequest says what a deploy activates.
type DeployRequest struct {
	// Version 0 deploys the current draft as the next numbered version; N re-activates
	// the stored version N (a rollback) without storing anything new.
	Version uint32
	// Note is kept with a new version (who/when/why), up to MaxDeployNote bytes.
	Note string
}

// MaxDeployNote caps a deploy note.
const MaxDeployNote = 1000

// DeployResult is the version a deploy made active, and what the operator should know
// about it.
type DeployResult struct {
	Deployment *store.Deployment
	// Rollback is set when an existing version was re-activated.
	Rollback bool
	// Warnings name {{NAME}} references the workspace has no variable for: runs of this
	// version fail at those blocks unless the running user has a personal variable.
	Warnings []string
}

// Deploy activates a version of a workflow; the caller needs admin on it. Without a
// version it snapshots the draft as the next immutable numbered version (blocks
// SteelEngine cannot run refuse the deploy, listed); with one it re-activates that
// stored version. Versions store their definition once; runs reference them by number.
func (s *Service) Deploy(ctx context.Context, p *auth.Principal, wfID string, req DeployRequest) (*DeployResult, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelAdmin); err != nil {
		return nil, err
	}
	if len(req.Note) > MaxDeployNote {
		return nil, newError(http.StatusBadRequest, "invalid_request", "Deploy note is longer than %d bytes", MaxDeployNote)
	}
	rec, err := s.st.GetWorkflow(ctx, wfID)
	if err != nil {
		return nil, mapStoreErr(err, "Workflow not found")
	}
	if req.Version > 0 {
		if req.Note != "" {
			return nil, newError(http.StatusBadRequest, "invalid_request", "A note belongs to a new version; re-activating version %d keeps its own", req.Version)
		}
		if _, err := s.st.ActivateVersion(ctx, wfID, req.Version); err != nil {
			return nil, mapStoreErr(err, fmt.Sprintf("Workflow version %d not found", req.Version))
		}
		dep, err := s.st.GetDeployment(ctx, wfID, req.Version)
		if err != nil {
			return nil, mapStoreErr(err, "Workflow version not found")
		}
		old, err := engine.Import(dep.Definition)
		if err != nil {
			return nil, fmt.Errorf("read version %d: %w", req.Version, err)
		}
		plans, err := engine.CheckDeployable(old)
		if err != nil {
			return nil, fmt.Errorf("compile version %d: %w", req.Version, err)
		}
		warn, err := s.envWarnings(ctx, rec.WorkspaceID, plans)
		return &DeployResult{Deployment: dep, Rollback: true, Warnings: warn}, err
	}
	wf, err := engine.Import(rec.Draft)
	if err != nil {
		return nil, err
	}
	if bad := engine.Unsupported(wf); len(bad) > 0 {
		return nil, unsupportedError(bad)
	}
	plans, err := engine.CheckDeployable(wf)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_workflow", Message: err.Error()}
	}
	if err := s.checkWebhookPaths(ctx, wfID, wf); err != nil {
		return nil, err
	}
	dep, err := s.st.Deploy(ctx, wfID, rec.Draft, p.ActorID(), req.Note)
	if err != nil {
		return nil, mapStoreErr(err, "Workflow not found")
	}
	warn, err := s.envWarnings(ctx, rec.WorkspaceID, plans)
	return &DeployResult{Deployment: dep, Warnings: warn}, err
}

// envWarnings lists the plan's {{NAME}} references that wsID has no variable for.
func (s *Service) envWarnings(ctx context.Context, wsID string, plans []*engine.Plan) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	for _, plan := range plans {
		for _, n := range plan.EnvNames() {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	vars, err := s.st.EnvVars(ctx, wsID)
	if err != nil {
		return nil, fmt.Errorf("read environment: %w", err)
	}
	set := make(map[string]bool, len(vars))
	for _, v := range vars {
		set[v.Name] = true
	}
	var out []string
	for _, n := range names {
		if !set[n] {
			out = append(out, fmt.Sprintf("environment variable %q is referenced but not set in this workspace: runs fail at the blocks that use it unless the running user has a personal %s", n, n))
		}
	}
	return out, nil
}

// unsupportedError lists each block that keeps a workflow from deploying, by name and
// type, in the message as well as in details, so a CLI user sees them without --json.
func unsupportedError(bad []engine.BlockProblem) *Error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Workflow contains %d block(s) SteelEngine cannot run:", len(bad))
	for _, p := range bad {
		fmt.Fprintf(&sb, "\n  - %q (%s): %s", p.BlockName, p.BlockType, p.Message)
		if p.Hint != "" {
			sb.WriteString("; hint: " + p.Hint)
		}
	}
	return &Error{Status: http.StatusBadRequest, Code: "unsupported_blocks", Message: sb.String(), Details: bad}
}

// Undeploy deactivates a workflow; the caller needs admin on it.
func (s *Service) Undeploy(ctx context.Context, p *auth.Principal, wfID string) (*store.Workflow, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelAdmin); err != nil {
		return nil, err
	}
	wf, err := s.st.Undeploy(ctx, wfID)
	return wf, mapStoreErr(err, "Workflow not found")
}

// Version describes one deployed version without its definition.
type Version struct {
	Version   uint32    `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
	Note      string    `json:"note,omitempty"`
	Active    bool      `json:"active"`
}

// Versions lists a workflow's deployed versions, oldest first; read on the workflow.
func (s *Service) Versions(ctx context.Context, p *auth.Principal, wfID string) (*store.Workflow, []Version, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelRead); err != nil {
		return nil, nil, err
	}
	var wf *store.Workflow
	var deps []*store.Deployment
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		if wf, err = r.Workflow(wfID); err != nil {
			return err
		}
		deps, err = r.Deployments(wfID)
		return err
	})
	if err != nil {
		return nil, nil, mapStoreErr(err, "Workflow not found")
	}
	out := make([]Version, len(deps))
	for i, d := range deps {
		out[i] = Version{Version: d.Version, CreatedAt: d.CreatedAt, CreatedBy: d.CreatedBy, Note: d.Note, Active: d.Version == wf.ActiveVersion}
	}
	return wf, out, nil
}

// UpdateWorkflow replaces a workflow's draft with a Sim-format file, in place: the id,
// the keys narrowed to it, the grants on it, its MCP server memberships and its deployed
// versions stay; the name and description follow the file when it has them. Admin on
// the workflow. Runs keep using the active version until the next deploy.
func (s *Service) UpdateWorkflow(ctx context.Context, p *auth.Principal, wfID string, data []byte) (*store.Workflow, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelAdmin); err != nil {
		return nil, err
	}
	wf, err := engine.Import(data)
	if err != nil {
		return nil, err
	}
	// Stored as given (Export would store the redacted form and break the workflow).
	draft, err := engine.Normalize(wf)
	if err != nil {
		return nil, fmt.Errorf("normalise workflow: %w", err)
	}
	rec, err := s.st.UpdateWorkflow(ctx, wfID, func(rec *store.Workflow) error {
		rec.Draft = draft
		if n := wf.Name(); n != "" {
			rec.Name = n
		}
		if d := wf.Description(); d != "" {
			rec.Description = d
		}
		return nil
	})
	return rec, mapStoreErr(err, "Workflow not found")
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

// ExportWorkflow returns the workflow's draft (version 0) or deployed version N in
// Sim's export format; read on the workflow. Environment values are never part of a
// definition: {{NAME}} references are exported as written.
func (s *Service) ExportWorkflow(ctx context.Context, p *auth.Principal, wfID string, version uint32) ([]byte, error) {
	rec, err := s.GetWorkflow(ctx, p, wfID)
	if err != nil {
		return nil, err
	}
	def := rec.Draft
	if version > 0 {
		dep, err := s.st.GetDeployment(ctx, wfID, version)
		if err != nil {
			return nil, mapStoreErr(err, fmt.Sprintf("Workflow version %d not found", version))
		}
		def = dep.Definition
	}
	wf, err := engine.Import(def)
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
		_, dep, err := s.activeDeployment(ctx, wf.ID)
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
