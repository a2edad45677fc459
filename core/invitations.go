package core

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// InvitationTTL is how long an invitation waits for its answer.
const InvitationTTL = 7 * 24 * time.Hour

// maxEmailLength is RFC 5321's limit on a forward path.
const maxEmailLength = 254

// Invited is the outcome of adding someone to a workspace or organization: a pending
// invitation, or (for the local operator, who owns the machine) a member at once.
type Invited struct {
	Invitation *store.Invitation
	Member     *Member    // workspaces, operator only
	OrgMember  *OrgMember // organizations, operator only
}

// InvitationView is an invitation as its invitee sees it: enough to decide, nothing of
// the target's content.
type InvitationView struct {
	Invitation *store.Invitation
	TargetName string
	InvitedBy  string // the inviter's email, or "operator"
}

// InviteWorkspaceMember invites email to a workspace with perm; admin on the workspace,
// as a signed-in user. The answer is the same whether or not a user has that email, and
// nothing of the workspace reaches them before they accept. The operator adds an
// existing user (by id or email) at once.
func (s *Service) InviteWorkspaceMember(ctx context.Context, p *auth.Principal, wsID, ref string, perm store.Level) (*Invited, error) {
	if err := auth.RequireHuman(p); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelAdmin); err != nil {
		return nil, err
	}
	if !perm.Valid() {
		return nil, badField("permission", "must be one of read, write, admin")
	}
	if p.IsOperator() {
		m, err := s.addWorkspaceMember(ctx, wsID, ref, perm)
		return &Invited{Member: m}, err
	}
	email, err := inviteeEmail(ref)
	if err != nil {
		return nil, err
	}
	var cur store.Level
	s.st.View(ctx, func(r store.Reader) error {
		if u, err := r.UserByEmail(email); err == nil {
			cur, _ = r.Membership(wsID, u.ID)
		}
		return nil
	})
	if cur != store.LevelNone { // the admin can list members anyway: no oracle here
		return nil, newError(http.StatusConflict, "conflict", "That person is already a member of this workspace")
	}
	inv := &store.Invitation{TargetType: store.TargetWorkspace, TargetID: wsID, Email: email, Permission: perm}
	return &Invited{Invitation: inv}, s.putInvitation(ctx, p, inv)
}

// InviteOrgMember invites email to an organization with role; org admin (owner to
// invite an owner), as a signed-in user. The operator adds an existing user at once.
func (s *Service) InviteOrgMember(ctx context.Context, p *auth.Principal, orgID, ref string, role store.OrgRole) (*Invited, error) {
	if err := auth.RequireHuman(p); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, p, auth.OrgTarget(orgID), store.LevelAdmin); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, badField("role", "must be one of owner, admin, member")
	}
	if role == store.RoleOwner {
		if err := s.az.RequireOrgOwner(ctx, p, orgID); err != nil {
			return nil, err
		}
	}
	if p.IsOperator() {
		m, err := s.addOrgMember(ctx, orgID, ref, role)
		return &Invited{OrgMember: m}, err
	}
	email, err := inviteeEmail(ref)
	if err != nil {
		return nil, err
	}
	var cur store.OrgRole
	s.st.View(ctx, func(r store.Reader) error {
		if u, err := r.UserByEmail(email); err == nil {
			cur, _ = r.OrgRole(orgID, u.ID)
		}
		return nil
	})
	if cur != "" {
		return nil, newError(http.StatusConflict, "conflict", "That person is already a member of this organization")
	}
	inv := &store.Invitation{TargetType: store.TargetOrg, TargetID: orgID, Email: email, Role: role}
	return &Invited{Invitation: inv}, s.putInvitation(ctx, p, inv)
}

func (s *Service) putInvitation(ctx context.Context, p *auth.Principal, inv *store.Invitation) error {
	now := time.Now().UTC()
	inv.InvitedBy, inv.CreatedAt, inv.ExpiresAt = actorOf(p), now, now.Add(InvitationTTL)
	return mapStoreErr(s.st.PutInvitation(ctx, inv), "Workspace or organization not found")
}

// PendingInvitations lists the invitations a target has sent that wait for an answer;
// admin on the workspace or organization.
func (s *Service) PendingInvitations(ctx context.Context, p *auth.Principal, tt store.TargetType, targetID string) ([]*store.Invitation, error) {
	if err := s.authorize(ctx, p, invitationTarget(tt, targetID), store.LevelAdmin); err != nil {
		return nil, err
	}
	return s.st.InvitationsForTarget(ctx, targetID, time.Now())
}

// WithdrawInvitation deletes a pending invitation of a target; admin on it, signed in.
func (s *Service) WithdrawInvitation(ctx context.Context, p *auth.Principal, tt store.TargetType, targetID, id string) error {
	if err := auth.RequireHuman(p); err != nil {
		return err
	}
	if err := s.authorize(ctx, p, invitationTarget(tt, targetID), store.LevelAdmin); err != nil {
		return err
	}
	inv, err := s.st.GetInvitation(ctx, id, time.Now())
	if err != nil || inv.TargetType != tt || inv.TargetID != targetID {
		return newError(http.StatusNotFound, "not_found", "Invitation not found")
	}
	return mapStoreErr(s.st.DeleteInvitation(ctx, id), "Invitation not found")
}

