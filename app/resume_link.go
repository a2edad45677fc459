package app

import (
	"net/http"
	"strings"

	"github.com/steelengine/steelengine/embed"
)

// resumeLink serves a paused run's uiUrl (GET /api/resume/{workflowId}/{executionId},
// engine.ResumeLinks), which a human_in_the_loop block hands to the person who should
// answer it. The API's answer there is Sim's JSON detail, which API clients keep
// getting; a person opening the link in a browser is sent to the dashboard's approval
// page instead (through its login when signed out). The choice is made here, where
// both front doors are wired, so neither depends on the other.
func resumeLink(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !wantsPage(r) {
			api.ServeHTTP(w, r)
			return
		}
		http.Redirect(w, r, embed.ResumePath(r.PathValue("workflowId"), r.PathValue("executionId")), http.StatusSeeOther)
	})
}

// wantsPage reports a browser navigation: HTML is the first type it accepts, and it
// carries no API credentials (a key means a program, whatever it accepts).
func wantsPage(r *http.Request) bool {
	if r.Header.Get("X-API-Key") != "" || r.Header.Get("Authorization") != "" {
		return false
	}
	first, _, _ := strings.Cut(r.Header.Get("Accept"), ",")
	mt, _, _ := strings.Cut(first, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/html")
}
