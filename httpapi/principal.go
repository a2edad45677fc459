package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/auth"
)

// SessionCookie names the dashboard's session cookie.
const SessionCookie = auth.SessionCookie

// keyPrincipal resolves the request's API key (only; on the operator socket a request
// without one is the operator). It sets the X-RateLimit-* headers, so every API-key
// response carries them, and answers 401/429 itself.
func (a *API) keyPrincipal(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	if operatorRequest(r) {
		return auth.Operator(), true
	}
	p, err := a.deps.Resolver.Resolve(r.Context(), auth.RequestKey(r), auth.ClientIP(r), auth.TransportHTTP)
	if err != nil {
		writeError(w, r, err)
		return nil, false
	}
	p.Rate.SetHeaders(w.Header())
	return p, true
}

// principal accepts an API key or, failing that, a dashboard session cookie; state
// changes through a session need the session's X-CSRF-Token.
func (a *API) principal(w http.ResponseWriter, r *http.Request) (*auth.Principal, bool) {
	if operatorRequest(r) {
		return auth.Operator(), true
	}
	if auth.RequestKey(r) != "" {
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
