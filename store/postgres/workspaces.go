package postgres

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) CreateWorkspace(ctx context.Context, ws *store.Workspace) error {
	return errTODO
}

func (s *Store) UpdateWorkspace(ctx context.Context, id string, fn func(ws *store.Workspace) error) (*store.Workspace, error) {
	return nil, errTODO
}

func (s *Store) SetWorkspaceMember(ctx context.Context, wsID, userID string, perm store.Level) error {
	return errTODO
}

func (s *Store) RemoveWorkspaceMember(ctx context.Context, wsID, userID string) error {
	return errTODO
}

func (s *Store) GetWorkspace(ctx context.Context, id string) (ws *store.Workspace, err error) {
	return nil, errTODO
}

func (s *Store) ListWorkspaces(ctx context.Context) (wss []*store.Workspace, err error) {
	return nil, errTODO
}

func (r *reader) Workspace(id string) (*store.Workspace, error) {
	return nil, errTODO
}

func (r *reader) Workspaces() ([]*store.Workspace, error) {
	return nil, errTODO
}

func (r *reader) FindWorkspace(ref string) (*store.Workspace, error) {
	return nil, errTODO
}

func (r *reader) Membership(wsID, userID string) (store.Level, error) {
	return "", errTODO
}

func (r *reader) WorkspaceMembers(wsID string) ([]store.WorkspaceMember, error) {
	return nil, errTODO
}

func (r *reader) UserWorkspaces(userID string) ([]string, error) {
	return nil, errTODO
}
