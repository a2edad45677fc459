package httpapi

import (
	"net/http"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
)

// Model providers of a workspace (agent, router and evaluator blocks). Reading needs
// read on the workspace, changes and test calls admin (decided in core). The API key
// goes in on create and never comes back.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/model-providers", a.listModelProviders())
		a.handle("POST /api/workspaces/{id}/model-providers", a.addModelProvider())
		a.handle("DELETE /api/workspaces/{id}/model-providers/{providerId}", a.removeModelProvider())
		a.handle("POST /api/workspaces/{id}/model-providers/{providerId}/test", a.testModelProvider())
	})
}

func (a *API) listModelProviders() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		ps, err := a.deps.Service.ListModelProviders(r.Context(), p, r.PathValue("id"))
		return answer(http.StatusOK, map[string]any{"providers": ps}, err)
	})
}

type modelProviderBody struct {
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	BaseURL      string   `json:"baseUrl"`
	APIKey       string   `json:"apiKey"`
	DefaultModel string   `json:"defaultModel"`
	Models       []string `json:"models"`
	IsDefault    bool     `json:"isDefault"`
	TimeoutMs    int64    `json:"timeoutMs"`
}

func (a *API) addModelProvider() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *modelProviderBody) (reply, error) {
		if b.Name == "" {
			return reply{}, badRequest("name", "name is required")
		}
		if b.TimeoutMs < 0 {
			return reply{}, badRequest("timeoutMs", "timeoutMs must not be negative")
		}
		info, err := a.deps.Service.AddModelProvider(r.Context(), p, r.PathValue("id"), core.ModelProviderInput{Name: b.Name, Kind: b.Kind,
			BaseURL: b.BaseURL, APIKey: b.APIKey, DefaultModel: b.DefaultModel, Models: b.Models, IsDefault: b.IsDefault,
			Timeout: time.Duration(b.TimeoutMs) * time.Millisecond})
		return answer(http.StatusCreated, map[string]any{"provider": info}, err)
	})
}

func (a *API) removeModelProvider() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		err := a.deps.Service.RemoveModelProvider(r.Context(), p, r.PathValue("id"), r.PathValue("providerId"))
		return answer(http.StatusOK, success, err)
	})
}

type modelProviderTestBody struct {
	Model string `json:"model"`
}

func (a *API) testModelProvider() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *modelProviderTestBody) (reply, error) {
		res, err := a.deps.Service.TestModelProvider(r.Context(), p, r.PathValue("id"), r.PathValue("providerId"), b.Model)
		return answer(http.StatusOK, res, err)
	})
}