// MyInvitations lists the live invitations addressed to the acting user's email.
func (s *Service) MyInvitations(ctx context.Context, p *auth.Principal) ([]InvitationView, error) {
	u, err := s.Me(ctx, p)
	if err != nil {
		return nil, err
	}
	invs, err := s.st.InvitationsForEmail(ctx, u.Email, time.Now())
	if err != nil {
		return nil, err
	}
	out := make([]InvitationView, 0, len(invs))
	s.st.View(ctx, func(r store.Reader) error {
		for _, inv := range invs {
			v := InvitationView{Invitation: inv, InvitedBy: inv.InvitedBy}
			if inv.TargetType == store.TargetWorkspace {
				if ws, err := r.Workspace(inv.TargetID); err == nil {
					v.TargetName = ws.Name
				}
			} else if o, err := r.Org(inv.TargetID); err == nil {
				v.TargetName = o.Name
			}
			if by, err := r.User(inv.InvitedBy); err == nil {
				v.InvitedBy = by.Email
			}
			out = append(out, v)
		}
		return nil
	})
	return out, nil
}

// AcceptInvitation makes the signed-in user a member as the invitation says. An
// invitation addressed to someone else reads as not found.
func (s *Service) AcceptInvitation(ctx context.Context, p *auth.Principal, id string) (*store.Invitation, error) {
	if err := auth.RequireHuman(p); err != nil {
		return nil, err
	}
	uid, err := auth.RequireUser(p)
	if err != nil {
		return nil, err
	}
	inv, err := s.st.AcceptInvitation(ctx, id, uid, time.Now())
	return inv, mapStoreErr(err, "Invitation not found")
}

// DeclineInvitation deletes an invitation addressed to the acting user.
func (s *Service) DeclineInvitation(ctx context.Context, p *auth.Principal, id string) error {
	if err := auth.RequireHuman(p); err != nil {
		return err
	}
	u, err := s.Me(ctx, p)
	if err != nil {
		return err
	}
	inv, err := s.st.GetInvitation(ctx, id, time.Now())
	if err != nil || !strings.EqualFold(inv.Email, strings.TrimSpace(u.Email)) {
		return newError(http.StatusNotFound, "not_found", "Invitation not found")
	}
	return mapStoreErr(s.st.DeleteInvitation(ctx, id), "Invitation not found")
}

func invitationTarget(tt store.TargetType, id string) auth.Target {
	if tt == store.TargetOrg {
		return auth.OrgTarget(id)
	}
	return workspaceTarget(id)
}

// inviteeEmail checks an invitee reference: an email address, bounded before any work.
func inviteeEmail(ref string) (string, error) {
	e := strings.TrimSpace(ref)
	switch {
	case e == "":
		return "", badField("email", "an email address is required")
	case len(e) > maxEmailLength:
		return "", badField("email", "must be at most 254 bytes")
	case strings.Count(e, "@") != 1 || strings.HasPrefix(e, "@") || strings.HasSuffix(e, "@") || strings.ContainsAny(e, " \t\r\n<>,;"):
		return "", badField("email", "must be an email address")
	}
	return strings.ToLower(e), nil
}

// addWorkspaceMember adds an existing user directly (the operator's way).
func (s *Service) addWorkspaceMember(ctx context.Context, wsID, ref string, perm store.Level) (*Member, error) {
	u, err := s.findUser(ctx, ref)
	if err != nil {
		return nil, err
	}
	var cur store.Level
	s.st.View(ctx, func(r store.Reader) error { cur, _ = r.Membership(wsID, u.ID); return nil })
	if cur != store.LevelNone {
		return nil, newError(http.StatusConflict, "conflict", "User is already a member of this workspace")
	}
	if err := s.st.SetWorkspaceMember(ctx, wsID, u.ID, perm); err != nil {
		return nil, mapStoreErr(err, "Workspace or user not found")
	}
	return &Member{User: u, Permission: perm}, nil
}

// addOrgMember adds an existing user directly (the operator's way).
func (s *Service) addOrgMember(ctx context.Context, orgID, ref string, role store.OrgRole) (*OrgMember, error) {
	u, err := s.findUser(ctx, ref)
	if err != nil {
		return nil, err
	}
	if cur := s.orgRole(ctx, orgID, u.ID); cur != "" {
		return nil, newError(http.StatusConflict, "conflict", "User is already a member of this organization")
	}
	if err := s.st.SetOrgMember(ctx, orgID, u.ID, role); err != nil {
		return nil, mapStoreErr(err, "Organization or user not found")
	}
	return &OrgMember{User: u, Role: role}, nil
}
