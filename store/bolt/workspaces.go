package bolt

import (
	"context"
	"errors"
	"fmt"

	"github.com/steelengine/steelengine/store"
)

// CreateWorkspace stores a new workspace. Its owner (the billing owner) becomes an admin
// member in the same transaction.
func (s *Store) CreateWorkspace(ctx context.Context, ws *store.Workspace) error {
	if err := ws.CheckName(); err != nil {
		return err
	}
	if ws.ID == "" {
		ws.ID = store.NewID()
	}
	if ws.CreatedAt.IsZero() {
		ws.CreatedAt = now()
	}
	return s.update(ctx, func(w *writer) error {
		if _, err := w.User(ws.OwnerID); err != nil {
			return fmt.Errorf("workspace owner: %w", err)
		}
		if ws.OrgID != "" {
			if _, err := w.Org(ws.OrgID); err != nil {
				return err
			}
			if err := w.tx.Bucket(bWsByOrg).Put(ckey(ws.OrgID, ws.ID), nil); err != nil {
				return err
			}
		}
		if err := putJSON(w.tx.Bucket(bWorkspaces), []byte(ws.ID), ws); err != nil {
			return err
		}
		return w.setMember(ws.ID, ws.OwnerID, store.LevelAdmin)
	})
}

// UpdateWorkspace applies fn to the stored workspace and saves it, keeping invariants:
// the billing owner must be an admin member, and moving the workspace out of its
// organization deletes, in the same transaction, every organization-key grant that
// targets the workspace or any of its workflows.
func (s *Store) UpdateWorkspace(ctx context.Context, id string, fn func(ws *store.Workspace) error) (*store.Workspace, error) {
	var out *store.Workspace
	err := s.update(ctx, func(w *writer) error {
		ws, err := w.Workspace(id)
		if err != nil {
			return err
		}
		old := *ws
		if err := fn(ws); err != nil {
			return err
		}
		err = ws.CheckUpdate(&old, func(userID string) (store.Level, error) {
			perm, _ := w.Membership(id, userID) // not a member: no level
			return perm, nil
		})
		if err != nil {
			return err
		}
		if ws.OrgID != old.OrgID {
			if ws.OrgID != "" {
				if _, err := w.Org(ws.OrgID); err != nil {
					return err
				}
				if err := w.tx.Bucket(bWsByOrg).Put(ckey(ws.OrgID, id), nil); err != nil {
					return err
				}
			}
			if old.OrgID != "" {
				if err := w.tx.Bucket(bWsByOrg).Delete(ckey(old.OrgID, id)); err != nil {
					return err
				}
				if err := w.deleteWorkspaceGrants(id); err != nil {
					return err
				}
			}
		}
		if err := w.bumpAuth(); err != nil {
			return err
		}
		out = ws
		return putJSON(w.tx.Bucket(bWorkspaces), []byte(id), ws)
	})
	return out, err
}

// deleteWorkspaceGrants drops every grant that targets the workspace or its workflows.
func (w *writer) deleteWorkspaceGrants(wsID string) error {
	targets, err := w.WorkspaceWorkflowIDs(wsID)
	if err != nil {
		return err
	}
	for _, t := range append(targets, wsID) {
		if err := w.deleteGrantsTargeting(t); err != nil {
			return err
		}
	}
	return nil
}

// SetWorkspaceMember adds userID to the workspace or changes their permission.
func (s *Store) SetWorkspaceMember(ctx context.Context, wsID, userID string, perm store.Level) error {
	return s.update(ctx, func(w *writer) error {
		ws, err := w.Workspace(wsID)
		if err != nil {
			return err
		}
		if _, err := w.User(userID); err != nil {
			return err
		}
		if err := ws.CheckMember(userID, perm); err != nil {
			return err
		}
		return w.setMember(wsID, userID, perm)
	})
}

// RemoveWorkspaceMember removes userID from the workspace; the billing owner cannot be
// removed.
func (s *Store) RemoveWorkspaceMember(ctx context.Context, wsID, userID string) error {
	return s.update(ctx, func(w *writer) error {
		ws, err := w.Workspace(wsID)
		if err != nil {
			return err
		}
		if err := ws.CheckRemoveMember(userID); err != nil {
			return err
		}
		if perm, _ := w.Membership(wsID, userID); perm == store.LevelNone {
			return notFound("workspace member", userID)
		}
		if err := w.tx.Bucket(bWsMembers).Delete(ckey(wsID, userID)); err != nil {
			return err
		}
		if err := w.tx.Bucket(bUserWs).Delete(ckey(userID, wsID)); err != nil {
			return err
		}
		return w.bumpAuth()
	})
}

func (w *writer) setMember(wsID, userID string, perm store.Level) error {
	if err := store.CheckPermission(perm); err != nil {
		return err
	}
	if err := w.tx.Bucket(bWsMembers).Put(ckey(wsID, userID), []byte(perm)); err != nil {
		return err
	}
	if err := w.tx.Bucket(bUserWs).Put(ckey(userID, wsID), nil); err != nil {
		return err
	}
	return w.bumpAuth()
}

// Workspace returns the workspace with id.
func (r *Reader) Workspace(id string) (*store.Workspace, error) {
	ws, err := getJSON[store.Workspace](r.tx.Bucket(bWorkspaces), []byte(id))
	if err != nil {
		return nil, fmt.Errorf("workspace %q: %w", id, err)
	}
	return ws, nil
}

// Workspaces lists every workspace.
func (r *Reader) Workspaces() ([]*store.Workspace, error) {
	return listAll[store.Workspace](r.tx.Bucket(bWorkspaces))
}

// FindWorkspace returns the workspace named by id or by unique name.
func (r *Reader) FindWorkspace(ref string) (*store.Workspace, error) {
	// Only an id that names nothing falls back to names: a read that failed is an error.
	ws, err := r.Workspace(ref)
	if !errors.Is(err, store.ErrNotFound) {
		return ws, err
	}
	all, err := r.Workspaces()
	if err != nil {
		return nil, err
	}
	return store.FindByName(all, ref, "workspace", func(w *store.Workspace) string { return w.Name })
}

// Membership returns userID's permission in wsID, or LevelNone when not a member.
func (r *Reader) Membership(wsID, userID string) (store.Level, error) {
	return store.Level(r.tx.Bucket(bWsMembers).Get(ckey(wsID, userID))), nil
}

// WorkspaceMembers lists the members of wsID.
func (r *Reader) WorkspaceMembers(wsID string) ([]store.WorkspaceMember, error) {
	var out []store.WorkspaceMember
	err := scanPrefix(r.tx.Bucket(bWsMembers), wsID, func(userID, perm []byte) error {
		out = append(out, store.WorkspaceMember{WorkspaceID: wsID, UserID: string(userID), Permission: store.Level(perm)})
		return nil
	})
	return out, err
}

// UserWorkspaces lists the ids of the workspaces userID is a member of.
func (r *Reader) UserWorkspaces(userID string) ([]string, error) {
	return idsUnder(r.tx.Bucket(bUserWs), userID)
}

// GetWorkspace returns the workspace with id.
func (s *Store) GetWorkspace(ctx context.Context, id string) (ws *store.Workspace, err error) {
	err = s.view(ctx, func(r *Reader) error { ws, err = r.Workspace(id); return err })
	return ws, err
}

// ListWorkspaces lists every workspace.
func (s *Store) ListWorkspaces(ctx context.Context) (wss []*store.Workspace, err error) {
	err = s.view(ctx, func(r *Reader) error { wss, err = r.Workspaces(); return err })
	return wss, err
}
