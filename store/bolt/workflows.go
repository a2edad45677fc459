package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/steelengine/steelengine/store"
)

// CreateWorkflow stores a new workflow draft in its workspace.
func (s *Store) CreateWorkflow(ctx context.Context, wf *store.Workflow) error {
	if err := wf.CheckName(); err != nil {
		return err
	}
	if wf.ID == "" {
		wf.ID = store.NewID()
	}
	t := now()
	if wf.CreatedAt.IsZero() {
		wf.CreatedAt = t
	}
	wf.UpdatedAt = t
	return s.update(ctx, func(w *writer) error {
		if _, err := w.Workspace(wf.WorkspaceID); err != nil {
			return err
		}
		if w.tx.Bucket(bWorkflows).Get([]byte(wf.ID)) != nil {
			return fmt.Errorf("workflow %q: %w", wf.ID, store.ErrConflict)
		}
		if err := w.tx.Bucket(bWfByWs).Put(ckey(wf.WorkspaceID, wf.ID), nil); err != nil {
			return err
		}
		// A new workflow id changes which targets resolve to which workspace.
		if err := w.bumpAuth(); err != nil {
			return err
		}
		w.bumpWorkflows()
		return putJSON(w.tx.Bucket(bWorkflows), []byte(wf.ID), wf)
	})
}

// UpdateWorkflow applies fn to the stored workflow (draft, name, description) and saves
// it. Deployment fields are owned by Deploy, Undeploy and ActivateVersion.
func (s *Store) UpdateWorkflow(ctx context.Context, id string, fn func(wf *store.Workflow) error) (*store.Workflow, error) {
	var out *store.Workflow
	err := s.update(ctx, func(w *writer) error {
		wf, err := w.Workflow(id)
		if err != nil {
			return err
		}
		keep := *wf
		if err := fn(wf); err != nil {
			return err
		}
		if err := wf.CheckUpdate(&keep); err != nil {
			return err
		}
		wf.UpdatedAt = now()
		w.bumpWorkflows()
		out = wf
		return putJSON(w.tx.Bucket(bWorkflows), []byte(id), wf)
	})
	return out, err
}

// Deploy stores definition as the workflow's next immutable version and makes it active.
func (s *Store) Deploy(ctx context.Context, wfID string, definition json.RawMessage, by, note string) (*store.Deployment, error) {
	var dep *store.Deployment
	err := s.update(ctx, func(w *writer) error {
		wf, err := w.Workflow(wfID)
		if err != nil {
			return err
		}
		t := now()
		wf.LatestVersion++
		dep = &store.Deployment{WorkflowID: wfID, Version: wf.LatestVersion, Definition: definition, CreatedAt: t, CreatedBy: by, Note: note}
		if err := putJSON(w.tx.Bucket(bDeployments), depKey(wfID, dep.Version), dep); err != nil {
			return err
		}
		wf.ActiveVersion = dep.Version
		wf.DeployedAt = &t
		w.bumpWorkflows()
		return putJSON(w.tx.Bucket(bWorkflows), []byte(wfID), wf)
	})
	return dep, err
}

// Undeploy deactivates the workflow; its versions stay stored.
func (s *Store) Undeploy(ctx context.Context, wfID string) (*store.Workflow, error) {
	var out *store.Workflow
	err := s.update(ctx, func(w *writer) error {
		wf, err := w.Workflow(wfID)
		if err != nil {
			return err
		}
		wf.ActiveVersion = 0
		wf.DeployedAt = nil
		w.bumpWorkflows()
		out = wf
		return putJSON(w.tx.Bucket(bWorkflows), []byte(wfID), wf)
	})
	return out, err
}

// ActivateVersion makes an existing deployed version the active one.
func (s *Store) ActivateVersion(ctx context.Context, wfID string, version uint32) (*store.Workflow, error) {
	var out *store.Workflow
	err := s.update(ctx, func(w *writer) error {
		wf, err := w.Workflow(wfID)
		if err != nil {
			return err
		}
		if _, err := w.Deployment(wfID, version); err != nil {
			return err
		}
		t := now()
		wf.ActiveVersion = version
		wf.DeployedAt = &t
		w.bumpWorkflows()
		out = wf
		return putJSON(w.tx.Bucket(bWorkflows), []byte(wfID), wf)
	})
	return out, err
}

