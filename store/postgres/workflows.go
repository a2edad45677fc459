package postgres

import (
	"context"
	"encoding/json"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) CreateWorkflow(ctx context.Context, wf *store.Workflow) error {
	return errTODO
}

func (s *Store) UpdateWorkflow(ctx context.Context, id string, fn func(wf *store.Workflow) error) (*store.Workflow, error) {
	return nil, errTODO
}

func (s *Store) Deploy(ctx context.Context, wfID string, definition json.RawMessage, by, note string) (*store.Deployment, error) {
	return nil, errTODO
}

func (s *Store) Undeploy(ctx context.Context, wfID string) (*store.Workflow, error) {
	return nil, errTODO
}

func (s *Store) ActivateVersion(ctx context.Context, wfID string, version uint32) (*store.Workflow, error) {
	return nil, errTODO
}

func (s *Store) DeleteWorkflow(ctx context.Context, wfID string) error {
	return errTODO
}

func (s *Store) GetWorkflow(ctx context.Context, id string) (wf *store.Workflow, err error) {
	return nil, errTODO
}

func (s *Store) ListWorkflows(ctx context.Context, wsID string) (wfs []*store.Workflow, err error) {
	return nil, errTODO
}

func (s *Store) GetDeployment(ctx context.Context, wfID string, version uint32) (dep *store.Deployment, err error) {
	return nil, errTODO
}

func (s *Store) ActiveDeployment(ctx context.Context, wfID string) (wf *store.Workflow, dep *store.Deployment, err error) {
	return nil, nil, errTODO
}

func (r *reader) Workflow(id string) (*store.Workflow, error) {
	return nil, errTODO
}

func (r *reader) Workflows() ([]*store.Workflow, error) {
	return nil, errTODO
}

func (r *reader) WorkspaceWorkflowIDs(wsID string) ([]string, error) {
	return nil, errTODO
}

func (r *reader) WorkspaceWorkflows(wsID string) ([]*store.Workflow, error) {
	return nil, errTODO
}

func (r *reader) Deployment(wfID string, version uint32) (*store.Deployment, error) {
	return nil, errTODO
}

func (r *reader) Deployments(wfID string) ([]*store.Deployment, error) {
	return nil, errTODO
}
