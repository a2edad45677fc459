package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/steelengine/steelengine/auth"
)

// SessionCookie names the dashboard's session cookie.
const SessionCookie = "steelengine_session"

// apiKey returns the key from X-API-Key or Authorization: Bearer.
func apiKey(r *http.Request) string {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// keyPrincipal resolves the request's API key (only). It sets the X-RateLimit-*
// headers, so every API-key response carries them, and answers 401/429 itself.
func (a *API) keyPrincipal(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	p, err := a.deps.Resolver.Resolve(r.Context(), apiKey(r), clientIP(r), auth.TransportHTTP)
	if err != nil {
		writeError(w, r, err)
		return nil, false
	}
	setRateHeaders(w, p)
	return p, true
}

// principal accepts an API key or, failing that, a dashboard session cookie; state
// changes through a session need the session's X-CSRF-Token.
func (a *API) principal(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	if apiKey(r) != "" {
		return a.keyPrincipal(w, r)
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		writeError(w, r, auth.ErrUnauthenticated())
		return nil, false
	}
	p, sess, err := a.deps.Resolver.ResolveSession(r.Context(), c.Value)
	if err != nil {
		writeError(w, r, err)
		return nil, false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
		if tok := r.Header.Get("X-CSRF-Token"); tok == "" || !constantTimeEqual(tok, sess.CSRFToken) {
			writeError(w, r, &apiError{Status: http.StatusForbidden, Code: "csrf_failed", Message: "Missing or wrong X-CSRF-Token"})
			return nil, false
		}
	}
	return p, true
}

func setRateHeaders(w http.ResponseWriter, p *auth.Principal) {
	if p.Rate.Limit == 0 {
		return
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(p.Rate.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(p.Rate.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(p.Rate.Reset.Unix(), 10))
}
