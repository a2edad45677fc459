package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

// storedJSON is raw as bbolt gives it back after storing it inside a JSON record:
// compacted, with HTML characters escaped, and "null" for nothing. Keeping the same bytes
// lets callers (and the conformance suite) compare definitions byte for byte on either
// backend.
func storedJSON(raw json.RawMessage) (json.RawMessage, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// lockWorkspaceKey checks that workspace wsID exists and keeps it from being deleted (or
// its id changed) until tx ends; ErrNotFound when there is none.
func lockWorkspaceKey(ctx context.Context, tx dbtx, wsID string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR KEY SHARE`, wsID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("workspace", wsID)
	}
	if err != nil {
		return fmt.Errorf("postgres: read workspace %q: %w", wsID, err)
	}
	return nil
}

const workflowCols = `id, workspace_id, name, description, draft, active_version, latest_version, deployed_at, created_at, updated_at`

func scanWorkflow(row pgx.Row) (*store.Workflow, error) {
	wf := new(store.Workflow)
	var draft []byte
	err := row.Scan(&wf.ID, &wf.WorkspaceID, &wf.Name, &wf.Description, &draft, &wf.ActiveVersion, &wf.LatestVersion,
		&wf.DeployedAt, &wf.CreatedAt, &wf.UpdatedAt)
	if err != nil {
		return nil, err
	}
	wf.Draft = draft
	wf.DeployedAt = utcPtr(wf.DeployedAt)
	wf.CreatedAt, wf.UpdatedAt = wf.CreatedAt.UTC(), wf.UpdatedAt.UTC()
	return wf, nil
}

func getWorkflow(ctx context.Context, q dbtx, id string, lock bool) (*store.Workflow, error) {
	sql := `SELECT ` + workflowCols + ` FROM workflows WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	wf, err := scanWorkflow(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("workflow %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get workflow %q: %w", id, err)
	}
	return wf, nil
}

// listWorkflows lists the workflows of wsID (all when empty) in id order, the order of
// bbolt's keys. Like bbolt, the whole list is nil when there are none and a workspace's
// list is empty but not nil.
func listWorkflows(ctx context.Context, q dbtx, wsID string) ([]*store.Workflow, error) {
	var out []*store.Workflow
	var rows pgx.Rows
	var err error
	if wsID == "" {
		rows, err = q.Query(ctx, `SELECT `+workflowCols+` FROM workflows ORDER BY id COLLATE "C"`)
	} else {
		out = []*store.Workflow{}
		rows, err = q.Query(ctx, `SELECT `+workflowCols+` FROM workflows WHERE workspace_id = $1 ORDER BY id COLLATE "C"`, wsID)
	}
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		wf, err := scanWorkflow(rows)
		if err != nil {
			return nil, fmt.Errorf("list workflows: %w", err)
		}
		out = append(out, wf)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	return out, nil
}

const deploymentCols = `workflow_id, version, definition, created_at, created_by, note`

func scanDeployment(row pgx.Row) (*store.Deployment, error) {
	d := new(store.Deployment)
	var def []byte
	if err := row.Scan(&d.WorkflowID, &d.Version, &def, &d.CreatedAt, &d.CreatedBy, &d.Note); err != nil {
		return nil, err
	}
	d.Definition = def
	d.CreatedAt = d.CreatedAt.UTC()
	return d, nil
}

func getDeployment(ctx context.Context, q dbtx, wfID string, version uint32) (*store.Deployment, error) {
	d, err := scanDeployment(q.QueryRow(ctx, `SELECT `+deploymentCols+` FROM deployments WHERE workflow_id = $1 AND version = $2`, wfID, version))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("workflow %q version %d: %w", wfID, version, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get workflow %q version %d: %w", wfID, version, err)
	}
	return d, nil
}

// CreateWorkflow stores a new workflow draft in its workspace.
func (s *Store) CreateWorkflow(ctx context.Context, wf *store.Workflow) error {
	if err := wf.CheckName(); err != nil {
		return err
	}
	if wf.ID == "" {
		wf.ID = store.NewID()
	}
	t := pgTime(time.Now().UTC())
	if wf.CreatedAt.IsZero() {
		wf.CreatedAt = t
	}
	wf.CreatedAt, wf.UpdatedAt = pgTime(wf.CreatedAt), t
	draft, err := storedJSON(wf.Draft)
	if err != nil {
		return fmt.Errorf("encode workflow draft: %w", err)
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if err := lockWorkspaceKey(ctx, tx, wf.WorkspaceID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO workflows (id, workspace_id, name, description, draft, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
			wf.ID, wf.WorkspaceID, wf.Name, wf.Description, []byte(draft), wf.CreatedAt, wf.UpdatedAt)
		if err != nil {
			return fmt.Errorf("create workflow: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("workflow %q: %w", wf.ID, store.ErrConflict)
		}
		// A new workflow id changes which targets resolve to which workspace.
		if err := BumpEpoch(ctx, tx, EpochAuth); err != nil {
			return err
		}
		return BumpEpoch(ctx, tx, EpochWorkflows)
	})
}

// UpdateWorkflow applies fn to the stored workflow (draft, name, description) and saves
// it. Deployment fields are owned by Deploy, Undeploy and ActivateVersion.
func (s *Store) UpdateWorkflow(ctx context.Context, id string, fn func(wf *store.Workflow) error) (*store.Workflow, error) {
	var out *store.Workflow
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		wf, err := getWorkflow(ctx, tx, id, true)
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
		if wf.Draft, err = storedJSON(wf.Draft); err != nil {
			return fmt.Errorf("encode workflow draft: %w", err)
		}
		wf.UpdatedAt = pgTime(time.Now().UTC())
		_, err = tx.Exec(ctx, `UPDATE workflows SET name = $2, description = $3, draft = $4, updated_at = $5 WHERE id = $1`,
			id, wf.Name, wf.Description, []byte(wf.Draft), wf.UpdatedAt)
		if err != nil {
			return fmt.Errorf("update workflow %q: %w", id, err)
		}
		out = wf
		return BumpEpoch(ctx, tx, EpochWorkflows)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Deploy stores definition as the workflow's next immutable version and makes it active.
// The row lock the UPDATE takes orders concurrent deploys: each gets its own number.
func (s *Store) Deploy(ctx context.Context, wfID string, definition json.RawMessage, by, note string) (*store.Deployment, error) {
	def, err := storedJSON(definition)
	if err != nil {
		return nil, fmt.Errorf("encode deployment of %q: %w", wfID, err)
	}
	var dep *store.Deployment
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		t := pgTime(time.Now().UTC())
		var v uint32
		err := tx.QueryRow(ctx, `UPDATE workflows
			SET latest_version = latest_version + 1, active_version = latest_version + 1, deployed_at = $2
			WHERE id = $1 RETURNING latest_version`, wfID, t).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("workflow %q: %w", wfID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("deploy workflow %q: %w", wfID, err)
		}
		dep = &store.Deployment{WorkflowID: wfID, Version: v, Definition: def, CreatedAt: t, CreatedBy: by, Note: note}
		_, err = tx.Exec(ctx, `INSERT INTO deployments (`+deploymentCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			wfID, v, []byte(def), t, by, note)
		if isUnique(err) {
			return fmt.Errorf("workflow %q version %d already stored: %w", wfID, v, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("deploy workflow %q: %w", wfID, err)
		}
		return BumpEpoch(ctx, tx, EpochWorkflows)
	})
	if err != nil {
		return nil, err
	}
	return dep, nil
}

// Undeploy deactivates the workflow; its versions stay stored.
func (s *Store) Undeploy(ctx context.Context, wfID string) (*store.Workflow, error) {
	var out *store.Workflow
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		wf, err := scanWorkflow(tx.QueryRow(ctx, `UPDATE workflows SET active_version = 0, deployed_at = NULL
			WHERE id = $1 RETURNING `+workflowCols, wfID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("workflow %q: %w", wfID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("undeploy workflow %q: %w", wfID, err)
		}
		out = wf
		return BumpEpoch(ctx, tx, EpochWorkflows)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ActivateVersion makes an existing deployed version the active one.
func (s *Store) ActivateVersion(ctx context.Context, wfID string, version uint32) (*store.Workflow, error) {
	var out *store.Workflow
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := getWorkflow(ctx, tx, wfID, true); err != nil {
			return err
		}
		// Versions are never deleted while their workflow lives (the row lock above holds
		// off DeleteWorkflow), so the check stays true until commit.
		if _, err := getDeployment(ctx, tx, wfID, version); err != nil {
			return err
		}
		wf, err := scanWorkflow(tx.QueryRow(ctx, `UPDATE workflows SET active_version = $2, deployed_at = $3
			WHERE id = $1 RETURNING `+workflowCols, wfID, version, pgTime(time.Now().UTC())))
		if err != nil {
			return fmt.Errorf("activate workflow %q version %d: %w", wfID, version, err)
		}
		out = wf
		return BumpEpoch(ctx, tx, EpochWorkflows)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteWorkflow removes a workflow, its versions (ON DELETE CASCADE), and every grant
// that targets it.
func (s *Store) DeleteWorkflow(ctx context.Context, wfID string) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM workflows WHERE id = $1`, wfID)
		if err != nil {
			return fmt.Errorf("delete workflow %q: %w", wfID, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("workflow %q: %w", wfID, store.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM key_grants WHERE target_id = $1`, wfID); err != nil {
			return fmt.Errorf("delete grants on workflow %q: %w", wfID, err)
		}
		if err := BumpEpoch(ctx, tx, EpochAuth); err != nil {
			return err
		}
		return BumpEpoch(ctx, tx, EpochWorkflows)
	})
}

// GetWorkflow returns the workflow with id.
func (s *Store) GetWorkflow(ctx context.Context, id string) (wf *store.Workflow, err error) {
	return getWorkflow(ctx, s.pool, id, false)
}

// ListWorkflows lists the workflows of wsID, or all workflows when wsID is empty.
func (s *Store) ListWorkflows(ctx context.Context, wsID string) (wfs []*store.Workflow, err error) {
	return listWorkflows(ctx, s.pool, wsID)
}

// GetDeployment returns one deployed version of a workflow.
func (s *Store) GetDeployment(ctx context.Context, wfID string, version uint32) (dep *store.Deployment, err error) {
	return getDeployment(ctx, s.pool, wfID, version)
}

// ActiveDeployment returns the workflow and its active deployed version in one read: one
// statement, so one snapshot.
func (s *Store) ActiveDeployment(ctx context.Context, wfID string) (wf *store.Workflow, dep *store.Deployment, err error) {
	var (
		def             []byte
		createdAt       *time.Time
		createdBy, note *string
	)
	wf = new(store.Workflow)
	var draft []byte
	err = s.pool.QueryRow(ctx, `SELECT w.id, w.workspace_id, w.name, w.description, w.draft, w.active_version,
			w.latest_version, w.deployed_at, w.created_at, w.updated_at, d.definition, d.created_at, d.created_by, d.note
		FROM workflows w LEFT JOIN deployments d ON d.workflow_id = w.id AND d.version = w.active_version
		WHERE w.id = $1`, wfID).Scan(&wf.ID, &wf.WorkspaceID, &wf.Name, &wf.Description, &draft, &wf.ActiveVersion,
		&wf.LatestVersion, &wf.DeployedAt, &wf.CreatedAt, &wf.UpdatedAt, &def, &createdAt, &createdBy, &note)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("workflow %q: %w", wfID, store.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("active deployment of %q: %w", wfID, err)
	}
	wf.Draft = draft
	wf.DeployedAt = utcPtr(wf.DeployedAt)
	wf.CreatedAt, wf.UpdatedAt = wf.CreatedAt.UTC(), wf.UpdatedAt.UTC()
	if wf.ActiveVersion == 0 {
		return wf, nil, nil
	}
	if createdAt == nil {
		return nil, nil, fmt.Errorf("workflow %q version %d: %w", wfID, wf.ActiveVersion, store.ErrNotFound)
	}
	dep = &store.Deployment{WorkflowID: wfID, Version: wf.ActiveVersion, Definition: def, CreatedAt: createdAt.UTC(),
		CreatedBy: *createdBy, Note: *note}
	return wf, dep, nil
}

// Workflow returns the workflow with id.
func (r *reader) Workflow(id string) (*store.Workflow, error) {
	return getWorkflow(r.ctx, r.tx, id, false)
}

// Workflows lists every workflow.
func (r *reader) Workflows() ([]*store.Workflow, error) {
	return listWorkflows(r.ctx, r.tx, "")
}

// WorkspaceWorkflowIDs lists the ids of the workflows in wsID.
func (r *reader) WorkspaceWorkflowIDs(wsID string) ([]string, error) {
	rows, err := r.tx.Query(r.ctx, `SELECT id FROM workflows WHERE workspace_id = $1 ORDER BY id COLLATE "C"`, wsID)
	if err != nil {
		return nil, fmt.Errorf("workflow ids of %q: %w", wsID, err)
	}
	var ids []string // nil when none, as bbolt
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("workflow ids of %q: %w", wsID, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("workflow ids of %q: %w", wsID, err)
	}
	return ids, nil
}

// WorkspaceWorkflows lists the workflows in wsID.
func (r *reader) WorkspaceWorkflows(wsID string) ([]*store.Workflow, error) {
	return listWorkflows(r.ctx, r.tx, wsID)
}

// Deployment returns one deployed version of a workflow.
func (r *reader) Deployment(wfID string, version uint32) (*store.Deployment, error) {
	return getDeployment(r.ctx, r.tx, wfID, version)
}

// Deployments lists every stored version of a workflow, oldest first.
func (r *reader) Deployments(wfID string) ([]*store.Deployment, error) {
	rows, err := r.tx.Query(r.ctx, `SELECT `+deploymentCols+` FROM deployments WHERE workflow_id = $1 ORDER BY version`, wfID)
	if err != nil {
		return nil, fmt.Errorf("deployments of %q: %w", wfID, err)
	}
	defer rows.Close()
	var out []*store.Deployment
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, fmt.Errorf("deployments of %q: %w", wfID, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deployments of %q: %w", wfID, err)
	}
	return out, nil
}
