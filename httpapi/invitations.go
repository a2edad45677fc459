package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Invitations: adding someone to a workspace or organization asks for their consent.
// Admins invite by email (the answer does not say whether the email has an account)
// and see or withdraw pending invitations; the invitee lists, accepts or declines
// theirs, signed in. The local operator (CLI) adds members at once.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("POST /api/workspaces/{id}/members", a.inviteWorkspaceMember())
		a.handle("POST /api/workspaces/{id}/invitations", a.inviteWorkspaceMember())
		a.handle("GET /api/workspaces/{id}/invitations", a.pendingInvitations(store.TargetWorkspace))
		a.handle("DELETE /api/workspaces/{id}/invitations/{invitationId}", a.withdrawInvitation(store.TargetWorkspace))
		a.handle("POST /api/organizations/{id}/members", a.inviteOrgMember())
		a.handle("POST /api/organizations/{id}/invitations", a.inviteOrgMember())
		a.handle("GET /api/organizations/{id}/invitations", a.pendingInvitations(store.TargetOrg))
		a.handle("DELETE /api/organizations/{id}/invitations/{invitationId}", a.withdrawInvitation(store.TargetOrg))
		a.handle("GET /api/users/me/invitations", a.myInvitations())
		a.handle("POST /api/invitations/{id}/accept", a.acceptInvitation())
		a.handle("POST /api/invitations/{id}/decline", a.declineInvitation())
	})
}

type inviteBody struct {
	Email      string        `json:"email"`
	UserID     string        `json:"userId"` // operator only: add an existing user by id
	Permission store.Level   `json:"permission"`
	Role       store.OrgRole `json:"role"`
}

func (b inviteBody) ref() string {
	if b.Email != "" {
		return b.Email
	}
	return b.UserID
}

func invitationView(inv *store.Invitation) map[string]any {
	v := map[string]any{
		"id": inv.ID, "targetType": inv.TargetType, "email": inv.Email, "invitedBy": inv.InvitedBy,
		"createdAt": inv.CreatedAt, "expiresAt": inv.ExpiresAt, "status": "pending",
	}
	if inv.TargetType == store.TargetOrg {
		v["organizationId"], v["role"] = inv.TargetID, inv.Role
	} else {
		v["workspaceId"], v["permission"] = inv.TargetID, inv.Permission
	}
	return v
}

// invitedReply is 202 with the pending invitation, or 201 with the member the operator
// added at once.
func invitedReply(in *core.Invited) reply {
	switch {
	case in.Member != nil:
		return reply{http.StatusCreated, map[string]any{"member": memberView(*in.Member)}}
	case in.OrgMember != nil:
		return reply{http.StatusCreated, map[string]any{"member": orgMemberView(*in.OrgMember)}}
	}
	return reply{http.StatusAccepted, map[string]any{"invitation": invitationView(in.Invitation)}}
}

func (a *API) inviteWorkspaceMember() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *inviteBody) (reply, error) {
		if !b.Permission.Valid() {
			return reply{}, badRequest("permission", "permission must be one of read, write, admin")
		}
		in, err := a.deps.Service.InviteWorkspaceMember(r.Context(), p, r.PathValue("id"), b.ref(), b.Permission)
		if err != nil {
			return reply{}, err
		}
		return invitedReply(in), nil
	})
}

func (a *API) inviteOrgMember() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *inviteBody) (reply, error) {
		if b.Role == "" {
			b.Role = store.RoleMember
		}
		if !b.Role.Valid() {
			return reply{}, badRequest("role", "role must be one of owner, admin, member")
		}
		in, err := a.deps.Service.InviteOrgMember(r.Context(), p, r.PathValue("id"), b.ref(), b.Role)
		if err != nil {
			return reply{}, err
		}
		return invitedReply(in), nil
	})
}

func (a *API) pendingInvitations(tt store.TargetType) http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		invs, err := a.deps.Service.PendingInvitations(r.Context(), p, tt, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		out := make([]map[string]any, 0, len(invs))
		for _, inv := range invs {
			out = append(out, invitationView(inv))
		}
		return reply{http.StatusOK, map[string]any{"invitations": out}}, nil
	})
}

func (a *API) withdrawInvitation(tt store.TargetType) http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		err := a.deps.Service.WithdrawInvitation(r.Context(), p, tt, r.PathValue("id"), r.PathValue("invitationId"))
		return reply{http.StatusOK, map[string]any{"success": true}}, err
	})
}

func (a *API) myInvitations() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		vs, err := a.deps.Service.MyInvitations(r.Context(), p)
		if err != nil {
			return reply{}, err
		}
		out := make([]map[string]any, 0, len(vs))
		for _, v := range vs {
			m := invitationView(v.Invitation)
			m["targetName"], m["invitedBy"] = v.TargetName, v.InvitedBy
			out = append(out, m)
		}
		return reply{http.StatusOK, map[string]any{"invitations": out}}, nil
	})
}

func (a *API) acceptInvitation() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		inv, err := a.deps.Service.AcceptInvitation(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"success": true, "invitation": invitationView(inv)}}, nil
	})
}

func (a *API) declineInvitation() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		err := a.deps.Service.DeclineInvitation(r.Context(), p, r.PathValue("id"))
		return reply{http.StatusOK, map[string]any{"success": true}}, err
	})
}
