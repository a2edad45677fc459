package store

import (
	"context"
	"strings"
)

// Orgs holds organizations and their members.
type Orgs interface {
	// CreateOrg stores a new organization with ownerID as its owner.
	CreateOrg(ctx context.Context, o *Org, ownerID string) error

	// UpdateOrg applies fn to the stored organization and saves it.
	UpdateOrg(ctx context.Context, id string, fn func(o *Org) error) (*Org, error)

	// SetOrgMember adds userID to the organization or changes their role.
	SetOrgMember(ctx context.Context, orgID, userID string, role OrgRole) error

	// RemoveOrgMember removes userID from the organization; the last owner cannot leave.
	RemoveOrgMember(ctx context.Context, orgID, userID string) error

	// GetOrg returns the organization with id.
	GetOrg(ctx context.Context, id string) (o *Org, err error)

	// ListOrgs lists every organization.
	ListOrgs(ctx context.Context) (os []*Org, err error)
}

// Rank orders roles: member < admin < owner; an unknown role ranks as none.
func (r OrgRole) Rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// CheckName trims the organization's name, which is required.
func (o *Org) CheckName() error {
	o.Name = strings.TrimSpace(o.Name)
	if o.Name == "" {
		return invalidf("organization name is required")
	}
	return nil
}

// CheckRole checks an organization member's role: owner, admin or member.
func CheckRole(role OrgRole) error {
	if !role.Valid() {
		return invalidf("organization role %q must be one of owner, admin, member", role)
	}
	return nil
}
