package postgres

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) CreateOrg(ctx context.Context, o *store.Org, ownerID string) error {
	return errTODO
}

func (s *Store) UpdateOrg(ctx context.Context, id string, fn func(o *store.Org) error) (*store.Org, error) {
	return nil, errTODO
}

func (s *Store) SetOrgMember(ctx context.Context, orgID, userID string, role store.OrgRole) error {
	return errTODO
}

func (s *Store) RemoveOrgMember(ctx context.Context, orgID, userID string) error {
	return errTODO
}

func (s *Store) GetOrg(ctx context.Context, id string) (o *store.Org, err error) {
	return nil, errTODO
}

func (s *Store) ListOrgs(ctx context.Context) (os []*store.Org, err error) {
	return nil, errTODO
}

func (r *reader) Org(id string) (*store.Org, error) {
	return nil, errTODO
}

func (r *reader) Orgs() ([]*store.Org, error) {
	return nil, errTODO
}

func (r *reader) OrgRole(orgID, userID string) (store.OrgRole, error) {
	return "", errTODO
}

func (r *reader) OrgMembers(orgID string) ([]store.OrgMember, error) {
	return nil, errTODO
}

func (r *reader) UserOrgs(userID string) ([]string, error) {
	return nil, errTODO
}

func (r *reader) OrgWorkspaces(orgID string) ([]string, error) {
	return nil, errTODO
}

func (r *reader) FindOrg(ref string) (*store.Org, error) {
	return nil, errTODO
}
