package embed

import (
	"net/http"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Workspace → Settings → API Keys: the user's personal keys, the workspace's keys (for
// its admins), the "allow personal keys" switch and the organization keys that reach
// the workspace.
func init() {
	addRoute("GET /dashboard/workspaces/{ws}/settings/api-keys", func(d *Dashboard) handlerFunc { return d.wsKeys })
	addRoute("POST /dashboard/workspaces/{ws}/settings/api-keys", func(d *Dashboard) handlerFunc { return d.wsKeyCreate })
	addRoute("POST /dashboard/workspaces/{ws}/settings/api-keys/{key}/revoke", wsKeys.revoke)
	addRoute("POST /dashboard/workspaces/{ws}/settings/api-keys/{key}/rotate", wsKeys.rotate)
	addRoute("POST /dashboard/workspaces/{ws}/settings/personal-keys", func(d *Dashboard) handlerFunc { return d.wsPersonalToggle })
}

type wsKeysData struct {
	IsAdmin  bool
	Personal []keyRow
	Keys     []keyRow
	OrgKeys  []keyRow
	// Apps are the OAuth grants reaching the workspace (admins only), with the
	// consenting user's email in Names.
	Apps      []*store.OAuthGrant
	Names     map[string]string
	Workflows []*store.Workflow
	New       *newKey
	FormError string
	Expiry    any
	Grace     any
}

func (d *Dashboard) wsKeysPage(w http.ResponseWriter, r *http.Request, v *visit, status int, nk *newKey, formErr string) error {
	ctx := r.Context()
	ws, err := v.workspace(r.PathValue("ws"))
	if err != nil {
		return err
	}
	svc := d.deps.Service
	data := &wsKeysData{IsAdmin: ws.Level == store.LevelAdmin, New: nk, FormError: formErr, Expiry: expiryChoices, Grace: graceChoices}
	names := map[string]string{"operator": "operator (CLI)"}
	if ms, err := svc.WorkspaceMembers(ctx, v.P, ws.Workspace.ID); err == nil {
		for _, m := range ms {
			names[m.User.ID] = m.User.Email
		}
	}
	names[v.User.ID] = v.User.Email
	if data.Workflows, err = svc.ListWorkflows(ctx, v.P, ws.Workspace.ID); err != nil {
		return err
	}
	for _, wf := range data.Workflows {
		names[wf.ID] = wf.Name
	}
	names[ws.Workspace.ID] = ws.Workspace.Name
	now := time.Now()
	pk, err := d.deps.Resolver.Keys(ctx, v.P, store.KeyFilter{Type: store.KeyPersonal, UserID: v.User.ID})
	if err != nil {
		return err
	}
	data.Personal = rows(pk, names, now)
	if data.IsAdmin {
		wk, err := d.deps.Resolver.Keys(ctx, v.P, store.KeyFilter{Type: store.KeyWorkspace, WorkspaceID: ws.Workspace.ID})
		if err != nil {
			return err
		}
		data.Keys = rows(wk, names, now)
		ok, err := svc.OrgKeysReachingWorkspace(ctx, v.P, ws.Workspace.ID)
		if err != nil {
			return err
		}
		data.OrgKeys = rows(ok, names, now)
		if data.Apps, err = d.deps.Resolver.WorkspaceConnectedApps(ctx, v.P, ws.Workspace.ID); err != nil {
			return err
		}
		data.Names = names
	}
	if nk != nil {
		nk.Row = row(nk.Row.Key, names, now)
	}
	pg := v.wsPage(ws, "API keys · "+ws.Workspace.Name, "keys")
	pg.Data = data
	d.render(w, r, "workspace_keys", status, pg)
	return nil
}

func (d *Dashboard) wsKeys(w http.ResponseWriter, r *http.Request, v *visit) error {
	return d.wsKeysPage(w, r, v, http.StatusOK, nil, "")
}

func (d *Dashboard) wsKeyCreate(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	typ := store.KeyType(r.PostFormValue("type"))
	req, err := keyOptions(r, typ)
	if err == nil {
		switch typ {
		case store.KeyPersonal:
			req.UserID = v.User.ID
		case store.KeyWorkspace:
			req.WorkspaceID = wsID
			req.Level = store.Level(r.PostFormValue("level"))
			if !req.Level.Valid() {
				err = badForm("Choose the key's level: read, write or admin.")
			}
			req.Workflows = r.PostForm["workflow"]
		default:
			err = badForm("Choose a personal or a workspace key.")
		}
	}
	if err == nil {
		var plain string
		var k *store.APIKey
		if plain, k, err = d.deps.Resolver.CreateKey(r.Context(), v.P, req); err == nil {
			return d.wsKeysPage(w, r, v, http.StatusCreated, &newKey{Plain: plain, Row: keyRow{Key: k}}, "")
		}
	}
	status, msg := describe(err)
	if status >= 500 {
		return err
	}
	return d.wsKeysPage(w, r, v, status, nil, msg)
}

// wsKey finds a key the user manages on this page: one of their personal keys, or one
// of the workspace's keys.
func (d *Dashboard) wsKey(r *http.Request, v *visit) (*store.APIKey, error) {
	wsID, id := r.PathValue("ws"), r.PathValue("key")
	if _, err := v.workspace(wsID); err != nil {
		return nil, err
	}
	if k, err := d.findKey(r.Context(), v.P, store.KeyFilter{Type: store.KeyPersonal, UserID: v.User.ID}, id); err == nil {
		return k, nil
	}
	return d.findKey(r.Context(), v.P, store.KeyFilter{Type: store.KeyWorkspace, WorkspaceID: wsID}, id)
}

// wsKeys is the workspace's API keys page (its keys and the user's personal keys).
var wsKeys = keyPage{
	find: (*Dashboard).wsKey,
	list: func(r *http.Request) string {
		return "/dashboard/workspaces/" + r.PathValue("ws") + "/settings/api-keys"
	},
	render: (*Dashboard).wsKeysPage,
}

// rotate replaces k and returns the successor (shown once) with the old key's grace.
func (d *Dashboard) rotate(r *http.Request, p *auth.Principal, k *store.APIKey, grace time.Duration) (*newKey, error) {
	plain, nk, err := d.deps.Resolver.RotateKey(r.Context(), p, k.ID, grace)
	if err != nil {
		return nil, err
	}
	// The successor carries the old key's settings; name and scope come from the old one.
	shown := *k
	shown.ID, shown.Suffix, shown.CreatedAt, shown.CreatedBy = nk.ID, nk.Suffix, nk.CreatedAt, nk.CreatedBy
	shown.GraceUntil, shown.RotatedTo, shown.LastUsedAt = nil, "", nil
	out := &newKey{Plain: plain, Row: keyRow{Key: &shown}}
	if grace > 0 {
		t := time.Now().Add(grace)
		out.Grace = &t
	}
	return out, nil
}

func (d *Dashboard) wsPersonalToggle(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	allow := r.PostFormValue("allow") == "true"
	if _, err := d.deps.Service.UpdateWorkspace(r.Context(), v.P, wsID, core.WorkspacePatch{AllowPersonalKeys: &allow}); err != nil {
		return err
	}
	notice := "personal-off"
	if allow {
		notice = "personal-on"
	}
	redirect(w, r, "/dashboard/workspaces/"+wsID+"/settings/api-keys", notice)
	return nil
}
