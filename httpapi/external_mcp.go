package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/auth"
)

// External MCP servers whose tools a workspace's agents may call. Reading needs read on
// the workspace, changes admin (decided in core); header values go in and never come back.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/external-mcp-servers", a.listExternalMCP())
		a.handle("POST /api/workspaces/{id}/external-mcp-servers", a.addExternalMCP())
		a.handle("DELETE /api/workspaces/{id}/external-mcp-servers/{serverId}", a.removeExternalMCP())
	})
}

func (a *API) listExternalMCP() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		ms, err := a.deps.Service.ListExternalMCPServers(r.Context(), p, r.PathValue("id"))
		return answer(http.StatusOK, map[string]any{"servers": ms}, err)
	})
}

type externalMCPBody struct {
	Name    string            `json:"name"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

func (a *API) addExternalMCP() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *externalMCPBody) (reply, error) {
		if b.Name == "" || b.URL == "" {
			return reply{}, badRequest("name", "name and url are required")
		}
		m, err := a.deps.Service.AddExternalMCPServer(r.Context(), p, r.PathValue("id"), b.Name, b.URL, b.Headers)
		return answer(http.StatusCreated, map[string]any{"server": m}, err)
	})
}

func (a *API) removeExternalMCP() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		err := a.deps.Service.RemoveExternalMCPServer(r.Context(), p, r.PathValue("id"), r.PathValue("serverId"))
		return answer(http.StatusOK, success, err)
	})
}
