package embed

import (
	"net/http"

	"github.com/steelengine/steelengine/core"
)

func (d *Dashboard) home(w http.ResponseWriter, r *http.Request, v *visit) error {
	invs, err := d.deps.Service.MyInvitations(r.Context(), v.P)
	if err != nil {
		return err
	}
	pg := v.page("Home", "home")
	pg.Data = invs
	d.render(w, r, "home", http.StatusOK, pg)
	return nil
}

// workspace loads a workspace the user can read; anything else reads as not found.
func (v *visit) workspace(id string) (*core.WorkspaceAccess, error) {
	ws, err := v.d.deps.Service.GetWorkspace(v.r.Context(), v.P, id)
	if err != nil {
		return nil, hiddenAsNotFound(err)
	}
	return ws, nil
}

// org loads an organization the user belongs to; anything else reads as not found.
func (v *visit) org(id string) (*core.OrgAccess, error) {
	o, err := v.d.deps.Service.GetOrg(v.r.Context(), v.P, id)
	if err != nil {
		return nil, hiddenAsNotFound(err)
	}
	return o, nil
}

// wsPage starts a page inside a workspace.
func (v *visit) wsPage(ws *core.WorkspaceAccess, title, section string) *page {
	pg := v.page(title, section)
	pg.Workspace = ws
	return pg
}

// orgPage starts a page inside an organization.
func (v *visit) orgPage(o *core.OrgAccess, title, section string) *page {
	pg := v.page(title, section)
	pg.Org = o
	return pg
}
