package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/steelengine/steelengine/store"
)

// accountsShim lets the conformance suites of the workflow-side domains create the
// workspaces they need while this backend's Workspaces domain is still errTODO: it inserts
// the rows directly. Once that domain lands it only passes calls through; then it goes.
type accountsShim struct{ *Store }

func (s accountsShim) CreateWorkspace(ctx context.Context, ws *store.Workspace) error {
	err := s.Store.CreateWorkspace(ctx, ws)
	if !errors.Is(err, errTODO) {
		return err
	}
	if ws.ID == "" {
		ws.ID = store.NewID()
	}
	if ws.CreatedAt.IsZero() {
		ws.CreatedAt = pgTime(time.Now().UTC())
	}
	var org *string
	if ws.OrgID != "" {
		org = &ws.OrgID
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO workspaces (id, name, owner_id, org_id, allow_personal_keys, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, ws.ID, ws.Name, ws.OwnerID, org, ws.AllowPersonalKeys, ws.CreatedAt); err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id, permission) VALUES ($1, $2, 'admin')`, ws.ID, ws.OwnerID)
	return err
}
