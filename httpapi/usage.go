package httpapi

import (
	"net/http"
	"time"

	"github.com/steelengine/steelengine/auth"
)

// GET /api/users/me/usage-limits: the calling key's rate-limit state and usage, in
// the shape Sim's SDK (getUsageLimits) parses.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/users/me/usage-limits", a.usageLimits)
	})
}

// selfHostedPlan is what usage reports as the plan: a self-hosted instance has no
// billing tiers and no spending limit.
const selfHostedPlan = "self-hosted"

// rateBucket is one of Sim's rate-limit figures. SteelEngine has one bucket per key
// (sync and async requests share it), so sync and async report the same state.
func rateBucket(p *auth.Principal) map[string]any {
	rs := p.Rate
	reset := rs.Reset
	if reset.IsZero() {
		reset = time.Now()
	}
	return map[string]any{
		"isLimited": rs.Limit > 0 && rs.Remaining <= 0, "limit": rs.Limit, "requestsPerMinute": rs.Limit,
		"maxBurst": rs.Limit, "remaining": rs.Remaining, "resetAt": reset.UTC(),
	}
}

// usageView reports usage. Workflow blocks report no cost in SteelEngine (the engine
// records cost 0), so the period cost is 0 and there is no limit.
func usageView() map[string]any {
	return map[string]any{"currentPeriodCost": 0.0, "limit": 0.0, "plan": selfHostedPlan, "isExceeded": false}
}

// limitsView is the logs API's "limits" object.
func limitsView(p *auth.Principal) map[string]any {
	return map[string]any{
		"workflowExecutionRateLimit": map[string]any{"sync": rateBucket(p), "async": rateBucket(p)},
		"usage":                      usageView(),
	}
}

func authTypeOf(p *auth.Principal) string {
	if p.Session {
		return "manual"
	}
	return "api"
}

func (a *API) usageLimits(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	u := usageView()
	delete(u, "isExceeded")
	writeJSON(w, http.StatusOK, map[string]any{
		"success": true,
		"rateLimit": map[string]any{"sync": rateBucket(p), "async": rateBucket(p), "authType": authTypeOf(p),
			"keyType": p.AuthType()},
		"usage": u,
	})
}
