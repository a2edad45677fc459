package embed

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// Model providers of a workspace: where agent, router and evaluator blocks send their
// model calls. Keys are write-only, like environment variables.
func init() {
	addRoute("GET /dashboard/workspaces/{ws}/settings/providers", func(d *Dashboard) handlerFunc { return d.providers })
	addRoute("POST /dashboard/workspaces/{ws}/settings/providers", func(d *Dashboard) handlerFunc { return d.providerAdd })
	addRoute("POST /dashboard/workspaces/{ws}/settings/providers/{id}/remove", func(d *Dashboard) handlerFunc { return d.providerRemove })
	addRoute("POST /dashboard/workspaces/{ws}/settings/providers/{id}/test", func(d *Dashboard) handlerFunc { return d.providerTest })
}

type providersData struct {
	IsAdmin   bool
	Providers []*core.ModelProviderInfo
	FormError string
	Kinds     []string
	Tested    *core.ModelProviderTest
	TestedOf  string
}

func (d *Dashboard) providersPage(w http.ResponseWriter, r *http.Request, v *visit, status int, data *providersData) error {
	ws, err := v.workspace(r.PathValue("ws"))
	if err != nil {
		return err
	}
	data.IsAdmin = ws.Level == store.LevelAdmin
	data.Kinds = []string{engine.ProviderOpenAI, engine.ProviderAnthropic}
	if data.Providers, err = d.deps.Service.ListModelProviders(r.Context(), v.P, ws.Workspace.ID); err != nil {
		return err
	}
	pg := v.wsPage(ws, "Model providers · "+ws.Workspace.Name, "providers")
	pg.Data = data
	d.render(w, r, "providers", status, pg)
	return nil
}

func (d *Dashboard) providers(w http.ResponseWriter, r *http.Request, v *visit) error {
	return d.providersPage(w, r, v, http.StatusOK, &providersData{})
}

func (d *Dashboard) providerAdd(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	in := core.ModelProviderInput{Name: r.PostFormValue("name"), Kind: r.PostFormValue("kind"), BaseURL: r.PostFormValue("base_url"),
		APIKey: r.PostFormValue("api_key"), DefaultModel: r.PostFormValue("default_model"), IsDefault: r.PostFormValue("is_default") == "true"}
	for _, m := range strings.FieldsFunc(r.PostFormValue("models"), func(c rune) bool { return c == ',' || c == '\n' || c == ' ' || c == '\r' }) {
		in.Models = append(in.Models, m)
	}
	if s := strings.TrimSpace(r.PostFormValue("timeout")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return d.providersPage(w, r, v, http.StatusBadRequest, &providersData{FormError: "Timeout must be a whole number of seconds."})
		}
		in.Timeout = time.Duration(n) * time.Second
	}
	if _, err := d.deps.Service.AddModelProvider(r.Context(), v.P, wsID, in); err != nil {
		if status, msg := describe(err); status == http.StatusBadRequest || status == http.StatusConflict {
			return d.providersPage(w, r, v, status, &providersData{FormError: msg})
		}
		return err
	}
	redirect(w, r, "/dashboard/workspaces/"+wsID+"/settings/providers", "provider-added")
	return nil
}

func (d *Dashboard) providerRemove(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	if err := d.deps.Service.RemoveModelProvider(r.Context(), v.P, wsID, r.PathValue("id")); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/workspaces/"+wsID+"/settings/providers", "provider-removed")
	return nil
}

// providerTest makes one small call with the provider's key and shows how it went.
func (d *Dashboard) providerTest(w http.ResponseWriter, r *http.Request, v *visit) error {
	wsID := r.PathValue("ws")
	if _, err := v.workspace(wsID); err != nil {
		return err
	}
	res, err := d.deps.Service.TestModelProvider(r.Context(), v.P, wsID, r.PathValue("id"), r.PostFormValue("model"))
	if err != nil {
		if status, msg := describe(err); status == http.StatusBadRequest {
			return d.providersPage(w, r, v, status, &providersData{FormError: msg})
		}
		return err
	}
	return d.providersPage(w, r, v, http.StatusOK, &providersData{Tested: res, TestedOf: r.PathValue("id")})
}
