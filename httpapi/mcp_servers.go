package httpapi

import (
	"net/http"
	"strings"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// MCP server objects: named sets of one workspace's workflows served at
// /api/mcp/serve/{id}. Changes need admin on the workspace (decided in core).
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/workspaces/{id}/mcp-servers", a.listMCPServers())
		a.handle("POST /api/workspaces/{id}/mcp-servers", a.createMCPServer())
		a.handle("GET /api/mcp-servers/{id}", a.getMCPServer())
		a.handle("PATCH /api/mcp-servers/{id}", a.updateMCPServer())
		a.handle("DELETE /api/mcp-servers/{id}", a.deleteMCPServer())
	})
}

func mcpServerView(m *store.MCPServer) map[string]any {
	return map[string]any{
		"id": m.ID, "workspaceId": m.WorkspaceID, "name": m.Name, "description": m.Description,
		"workflowIds": nonNil(m.WorkflowIDs), "createdBy": m.CreatedBy, "createdAt": m.CreatedAt, "updatedAt": m.UpdatedAt,
		"url": "/api/mcp/serve/" + m.ID,
	}
}

func (a *API) listMCPServers() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		ms, err := a.deps.Service.ListMCPServers(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		out := make([]map[string]any, 0, len(ms))
		for _, m := range ms {
			out = append(out, mcpServerView(m))
		}
		return reply{http.StatusOK, map[string]any{"servers": out}}, nil
	})
}

type mcpServerCreateBody struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	WorkflowIDs []string `json:"workflowIds"`
}

func (a *API) createMCPServer() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *mcpServerCreateBody) (reply, error) {
		if strings.TrimSpace(b.Name) == "" {
			return reply{}, badRequest("name", "name is required")
		}
		m := &store.MCPServer{WorkspaceID: r.PathValue("id"), Name: strings.TrimSpace(b.Name), Description: b.Description, WorkflowIDs: nonNil(b.WorkflowIDs)}
		if err := a.deps.Service.CreateMCPServer(r.Context(), p, m); err != nil {
			return reply{}, err
		}
		return reply{http.StatusCreated, map[string]any{"server": mcpServerView(m)}}, nil
	})
}

func (a *API) getMCPServer() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		m, err := a.deps.Service.GetMCPServer(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"server": mcpServerView(m)}}, nil
	})
}

type mcpServerUpdateBody struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	WorkflowIDs *[]string `json:"workflowIds"`
}

func (a *API) updateMCPServer() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, b *mcpServerUpdateBody) (reply, error) {
		if b.Name != nil && strings.TrimSpace(*b.Name) == "" {
			return reply{}, badRequest("name", "name must not be empty")
		}
		m, err := a.deps.Service.UpdateMCPServer(r.Context(), p, r.PathValue("id"), func(m *store.MCPServer) error {
			if b.Name != nil {
				m.Name = strings.TrimSpace(*b.Name)
			}
			if b.Description != nil {
				m.Description = *b.Description
			}
			if b.WorkflowIDs != nil {
				m.WorkflowIDs = nonNil(*b.WorkflowIDs)
			}
			return nil
		})
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"server": mcpServerView(m)}}, nil
	})
}

func (a *API) deleteMCPServer() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		err := a.deps.Service.DeleteMCPServer(r.Context(), p, r.PathValue("id"))
		return answer(http.StatusOK, success, err)
	})
}
