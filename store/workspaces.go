package store

import (
	"context"
	"strings"
)

// NewWorkspace returns a workspace with the defaults a new one gets: personal keys allowed.
func NewWorkspace(name, ownerID, orgID string) *Workspace {
	return &Workspace{Name: name, OwnerID: ownerID, OrgID: orgID, AllowPersonalKeys: true}
}

// Workspaces holds workspaces and their members.
type Workspaces interface {
	// CreateWorkspace stores a new workspace. Its owner (the billing owner) becomes an admin
	// member in the same transaction.
	CreateWorkspace(ctx context.Context, ws *Workspace) error

	// UpdateWorkspace applies fn to the stored workspace and saves it, keeping invariants:
	// the billing owner must be an admin member, and moving the workspace out of its
	// organization deletes, in the same transaction, every organization-key grant that
	// targets the workspace or any of its workflows.
	UpdateWorkspace(ctx context.Context, id string, fn func(ws *Workspace) error) (*Workspace, error)

	// SetWorkspaceMember adds userID to the workspace or changes their permission.
	SetWorkspaceMember(ctx context.Context, wsID, userID string, perm Level) error

	// RemoveWorkspaceMember removes userID from the workspace; the billing owner cannot be
	// removed.
	RemoveWorkspaceMember(ctx context.Context, wsID, userID string) error

	// GetWorkspace returns the workspace with id.
	GetWorkspace(ctx context.Context, id string) (ws *Workspace, err error)

	// ListWorkspaces lists every workspace.
	ListWorkspaces(ctx context.Context) (wss []*Workspace, err error)
}

// CheckName trims the workspace's name, which is required.
func (ws *Workspace) CheckName() error {
	ws.Name = strings.TrimSpace(ws.Name)
	if ws.Name == "" {
		return invalidf("workspace name is required")
	}
	return nil
}

// CheckUpdate checks ws, edited by UpdateWorkspace's caller from old: the id stays, the name
// is required, and a new billing owner must already be an admin member (memberLevel reads a
// user's permission on the workspace in the backend's transaction).
func (ws *Workspace) CheckUpdate(old *Workspace, memberLevel func(userID string) (Level, error)) error {
	ws.ID = old.ID
	if err := ws.CheckName(); err != nil {
		return err
	}
	if ws.OwnerID != old.OwnerID {
		perm, err := memberLevel(ws.OwnerID)
		if err != nil {
			return err
		}
		if perm != LevelAdmin {
			return invalidf("new billing owner %s must be an admin member of the workspace", ws.OwnerID)
		}
	}
	return nil
}

// CheckMember checks giving userID perm on ws: the billing owner stays an admin.
func (ws *Workspace) CheckMember(userID string, perm Level) error {
	if userID == ws.OwnerID && perm != LevelAdmin {
		return invalidf("the billing owner must stay an admin of the workspace")
	}
	return nil
}

// CheckRemoveMember checks removing userID from ws: the billing owner cannot be removed.
func (ws *Workspace) CheckRemoveMember(userID string) error {
	if userID == ws.OwnerID {
		return invalidf("the billing owner cannot be removed from the workspace")
	}
	return nil
}

// CheckPermission checks a workspace member's permission: read, write or admin.
func CheckPermission(perm Level) error {
	if !perm.Valid() {
		return invalidf("workspace permission %q must be one of read, write, admin", perm)
	}
	return nil
}
