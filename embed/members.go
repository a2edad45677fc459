package embed

import (
	"net/http"
	"strings"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Members and invitations. Adding someone is an invitation they accept or decline on
// their home page; the answer to an invite is the same whether or not the email has an
// account, so the form never reveals who is registered.
func init() {
	addRoute("GET /dashboard/workspaces/{ws}/settings/members", func(d *Dashboard) handlerFunc { return d.wsMembers })
	addRoute("POST /dashboard/workspaces/{ws}/settings/members/invite", func(d *Dashboard) handlerFunc { return d.wsInvite })
	addRoute("POST /dashboard/workspaces/{ws}/settings/members/{user}/permission", func(d *Dashboard) handlerFunc { return d.wsMemberPermission })
	addRoute("POST /dashboard/workspaces/{ws}/settings/members/{user}/remove", func(d *Dashboard) handlerFunc { return d.wsMemberRemove })
	addRoute("POST /dashboard/workspaces/{ws}/settings/invitations/{id}/withdraw", func(d *Dashboard) handlerFunc { return d.wsWithdraw })
	addRoute("POST /dashboard/organizations/{org}/invite", func(d *Dashboard) handlerFunc { return d.orgInvite })
	addRoute("POST /dashboard/organizations/{org}/invitations/{id}/withdraw", func(d *Dashboard) handlerFunc { return d.orgWithdraw })
	addRoute("POST /dashboard/invitations/{id}/accept", func(d *Dashboard) handlerFunc { return d.acceptInvitation })
	addRoute("POST /dashboard/invitations/{id}/decline", func(d *Dashboard) handlerFunc { return d.declineInvitation })
}

type wsMembersData struct {
	IsAdmin   bool
	Members   []core.Member
	Pending   []*store.Invitation
	FormError string
	Levels    []store.Level
}

func (d *Dashboard) wsMembersPage(w http.ResponseWriter, r *http.Request, v *visit, status int, formErr string) error {
	ws, err := v.workspace(r.PathValue("ws"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	data := &wsMembersData{IsAdmin: ws.Level == store.LevelAdmin, FormError: formErr,
		Levels: []store.Level{store.LevelRead, store.LevelWrite, store.LevelAdmin}}
	if data.Members, err = d.deps.Service.WorkspaceMembers(ctx, v.P, ws.Workspace.ID); err != nil {
		return err
	}
	if data.IsAdmin {
		if data.Pending, err = d.deps.Service.PendingInvitations(ctx, v.P, store.TargetWorkspace, ws.Workspace.ID); err != nil {
			return err
		}
	}
	pg := v.wsPage(ws, "Members · "+ws.Workspace.Name, "members")
	pg.Data = data
	d.render(w, r, "workspace_members", status, pg)
	return nil
}

func (d *Dashboard) wsMembers(w http.ResponseWriter, r *http.Request, v *visit) error {
	return d.wsMembersPage(w, r, v, http.StatusOK, "")
}

func (d *Dashboard) wsInvite(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	perm := store.Level(r.PostFormValue("permission"))
	if email == "" || !perm.Valid() {
		return d.wsMembersPage(w, r, v, http.StatusBadRequest, "Enter an email address and choose a permission.")
	}
	if _, err := d.deps.Service.InviteWorkspaceMember(r.Context(), v.P, wsID, email, perm); err != nil {
		if status, msg := describe(err); status == http.StatusBadRequest || status == http.StatusConflict {
			return d.wsMembersPage(w, r, v, status, msg)
		}
		return err
	}
	redirect(w, r, "/dashboard/workspaces/"+wsID+"/settings/members", "invited")
	return nil
}

func (d *Dashboard) wsMemberPermission(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	perm := store.Level(r.PostFormValue("permission"))
	if !perm.Valid() {
		return badForm("Choose read, write or admin.")
	}
	if _, err := d.deps.Service.SetWorkspaceMember(r.Context(), v.P, wsID, r.PathValue("user"), perm); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/workspaces/"+wsID+"/settings/members", "permission")
	return nil
}

func (d *Dashboard) wsMemberRemove(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	uid := r.PathValue("user")
	if err := d.deps.Service.RemoveWorkspaceMember(r.Context(), v.P, wsID, uid); err != nil {
		return err
	}
	if uid == v.User.ID {
		redirect(w, r, "/dashboard", "left")
		return nil
	}
	redirect(w, r, "/dashboard/workspaces/"+wsID+"/settings/members", "removed")
	return nil
}

func (d *Dashboard) wsWithdraw(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	if err := d.deps.Service.WithdrawInvitation(r.Context(), v.P, store.TargetWorkspace, wsID, r.PathValue("id")); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/workspaces/"+wsID+"/settings/members", "withdrawn")
	return nil
}

func (d *Dashboard) orgInvite(w http.ResponseWriter, r *http.Request, v *visit) error {
	o, err := v.org(r.PathValue("org"))
	if err != nil {
		return err
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	role := store.OrgRole(r.PostFormValue("role"))
	if email == "" || !role.Valid() {
		return badForm("Enter an email address and choose a role.")
	}
	if _, err := d.deps.Service.InviteOrgMember(r.Context(), v.P, o.Org.ID, email, role); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/organizations/"+o.Org.ID, "invited")
	return nil
}

func (d *Dashboard) orgWithdraw(w http.ResponseWriter, r *http.Request, v *visit) error {
	o, err := v.org(r.PathValue("org"))
	if err != nil {
		return err
	}
	if err := d.deps.Service.WithdrawInvitation(r.Context(), v.P, store.TargetOrg, o.Org.ID, r.PathValue("id")); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/organizations/"+o.Org.ID, "withdrawn")
	return nil
}

func (d *Dashboard) acceptInvitation(w http.ResponseWriter, r *http.Request, v *visit) error {
	inv, err := d.deps.Service.AcceptInvitation(r.Context(), v.P, r.PathValue("id"))
	if err != nil {
		return err
	}
	if inv.TargetType == store.TargetWorkspace {
		redirect(w, r, "/dashboard/workspaces/"+inv.TargetID+"/workflows", "joined")
	} else {
		redirect(w, r, "/dashboard/organizations/"+inv.TargetID, "joined")
	}
	return nil
}

func (d *Dashboard) declineInvitation(w http.ResponseWriter, r *http.Request, v *visit) error {
	if err := d.deps.Service.DeclineInvitation(r.Context(), v.P, r.PathValue("id")); err != nil {
		return err
	}
	redirect(w, r, "/dashboard", "declined")
	return nil
}
