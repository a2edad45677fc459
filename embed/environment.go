package embed

import (
	"net/http"
	"strings"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Environment variables: the workspace's (admins set them, members see the names) and
// the user's own personal ones, which override the workspace's in the runs they start.
// Values are write-only: no page ever shows one.
func init() {
	addRoute("GET /dashboard/workspaces/{ws}/settings/environment", func(d *Dashboard) handlerFunc { return d.environment })
	addRoute("POST /dashboard/workspaces/{ws}/settings/environment", func(d *Dashboard) handlerFunc { return d.environmentSet })
	addRoute("POST /dashboard/workspaces/{ws}/settings/environment/unset", func(d *Dashboard) handlerFunc { return d.environmentUnset })
}

type envRow struct {
	core.EnvVarInfo
	By string
}

type envData struct {
	IsAdmin   bool
	Workspace []envRow
	Personal  []envRow
	FormError string
	Scope     string
	Name      string
}

func (d *Dashboard) environmentPage(w http.ResponseWriter, r *http.Request, v *visit, status int, formErr, scope, name string) error {
	ws, err := v.workspace(r.PathValue("ws"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	names := map[string]string{"operator": "operator (CLI)", v.User.ID: v.User.Email}
	if ms, err := d.deps.Service.WorkspaceMembers(ctx, v.P, ws.Workspace.ID); err == nil {
		for _, m := range ms {
			names[m.User.ID] = m.User.Email
		}
	}
	rows := func(vs []core.EnvVarInfo) []envRow {
		out := make([]envRow, len(vs))
		for i, e := range vs {
			out[i] = envRow{EnvVarInfo: e, By: nameOr(names, e.UpdatedBy)}
		}
		return out
	}
	data := &envData{IsAdmin: ws.Level == store.LevelAdmin, FormError: formErr, Scope: scope, Name: name}
	wv, err := d.deps.Service.ListEnv(ctx, v.P, core.EnvScope{WorkspaceID: ws.Workspace.ID})
	if err != nil {
		return err
	}
	pv, err := d.deps.Service.ListEnv(ctx, v.P, core.EnvScope{Personal: true})
	if err != nil {
		return err
	}
	data.Workspace, data.Personal = rows(wv), rows(pv)
	if data.Scope == "" {
		data.Scope = "personal"
		if data.IsAdmin {
			data.Scope = "workspace"
		}
	}
	pg := v.wsPage(ws, "Environment · "+ws.Workspace.Name, "environment")
	pg.Data = data
	d.render(w, r, "environment", status, pg)
	return nil
}

func (d *Dashboard) environment(w http.ResponseWriter, r *http.Request, v *visit) error {
	return d.environmentPage(w, r, v, http.StatusOK, "", "", "")
}

// envScope reads the form's scope: the workspace's variables or the user's own.
func envScope(r *http.Request) (core.EnvScope, string, error) {
	switch s := r.PostFormValue("scope"); s {
	case "workspace":
		return core.EnvScope{WorkspaceID: r.PathValue("ws")}, s, nil
	case "personal":
		return core.EnvScope{Personal: true}, s, nil
	}
	return core.EnvScope{}, "", badForm("Choose whether the variable belongs to the workspace or to you.")
}

func (d *Dashboard) environmentSet(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	sc, scope, err := envScope(r)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	if _, err := d.deps.Service.SetEnv(r.Context(), v.P, sc, name, r.PostFormValue("value")); err != nil {
		status, msg := describe(err)
		if status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge {
			return d.environmentPage(w, r, v, status, msg, scope, name)
		}
		return err
	}
	redirect(w, r, "/dashboard/workspaces/"+wsID+"/settings/environment", "env-set")
	return nil
}

func (d *Dashboard) environmentUnset(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	sc, _, err := envScope(r)
	if err != nil {
		return err
	}
	if err := d.deps.Service.UnsetEnv(r.Context(), v.P, sc, r.PostFormValue("name")); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/workspaces/"+wsID+"/settings/environment", "env-unset")
	return nil
}
