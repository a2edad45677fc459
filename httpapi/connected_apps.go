package httpapi

import (
	"net/http"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// Connected apps: the OAuth grants users gave MCP clients. A user lists and revokes
// their own; workspace admins see which apps reach their workspace.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/users/me/connected-apps", a.listMyConnectedApps())
		a.handle("DELETE /api/users/me/connected-apps/{id}", a.revokeMyConnectedApp())
		a.handle("GET /api/workspaces/{id}/connected-apps", a.listWorkspaceConnectedApps())
	})
}

type connectedAppView struct {
	ID           string      `json:"id"`
	ClientID     string      `json:"clientId"`
	ClientName   string      `json:"clientName"`
	RedirectHost string      `json:"redirectHost"`
	UserID       string      `json:"userId"`
	WorkspaceID  string      `json:"workspaceId"`
	WorkflowIDs  []string    `json:"workflowIds"`
	Level        store.Level `json:"level"`
	Resource     string      `json:"resource"`
	CreatedAt    time.Time   `json:"createdAt"`
	LastUsedAt   *time.Time  `json:"lastUsedAt"`
	ExpiresAt    time.Time   `json:"expiresAt"`
}

func connectedAppViews(gs []*store.OAuthGrant) []connectedAppView {
	out := make([]connectedAppView, 0, len(gs))
	for _, g := range gs {
		wfs := g.Workflows
		if wfs == nil {
			wfs = []string{}
		}
		out = append(out, connectedAppView{ID: g.ID, ClientID: g.ClientID, ClientName: g.ClientName, RedirectHost: g.RedirectHost,
			UserID: g.UserID, WorkspaceID: g.WorkspaceID, WorkflowIDs: wfs, Level: g.Level, Resource: g.Resource,
			CreatedAt: g.CreatedAt, LastUsedAt: g.LastUsedAt, ExpiresAt: g.ExpiresAt})
	}
	return out
}

func (a *API) listMyConnectedApps() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		gs, err := a.deps.Resolver.ConnectedApps(r.Context(), p)
		return answer(http.StatusOK, map[string]any{"connectedApps": connectedAppViews(gs)}, err)
	})
}

func (a *API) revokeMyConnectedApp() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		g, err := a.deps.Resolver.RevokeConnectedApp(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return reply{}, err
		}
		return reply{http.StatusOK, map[string]any{"connectedApp": connectedAppViews([]*store.OAuthGrant{g})[0]}}, nil
	})
}

func (a *API) listWorkspaceConnectedApps() http.HandlerFunc {
	return mgmt(a, func(r *http.Request, p *auth.Principal, _ *struct{}) (reply, error) {
		gs, err := a.deps.Resolver.WorkspaceConnectedApps(r.Context(), p, r.PathValue("id"))
		return answer(http.StatusOK, map[string]any{"connectedApps": connectedAppViews(gs)}, err)
	})
}
