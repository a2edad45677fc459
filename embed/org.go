package embed

import (
	"net/http"
	"strings"
	"time"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Organization pages: members and workspaces for every member; Settings → API Keys
// (organization keys and their grants) for owners and admins.
func init() {
	addRoute("GET /dashboard/organizations/{org}", func(d *Dashboard) handlerFunc { return d.orgOverview })
	addRoute("POST /dashboard/organizations/{org}/workspaces/{ws}/remove", func(d *Dashboard) handlerFunc { return d.orgRemoveWorkspace })
	addRoute("GET /dashboard/organizations/{org}/settings/api-keys", func(d *Dashboard) handlerFunc { return d.orgKeys })
	addRoute("POST /dashboard/organizations/{org}/settings/api-keys", func(d *Dashboard) handlerFunc { return d.orgKeyCreate })
	addRoute("POST /dashboard/organizations/{org}/settings/api-keys/{key}/revoke", orgKeys.revoke)
	addRoute("POST /dashboard/organizations/{org}/settings/api-keys/{key}/rotate", orgKeys.rotate)
}

type orgData struct {
	IsAdmin    bool
	Members    []core.OrgMember
	Workspaces []core.OrgWorkspace
	// Reachable marks the org's workspaces the user can open.
	Reachable map[string]bool
	Pending   []*store.Invitation
	Roles     []store.OrgRole
}

func (d *Dashboard) orgOverview(w http.ResponseWriter, r *http.Request, v *visit) error {
	o, err := v.org(r.PathValue("org"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	data := &orgData{IsAdmin: o.Level == store.LevelAdmin, Reachable: map[string]bool{}}
	if data.Members, err = d.deps.Service.OrgMembers(ctx, v.P, o.Org.ID); err != nil {
		return err
	}
	if data.Workspaces, err = d.deps.Service.OrgWorkspaces(ctx, v.P, o.Org.ID); err != nil {
		return err
	}
	for _, ws := range v.loadNav().Workspaces {
		data.Reachable[ws.Workspace.ID] = true
	}
	if data.IsAdmin {
		data.Roles = []store.OrgRole{store.RoleMember, store.RoleAdmin, store.RoleOwner}
		if data.Pending, err = d.deps.Service.PendingInvitations(ctx, v.P, store.TargetOrg, o.Org.ID); err != nil {
			return err
		}
	}
	pg := v.orgPage(o, o.Org.Name, "org")
	pg.Data = data
	d.render(w, r, "org", http.StatusOK, pg)
	return nil
}

func (d *Dashboard) orgRemoveWorkspace(w http.ResponseWriter, r *http.Request, v *visit) error {
	o, err := v.org(r.PathValue("org"))
	if err != nil {
		return err
	}
	wsID := r.PathValue("ws")
	ws, err := d.deps.Service.GetWorkspace(r.Context(), v.P, wsID)
	if err != nil {
		return err
	}
	if ws.Workspace.OrgID != o.Org.ID {
		return &core.Error{Status: http.StatusNotFound, Code: "not_found", Message: "That workspace is not in this organization."}
	}
	none := ""
	if _, err := d.deps.Service.UpdateWorkspace(r.Context(), v.P, wsID, core.WorkspacePatch{OrgID: &none}); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/organizations/"+o.Org.ID, "moved-out")
	return nil
}

type orgKeysData struct {
	Keys       []keyRow
	Workspaces []core.OrgWorkspace
	New        *newKey
	FormError  string
	Expiry     any
	Grace      any
	Levels     []store.Level
	GrantRows  []int
}

func (d *Dashboard) orgKeysPage(w http.ResponseWriter, r *http.Request, v *visit, status int, nk *newKey, formErr string) error {
	o, err := v.org(r.PathValue("org"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	pg := v.orgPage(o, "API keys · "+o.Org.Name, "org-keys")
	if o.Level != store.LevelAdmin {
		pg.Data = (*orgKeysData)(nil)
		d.render(w, r, "org_keys", http.StatusForbidden, pg)
		return nil
	}
	data := &orgKeysData{New: nk, FormError: formErr, Expiry: expiryChoices, Grace: graceChoices,
		Levels: []store.Level{store.LevelRead, store.LevelWrite, store.LevelAdmin}, GrantRows: []int{0, 1, 2}}
	names := map[string]string{"operator": "operator (CLI)"}
	if ms, err := d.deps.Service.OrgMembers(ctx, v.P, o.Org.ID); err == nil {
		for _, m := range ms {
			names[m.User.ID] = m.User.Email
		}
	}
	if data.Workspaces, err = d.deps.Service.OrgWorkspaces(ctx, v.P, o.Org.ID); err != nil {
		return err
	}
	for _, ow := range data.Workspaces {
		names[ow.Workspace.ID] = ow.Workspace.Name
		for _, wf := range ow.Workflows {
			names[wf.ID] = ow.Workspace.Name + " / " + wf.Name
		}
	}
	ks, err := d.deps.Resolver.Keys(ctx, v.P, store.KeyFilter{Type: store.KeyOrganization, OrgID: o.Org.ID})
	if err != nil {
		return err
	}
	now := time.Now()
	data.Keys = rows(ks, names, now)
	if nk != nil {
		nk.Row = row(nk.Row.Key, names, now)
	}
	pg.Data = data
	d.render(w, r, "org_keys", status, pg)
	return nil
}

func (d *Dashboard) orgKeys(w http.ResponseWriter, r *http.Request, v *visit) error {
	return d.orgKeysPage(w, r, v, http.StatusOK, nil, "")
}

// grants reads the grant editor's rows: grant_target ("workspace:ID" or
// "workflow:ID") and grant_level, paired by position; empty rows are skipped.
func grants(r *http.Request) ([]store.Grant, error) {
	targets, levels := r.PostForm["grant_target"], r.PostForm["grant_level"]
	if len(targets) != len(levels) || len(targets) > 200 {
		return nil, badForm("The grant rows are incomplete. Reload the page and try again.")
	}
	var out []store.Grant
	for i, t := range targets {
		if t == "" {
			continue
		}
		kind, id, ok := strings.Cut(t, ":")
		g := store.Grant{TargetType: store.TargetType(kind), TargetID: id, Level: store.Level(levels[i])}
		if !ok || id == "" || (g.TargetType != store.TargetWorkspace && g.TargetType != store.TargetWorkflow) {
			return nil, badForm("A grant names a workspace or a workflow of this organization.")
		}
		if !g.Level.Valid() {
			return nil, badForm("Each grant needs a level: read, write or admin.")
		}
		out = append(out, g)
	}
	if len(out) == 0 {
		return nil, badForm("An organization key needs at least one grant: pick a workspace or a workflow and a level.")
	}
	return out, nil
}

func (d *Dashboard) orgKeyCreate(w http.ResponseWriter, r *http.Request, v *visit) error {
	o, err := v.org(r.PathValue("org"))
	if err != nil {
		return err
	}
	req, err := keyOptions(r, store.KeyOrganization)
	if err == nil {
		req.OrgID = o.Org.ID
		req.Grants, err = grants(r)
	}
	if err == nil {
		plain, k, err2 := d.deps.Resolver.CreateKey(r.Context(), v.P, req)
		if err2 == nil {
			return d.orgKeysPage(w, r, v, http.StatusCreated, &newKey{Plain: plain, Row: keyRow{Key: k}}, "")
		}
		err = err2
	}
	status, msg := describe(err)
	if status >= 500 {
		return err
	}
	if status == http.StatusForbidden {
		return err
	}
	return d.orgKeysPage(w, r, v, status, nil, msg)
}

func (d *Dashboard) orgKey(r *http.Request, v *visit) (*store.APIKey, error) {
	o, err := v.org(r.PathValue("org"))
	if err != nil {
		return nil, err
	}
	return d.findKey(r.Context(), v.P, store.KeyFilter{Type: store.KeyOrganization, OrgID: o.Org.ID}, r.PathValue("key"))
}

// orgKeys is the organization's API keys page.
var orgKeys = keyPage{
	find: (*Dashboard).orgKey,
	list: func(r *http.Request) string {
		return "/dashboard/organizations/" + r.PathValue("org") + "/settings/api-keys"
	},
	render: (*Dashboard).orgKeysPage,
}
