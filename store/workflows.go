package store

import (
	"context"
	"encoding/json"
	"strings"
)

// Workflows holds workflows, their drafts and numbered deployed versions.
type Workflows interface {
	// CreateWorkflow stores a new workflow draft in its workspace.
	CreateWorkflow(ctx context.Context, wf *Workflow) error

	// UpdateWorkflow applies fn to the stored workflow (draft, name, description) and saves
	// it. Deployment fields are owned by Deploy, Undeploy and ActivateVersion.
	UpdateWorkflow(ctx context.Context, id string, fn func(wf *Workflow) error) (*Workflow, error)

	// Deploy stores definition as the workflow's next immutable version and makes it active.
	Deploy(ctx context.Context, wfID string, definition json.RawMessage, by, note string) (*Deployment, error)

	// Undeploy deactivates the workflow; its versions stay stored.
	Undeploy(ctx context.Context, wfID string) (*Workflow, error)

	// ActivateVersion makes an existing deployed version the active one.
	ActivateVersion(ctx context.Context, wfID string, version uint32) (*Workflow, error)

	// DeleteWorkflow removes a workflow, its versions, and every grant that targets it.
	DeleteWorkflow(ctx context.Context, wfID string) error

	// GetWorkflow returns the workflow with id.
	GetWorkflow(ctx context.Context, id string) (wf *Workflow, err error)

	// ListWorkflows lists the workflows of wsID, or all workflows when wsID is empty.
	ListWorkflows(ctx context.Context, wsID string) (wfs []*Workflow, err error)

	// GetDeployment returns one deployed version of a workflow.
	GetDeployment(ctx context.Context, wfID string, version uint32) (dep *Deployment, err error)

	// ActiveDeployment returns the workflow and its active deployed version in one read.
	ActiveDeployment(ctx context.Context, wfID string) (wf *Workflow, dep *Deployment, err error)
}

// CheckName trims the workflow's name, which is required.
func (wf *Workflow) CheckName() error {
	wf.Name = strings.TrimSpace(wf.Name)
	if wf.Name == "" {
		return invalidf("workflow name is required")
	}
	return nil
}

// CheckUpdate checks wf, edited by UpdateWorkflow's caller from was: identity, workspace
// and creation time stay, deployment fields are Deploy's, Undeploy's and
// ActivateVersion's, and the name is required.
func (wf *Workflow) CheckUpdate(was *Workflow) error {
	wf.ID, wf.WorkspaceID, wf.CreatedAt = was.ID, was.WorkspaceID, was.CreatedAt
	wf.ActiveVersion, wf.LatestVersion, wf.DeployedAt = was.ActiveVersion, was.LatestVersion, was.DeployedAt
	return wf.CheckName()
}
