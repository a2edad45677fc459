package httpapi

import "net/http"

// External MCP servers whose tools a workspace's agents may call. Reading needs read on
// the workspace, changes admin (decided in core); header values go in and never come back.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/external-mcp-servers", a.listExternalMCP)
		a.handle("POST /api/workspaces/{id}/external-mcp-servers", a.addExternalMCP)
		a.handle("DELETE /api/workspaces/{id}/external-mcp-servers/{serverId}", a.removeExternalMCP)
	})
}

func (a *API) listExternalMCP(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	ms, err := a.deps.Service.ListExternalMCPServers(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"servers": ms})
}

func (a *API) addExternalMCP(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Name    string            `json:"name"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Name == "" || body.URL == "" {
		writeError(w, r, badRequest("name", "name and url are required"))
		return
	}
	m, err := a.deps.Service.AddExternalMCPServer(r.Context(), p, r.PathValue("id"), body.Name, body.URL, body.Headers)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"server": m})
}

func (a *API) removeExternalMCP(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	if err := a.deps.Service.RemoveExternalMCPServer(r.Context(), p, r.PathValue("id"), r.PathValue("serverId")); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}
