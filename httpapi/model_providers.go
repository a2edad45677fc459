package httpapi

import (
	"net/http"
	"time"

	"github.com/steelengine/steelengine/core"
)

// Model providers of a workspace (agent, router and evaluator blocks). Reading needs
// read on the workspace, changes and test calls admin (decided in core). The API key
// goes in on create and never comes back.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/model-providers", a.listModelProviders)
		a.handle("POST /api/workspaces/{id}/model-providers", a.addModelProvider)
		a.handle("DELETE /api/workspaces/{id}/model-providers/{providerId}", a.removeModelProvider)
		a.handle("POST /api/workspaces/{id}/model-providers/{providerId}/test", a.testModelProvider)
	})
}

func (a *API) listModelProviders(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	ps, err := a.deps.Service.ListModelProviders(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": ps})
}

func (a *API) addModelProvider(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Name         string   `json:"name"`
		Kind         string   `json:"kind"`
		BaseURL      string   `json:"baseUrl"`
		APIKey       string   `json:"apiKey"`
		DefaultModel string   `json:"defaultModel"`
		Models       []string `json:"models"`
		IsDefault    bool     `json:"isDefault"`
		TimeoutMs    int64    `json:"timeoutMs"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Name == "" {
		writeError(w, r, badRequest("name", "name is required"))
		return
	}
	if body.TimeoutMs < 0 {
		writeError(w, r, badRequest("timeoutMs", "timeoutMs must not be negative"))
		return
	}
	info, err := a.deps.Service.AddModelProvider(r.Context(), p, r.PathValue("id"), core.ModelProviderInput{Name: body.Name, Kind: body.Kind,
		BaseURL: body.BaseURL, APIKey: body.APIKey, DefaultModel: body.DefaultModel, Models: body.Models, IsDefault: body.IsDefault,
		Timeout: time.Duration(body.TimeoutMs) * time.Millisecond})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"provider": info})
}

func (a *API) removeModelProvider(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	if err := a.deps.Service.RemoveModelProvider(r.Context(), p, r.PathValue("id"), r.PathValue("providerId")); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}

func (a *API) testModelProvider(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Model string `json:"model"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	res, err := a.deps.Service.TestModelProvider(r.Context(), p, r.PathValue("id"), r.PathValue("providerId"), body.Model)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
