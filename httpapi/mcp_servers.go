package httpapi

import (
	"net/http"
	"strings"

	"github.com/steelengine/steelengine/store"
)

// MCP server objects: named sets of one workspace's workflows served at
// /api/mcp/serve/{id}. Changes need admin on the workspace (decided in core).
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/mcp-servers", a.listMCPServers)
		a.handle("POST /api/workspaces/{id}/mcp-servers", a.createMCPServer)
		a.handle("GET /api/mcp-servers/{id}", a.getMCPServer)
		a.handle("PATCH /api/mcp-servers/{id}", a.updateMCPServer)
		a.handle("DELETE /api/mcp-servers/{id}", a.deleteMCPServer)
	})
}

func mcpServerView(m *store.MCPServer) map[string]any {
	return map[string]any{
		"id": m.ID, "workspaceId": m.WorkspaceID, "name": m.Name, "description": m.Description,
		"workflowIds": nonNil(m.WorkflowIDs), "createdBy": m.CreatedBy, "createdAt": m.CreatedAt, "updatedAt": m.UpdatedAt,
		"url": "/api/mcp/serve/" + m.ID,
	}
}

func (a *API) listMCPServers(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	ms, err := a.deps.Service.ListMCPServers(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		out = append(out, mcpServerView(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"servers": out})
}

func (a *API) createMCPServer(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		WorkflowIDs []string `json:"workflowIds"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if strings.TrimSpace(body.Name) == "" {
		writeError(w, r, badRequest("name", "name is required"))
		return
	}
	m := &store.MCPServer{WorkspaceID: r.PathValue("id"), Name: strings.TrimSpace(body.Name), Description: body.Description, WorkflowIDs: nonNil(body.WorkflowIDs)}
	if err := a.deps.Service.CreateMCPServer(r.Context(), p, m); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"server": mcpServerView(m)})
}

func (a *API) getMCPServer(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	m, err := a.deps.Service.GetMCPServer(r.Context(), p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"server": mcpServerView(m)})
}

func (a *API) updateMCPServer(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		Name        *string   `json:"name"`
		Description *string   `json:"description"`
		WorkflowIDs *[]string `json:"workflowIds"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if body.Name != nil && strings.TrimSpace(*body.Name) == "" {
		writeError(w, r, badRequest("name", "name must not be empty"))
		return
	}
	m, err := a.deps.Service.UpdateMCPServer(r.Context(), p, r.PathValue("id"), func(m *store.MCPServer) error {
		if body.Name != nil {
			m.Name = strings.TrimSpace(*body.Name)
		}
		if body.Description != nil {
			m.Description = *body.Description
		}
		if body.WorkflowIDs != nil {
			m.WorkflowIDs = nonNil(*body.WorkflowIDs)
		}
		return nil
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"server": mcpServerView(m)})
}

func (a *API) deleteMCPServer(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	if err := a.deps.Service.DeleteMCPServer(r.Context(), p, r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}
