package store

import "context"

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
