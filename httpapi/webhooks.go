package httpapi

import (
	"io"
	"net/http"

	"github.com/steelengine/steelengine/core"
)

// Triggers: Sim's generic webhook delivery URL, and the list of schedule and webhook
// triggers of deployed workflows. A delivery carries no API key: the webhook's own
// token (and optional HMAC signature) authenticates it, checked in core.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("POST /api/webhooks/trigger/{path}", a.deliverWebhook)
		a.handle("GET /api/v1/triggers", a.listTriggers)
	})
}

// deliverWebhook answers as Sim's route does once the run is queued:
// 200 {"message":"Webhook processed"} (plus the execution id).
func (a *API) deliverWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body) // capped by the server's MaxBodyBytes (10 MiB, as Sim)
	if err != nil {
		writeError(w, r, err)
		return
	}
	exec, err := a.deps.Service.DeliverWebhook(r.Context(), core.WebhookRequest{
		Path: r.PathValue("path"), Header: r.Header, Query: r.URL.Query(), Body: body})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Webhook processed", "executionId": exec.ID})
}

func (a *API) listTriggers(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	ws := r.URL.Query().Get("workspaceId")
	scheds, err := a.deps.Service.Schedules(r.Context(), p, ws)
	if err != nil {
		writeError(w, r, err)
		return
	}
	hooks, err := a.deps.Service.Webhooks(r.Context(), p, ws)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"schedules": scheds, "webhooks": hooks}})
}
