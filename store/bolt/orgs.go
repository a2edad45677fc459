package bolt

import (
	"context"
	"errors"
	"fmt"

	"github.com/steelengine/steelengine/store"
)

// CreateOrg stores a new organization with ownerID as its owner.
func (s *Store) CreateOrg(ctx context.Context, o *store.Org, ownerID string) error {
	if err := o.CheckName(); err != nil {
		return err
	}
	if o.ID == "" {
		o.ID = store.NewID()
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = now()
	}
	return s.update(ctx, func(w *writer) error {
		if _, err := w.User(ownerID); err != nil {
			return fmt.Errorf("organization owner: %w", err)
		}
		if err := putJSON(w.tx.Bucket(bOrgs), []byte(o.ID), o); err != nil {
			return err
		}
		return w.setOrgMember(o.ID, ownerID, store.RoleOwner)
	})
}

// UpdateOrg applies fn to the stored organization and saves it.
func (s *Store) UpdateOrg(ctx context.Context, id string, fn func(o *store.Org) error) (*store.Org, error) {
	var out *store.Org
	err := s.update(ctx, func(w *writer) error {
		o, err := w.Org(id)
		if err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
		o.ID = id
		if err := o.CheckName(); err != nil {
			return err
		}
		if err := w.bumpAuth(); err != nil {
			return err
		}
		out = o
		return putJSON(w.tx.Bucket(bOrgs), []byte(id), o)
	})
	return out, err
}

// SetOrgMember adds userID to the organization or changes their role.
func (s *Store) SetOrgMember(ctx context.Context, orgID, userID string, role store.OrgRole) error {
	return s.update(ctx, func(w *writer) error {
		if _, err := w.Org(orgID); err != nil {
			return err
		}
		if _, err := w.User(userID); err != nil {
			return err
		}
		if cur, _ := w.OrgRole(orgID, userID); cur == store.RoleOwner && role != store.RoleOwner {
			if err := w.keepAnOwner(orgID, userID); err != nil {
				return err
			}
		}
		return w.setOrgMember(orgID, userID, role)
	})
}

// RemoveOrgMember removes userID from the organization; the last owner cannot leave.
func (s *Store) RemoveOrgMember(ctx context.Context, orgID, userID string) error {
	return s.update(ctx, func(w *writer) error {
		role, err := w.OrgRole(orgID, userID)
		if err != nil {
			return err
		}
		if role == "" {
			return notFound("organization member", userID)
		}
		if role == store.RoleOwner {
			if err := w.keepAnOwner(orgID, userID); err != nil {
				return err
			}
		}
		if err := w.tx.Bucket(bOrgMembers).Delete(ckey(orgID, userID)); err != nil {
			return err
		}
		if err := w.tx.Bucket(bUserOrgs).Delete(ckey(userID, orgID)); err != nil {
			return err
		}
		return w.bumpAuth()
	})
}

func (w *writer) keepAnOwner(orgID, leaving string) error {
	members, err := w.OrgMembers(orgID)
	if err != nil {
		return err
	}
	for _, m := range members {
		if m.UserID != leaving && m.Role == store.RoleOwner {
			return nil
		}
	}
	return invalid("organization %s must keep at least one owner", orgID)
}

func (w *writer) setOrgMember(orgID, userID string, role store.OrgRole) error {
	if err := store.CheckRole(role); err != nil {
		return err
	}
	if err := w.tx.Bucket(bOrgMembers).Put(ckey(orgID, userID), []byte(role)); err != nil {
		return err
	}
	if err := w.tx.Bucket(bUserOrgs).Put(ckey(userID, orgID), nil); err != nil {
		return err
	}
	return w.bumpAuth()
}

// Org returns the organization with id.
func (r *Reader) Org(id string) (*store.Org, error) {
	o, err := getJSON[store.Org](r.tx.Bucket(bOrgs), []byte(id))
	if err != nil {
		return nil, fmt.Errorf("organization %q: %w", id, err)
	}
	return o, nil
}

// Orgs lists every organization.
func (r *Reader) Orgs() ([]*store.Org, error) { return listAll[store.Org](r.tx.Bucket(bOrgs)) }

// OrgRole returns userID's role in orgID, or "" when not a member.
func (r *Reader) OrgRole(orgID, userID string) (store.OrgRole, error) {
	return store.OrgRole(r.tx.Bucket(bOrgMembers).Get(ckey(orgID, userID))), nil
}

// OrgMembers lists the members of orgID.
func (r *Reader) OrgMembers(orgID string) ([]store.OrgMember, error) {
	var out []store.OrgMember
	err := scanPrefix(r.tx.Bucket(bOrgMembers), orgID, func(userID, role []byte) error {
		out = append(out, store.OrgMember{OrgID: orgID, UserID: string(userID), Role: store.OrgRole(role)})
		return nil
	})
	return out, err
}

// UserOrgs lists the ids of the organizations userID belongs to.
func (r *Reader) UserOrgs(userID string) ([]string, error) {
	return idsUnder(r.tx.Bucket(bUserOrgs), userID)
}

// OrgWorkspaces lists the ids of the workspaces in orgID.
func (r *Reader) OrgWorkspaces(orgID string) ([]string, error) {
	return idsUnder(r.tx.Bucket(bWsByOrg), orgID)
}

// FindOrg returns the organization named by id or by unique name.
func (r *Reader) FindOrg(ref string) (*store.Org, error) {
	// Only an id that names nothing falls back to names: a read that failed is an error.
	o, err := r.Org(ref)
	if !errors.Is(err, store.ErrNotFound) {
		return o, err
	}
	all, err := r.Orgs()
	if err != nil {
		return nil, err
	}
	return store.FindByName(all, ref, "organization", func(o *store.Org) string { return o.Name })
}

// GetOrg returns the organization with id.
func (s *Store) GetOrg(ctx context.Context, id string) (o *store.Org, err error) {
	err = s.view(ctx, func(r *Reader) error { o, err = r.Org(id); return err })
	return o, err
}

// ListOrgs lists every organization.
func (s *Store) ListOrgs(ctx context.Context) (os []*store.Org, err error) {
	err = s.view(ctx, func(r *Reader) error { os, err = r.Orgs(); return err })
	return os, err
}
