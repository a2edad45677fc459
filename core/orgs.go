package core

import (
	"context"
	"net/http"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// OrgAccess is an organization with the caller's effective level on it.
type OrgAccess struct {
	Org   *store.Org
	Level store.Level
}

// OrgMember is an organization member with their user record.
type OrgMember struct {
	User *store.User
	Role store.OrgRole
}

// OrgPatch changes an organization; nil fields stay as they are.
type OrgPatch struct {
	Name           *string
	MaxKeyLifetime *time.Duration
}

// ListOrgs returns the organizations p can read (members, or any for instance admins).
func (s *Service) ListOrgs(ctx context.Context, p *auth.Principal) ([]OrgAccess, error) {
	all, err := s.st.ListOrgs(ctx)
	if err != nil {
		return nil, err
	}
	var out []OrgAccess
	for _, o := range all {
		lvl, err := s.az.Level(ctx, p, auth.OrgTarget(o.ID))
		if err != nil {
			if isForbiddenOrNotFound(err) {
				continue
			}
			return nil, err
		}
		out = append(out, OrgAccess{Org: o, Level: lvl})
	}
	return out, nil
}

// GetOrg returns an organization p can read.
func (s *Service) GetOrg(ctx context.Context, p *auth.Principal, id string) (*OrgAccess, error) {
	lvl, err := s.az.Level(ctx, p, auth.OrgTarget(id))
	if err != nil {
		return nil, err
	}
	o, err := s.st.GetOrg(ctx, id)
	if err != nil {
		return nil, mapStoreErr(err, "Organization not found")
	}
	return &OrgAccess{Org: o, Level: lvl}, nil
}

// CreateOrg creates an organization owned by ownerID (default: the acting user; only
// instance administrators and the operator may name someone else).
func (s *Service) CreateOrg(ctx context.Context, p *auth.Principal, name, ownerID string) (*store.Org, error) {
	uid := ownerID
	switch {
	case uid == "":
		var err error
		if uid, err = auth.RequireUser(p); err != nil {
			if p.IsOperator() {
				return nil, badField("ownerId", "an owner is required")
			}
			return nil, err
		}
	case uid != p.UserID:
		// Making someone else the owner: instance administrators (and the operator) only.
		if err := s.az.RequireInstanceAdmin(ctx, p); err != nil {
			return nil, err
		}
	}
	o := &store.Org{Name: name}
	if err := s.st.CreateOrg(ctx, o, uid); err != nil {
		return nil, mapStoreErr(err, "User not found")
	}
	return o, nil
}

// UpdateOrg renames an organization or sets its maximum key lifetime; org admin.
func (s *Service) UpdateOrg(ctx context.Context, p *auth.Principal, id string, patch OrgPatch) (*store.Org, error) {
	if err := s.authorize(ctx, p, auth.OrgTarget(id), store.LevelAdmin); err != nil {
		return nil, err
	}
	if patch.MaxKeyLifetime != nil {
		if err := auth.RequireHuman(p); err != nil {
			return nil, err
		}
		if *patch.MaxKeyLifetime < 0 {
			return nil, badField("maxKeyLifetimeSeconds", "must not be negative")
		}
	}
	o, err := s.st.UpdateOrg(ctx, id, func(o *store.Org) error {
		if patch.Name != nil {
			o.Name = *patch.Name
		}
		if patch.MaxKeyLifetime != nil {
			o.MaxKeyLifetime = *patch.MaxKeyLifetime
		}
		return nil
	})
	return o, mapStoreErr(err, "Organization not found")
}

// OrgMembers lists an organization's members; read on it (any member).
func (s *Service) OrgMembers(ctx context.Context, p *auth.Principal, orgID string) ([]OrgMember, error) {
	if err := s.authorize(ctx, p, auth.OrgTarget(orgID), store.LevelRead); err != nil {
		return nil, err
	}
	var out []OrgMember
	err := s.st.View(ctx, func(r store.Reader) error {
		ms, err := r.OrgMembers(orgID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			u, err := r.User(m.UserID)
			if err != nil {
				continue
			}
			out = append(out, OrgMember{User: u, Role: m.Role})
		}
		return nil
	})
	return out, err
}

// SetOrgMember changes a member's role; org admin, and owner when an owner is made or
// unmade.
func (s *Service) SetOrgMember(ctx context.Context, p *auth.Principal, orgID, userID string, role store.OrgRole) (*OrgMember, error) {
	if err := auth.RequireHuman(p); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, p, auth.OrgTarget(orgID), store.LevelAdmin); err != nil {
		return nil, err
	}
	cur := s.orgRole(ctx, orgID, userID)
	if cur == "" {
		return nil, newError(http.StatusNotFound, "not_found", "Organization member not found")
	}
	if role == store.RoleOwner || cur == store.RoleOwner {
		if err := s.az.RequireOrgOwner(ctx, p, orgID); err != nil {
			return nil, err
		}
	}
	u, err := s.st.GetUser(ctx, userID)
	if err != nil {
		return nil, mapStoreErr(err, "User not found")
	}
	if err := s.st.SetOrgMember(ctx, orgID, userID, role); err != nil {
		return nil, mapStoreErr(err, "Organization member not found")
	}
	return &OrgMember{User: u, Role: role}, nil
}

// RemoveOrgMember removes a member; org admin (owner to remove an owner), or the
// member leaving. The last owner cannot leave.
func (s *Service) RemoveOrgMember(ctx context.Context, p *auth.Principal, orgID, userID string) error {
	if err := auth.RequireHuman(p); err != nil {
		return err
	}
	if uid, err := auth.RequireUser(p); err != nil || uid != userID {
		if err := s.authorize(ctx, p, auth.OrgTarget(orgID), store.LevelAdmin); err != nil {
			return err
		}
		if s.orgRole(ctx, orgID, userID) == store.RoleOwner {
			if err := s.az.RequireOrgOwner(ctx, p, orgID); err != nil {
				return err
			}
		}
	} else if err := s.authorize(ctx, p, auth.OrgTarget(orgID), store.LevelRead); err != nil {
		return err
	}
	return mapStoreErr(s.st.RemoveOrgMember(ctx, orgID, userID), "Organization member not found")
}

func (s *Service) orgRole(ctx context.Context, orgID, userID string) (role store.OrgRole) {
	s.st.View(ctx, func(r store.Reader) error { role, _ = r.OrgRole(orgID, userID); return nil })
	return role
}

// OrgWorkspace is a workspace of an organization; Workflows is filled in for org admins,
// who may grant organization keys access to them.
type OrgWorkspace struct {
	Workspace *store.Workspace
	Workflows []*store.Workflow
}

// OrgWorkspaces lists the workspaces that belong to an organization; read on it (any
// member). An org admin may manage org-key grants on every workspace of the org, even
// one they are not a member of, so admins also get each workspace's workflows.
func (s *Service) OrgWorkspaces(ctx context.Context, p *auth.Principal, orgID string) ([]OrgWorkspace, error) {
	lvl, err := s.az.Level(ctx, p, auth.OrgTarget(orgID))
	if err != nil {
		return nil, err
	}
	all, err := s.st.ListWorkspaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []OrgWorkspace
	for _, ws := range all {
		if ws.OrgID != orgID {
			continue
		}
		ow := OrgWorkspace{Workspace: ws}
		if lvl == store.LevelAdmin {
			if ow.Workflows, err = s.st.ListWorkflows(ctx, ws.ID); err != nil {
				return nil, err
			}
		}
		out = append(out, ow)
	}
	return out, nil
}
