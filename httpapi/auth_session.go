package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// Dashboard sessions: login sets an HttpOnly SameSite=Lax cookie and returns the CSRF
// token that state-changing requests must echo in X-CSRF-Token.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("POST /api/auth/login", a.login)
		a.handle("POST /api/auth/logout", a.logout)
		a.handle("GET /api/auth/session", a.session)
		a.handle("POST /api/users/me/password", a.changePassword)
	})
}

// maxLoginBody caps the sign-in body: an email and a password fit in far less, and
// anyone can send it.
const maxLoginBody = 8 << 10

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	if err := refuseCrossSite(r); err != nil {
		writeError(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	var body struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if strings.TrimSpace(body.Email) == "" {
		writeError(w, r, badRequest("email", "email is required"))
		return
	}
	if body.Password == "" {
		writeError(w, r, badRequest("password", "password is required"))
		return
	}
	token, sess, u, err := a.deps.Resolver.Login(r.Context(), body.Email, body.Password, auth.ClientIP(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", Expires: sess.ExpiresAt,
		MaxAge: int(time.Until(sess.ExpiresAt).Seconds()), HttpOnly: true, Secure: a.secureCookies(r), SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"user": userView(u), "csrfToken": sess.CSRFToken, "expiresAt": sess.ExpiresAt})
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || auth.RequestKey(r) != "" {
		writeError(w, r, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "Not signed in"})
		return
	}
	if _, ok := a.principal(w, r); !ok { // checks the session and its CSRF token
		return
	}
	if err := a.deps.Resolver.Logout(r.Context(), c.Value); err != nil && !errors.Is(err, store.ErrNotFound) {
		writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secureCookies(r), SameSite: http.SameSiteLaxMode})
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}

func (a *API) session(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		writeError(w, r, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "Not signed in"})
		return
	}
	p, sess, err := a.deps.Resolver.ResolveSession(r.Context(), c.Value)
	if err != nil {
		writeError(w, r, err)
		return
	}
	u, err := a.deps.Service.Me(r.Context(), p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"user": userView(u), "csrfToken": sess.CSRFToken, "expiresAt": sess.ExpiresAt})
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	var body struct {
		CurrentPassword string `json:"currentPassword"`
		NewPassword     string `json:"newPassword"`
	}
	if err := mgmtDecode(r, &body); err != nil {
		writeError(w, r, err)
		return
	}
	if err := a.deps.Resolver.ChangePassword(r.Context(), p, body.CurrentPassword, body.NewPassword); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}

// secureCookies says whether cookies get the Secure flag: on TLS, and whenever the
// public URL is https (TLS ends at a reverse proxy).
func (a *API) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(a.cfg.PublicURL), "https://")
}

// refuseCrossSite refuses sign-in attempts another site's page makes the browser
// send (login CSRF): the body must be JSON, which a cross-site form cannot send without
// a CORS preflight, and a browser that says the request is cross-site is believed.
func refuseCrossSite(r *http.Request) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	if ct != "application/json" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "Sign in with a JSON body (Content-Type: application/json)"}
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return &apiError{Status: http.StatusForbidden, Code: "cross_site_request", Message: "Cross-site sign-in requests are refused"}
	}
	return nil
}

// userView is a user as the API shows it: never the password hash.
func userView(u *store.User) map[string]any {
	return map[string]any{
		"id": u.ID, "email": u.Email, "name": u.Name, "instanceAdmin": u.InstanceAdmin,
		"createdAt": u.CreatedAt, "disabled": u.DisabledAt != nil, "disabledAt": u.DisabledAt,
	}
}

// mgmtDecode reads a JSON object body into v; an empty body leaves v as is.
func mgmtDecode(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return badRequest(te.Field, "invalid value for "+te.Field+": want "+te.Type.String())
		}
		return badRequest("body", "invalid JSON body: "+err.Error())
	}
	return nil
}

// optString is a JSON field that may be absent, null or a string.
type optString struct {
	Set   bool
	Null  bool
	Value string
}

func (o *optString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}