// DeleteWorkflow removes a workflow, its versions, and every grant that targets it.
func (s *Store) DeleteWorkflow(ctx context.Context, wfID string) error {
	return s.update(ctx, func(w *writer) error {
		wf, err := w.Workflow(wfID)
		if err != nil {
			return err
		}
		deps := w.tx.Bucket(bDeployments)
		for v := uint32(1); v <= wf.LatestVersion; v++ {
			if err := deps.Delete(depKey(wfID, v)); err != nil {
				return err
			}
		}
		if err := w.deleteGrantsTargeting(wfID); err != nil {
			return err
		}
		if err := w.tx.Bucket(bWfByWs).Delete(ckey(wf.WorkspaceID, wfID)); err != nil {
			return err
		}
		if err := w.bumpAuth(); err != nil {
			return err
		}
		w.bumpWorkflows()
		return w.tx.Bucket(bWorkflows).Delete([]byte(wfID))
	})
}

func depKey(wfID string, v uint32) []byte {
	k := append([]byte(wfID), sep, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(k[len(k)-4:], v)
	return k
}

// Workflow returns the workflow with id.
func (r *Reader) Workflow(id string) (*store.Workflow, error) {
	wf, err := getJSON[store.Workflow](r.tx.Bucket(bWorkflows), []byte(id))
	if err != nil {
		return nil, fmt.Errorf("workflow %q: %w", id, err)
	}
	return wf, nil
}

// Workflows lists every workflow.
func (r *Reader) Workflows() ([]*store.Workflow, error) {
	return listAll[store.Workflow](r.tx.Bucket(bWorkflows))
}

// WorkspaceWorkflowIDs lists the ids of the workflows in wsID.
func (r *Reader) WorkspaceWorkflowIDs(wsID string) ([]string, error) {
	return idsUnder(r.tx.Bucket(bWfByWs), wsID)
}

// WorkspaceWorkflows lists the workflows in wsID.
func (r *Reader) WorkspaceWorkflows(wsID string) ([]*store.Workflow, error) {
	ids, err := r.WorkspaceWorkflowIDs(wsID)
	if err != nil {
		return nil, err
	}
	out := make([]*store.Workflow, 0, len(ids))
	for _, id := range ids {
		wf, err := r.Workflow(id)
		if err != nil {
			return nil, err
		}
		out = append(out, wf)
	}
	return out, nil
}

// Deployment returns one deployed version of a workflow.
func (r *Reader) Deployment(wfID string, version uint32) (*store.Deployment, error) {
	d, err := getJSON[store.Deployment](r.tx.Bucket(bDeployments), depKey(wfID, version))
	if err != nil {
		return nil, fmt.Errorf("workflow %q version %d: %w", wfID, version, err)
	}
	return d, nil
}

// Deployments lists every stored version of a workflow, oldest first.
func (r *Reader) Deployments(wfID string) ([]*store.Deployment, error) {
	var out []*store.Deployment
	err := scanPrefix(r.tx.Bucket(bDeployments), wfID, func(_, v []byte) error {
		d := new(store.Deployment)
		if err := json.Unmarshal(v, d); err != nil {
			return fmt.Errorf("decode deployment of %s: %w", wfID, err)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// GetWorkflow returns the workflow with id.
func (s *Store) GetWorkflow(ctx context.Context, id string) (wf *store.Workflow, err error) {
	err = s.view(ctx, func(r *Reader) error { wf, err = r.Workflow(id); return err })
	return wf, err
}

// ListWorkflows lists the workflows of wsID, or all workflows when wsID is empty.
func (s *Store) ListWorkflows(ctx context.Context, wsID string) (wfs []*store.Workflow, err error) {
	err = s.view(ctx, func(r *Reader) error {
		if wsID == "" {
			wfs, err = r.Workflows()
		} else {
			wfs, err = r.WorkspaceWorkflows(wsID)
		}
		return err
	})
	return wfs, err
}

// GetDeployment returns one deployed version of a workflow.
func (s *Store) GetDeployment(ctx context.Context, wfID string, version uint32) (dep *store.Deployment, err error) {
	err = s.view(ctx, func(r *Reader) error { dep, err = r.Deployment(wfID, version); return err })
	return dep, err
}

// ActiveDeployment returns the workflow and its active deployed version in one read.
func (s *Store) ActiveDeployment(ctx context.Context, wfID string) (wf *store.Workflow, dep *store.Deployment, err error) {
	err = s.view(ctx, func(r *Reader) error {
		if wf, err = r.Workflow(wfID); err != nil {
			return err
		}
		if wf.ActiveVersion == 0 {
			return nil
		}
		dep, err = r.Deployment(wfID, wf.ActiveVersion)
		return err
	})
	return wf, dep, err
}
