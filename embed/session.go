package embed

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// loginCookie carries the login form's CSRF token (double submit): there is no session
// yet to hold one, and a forged login would sign the victim into the attacker's account.
const loginCookie = "steelengine_login"

// maxFormBytes caps ordinary form posts; uploads have their own cap.
const maxFormBytes = 1 << 20

// visit is one signed-in request: the principal auth resolved from the cookie, and
// what the layout shows.
type visit struct {
	P    *auth.Principal
	Sess *store.Session
	User *store.User
	nav  *nav
	d    *Dashboard
	r    *http.Request
}

// page starts the template data for a page of this visit.
func (v *visit) page(title, section string) *page {
	pg := &page{Title: title, Section: section}
	if v == nil {
		return pg
	}
	pg.User, pg.CSRF = v.User, v.Sess.CSRFToken
	pg.Nav = v.loadNav()
	if n, ok := notices[v.r.URL.Query().Get("done")]; ok {
		pg.Notice = n
	}
	return pg
}

// loadNav lists the workspaces and organizations the user can see (once per request).
func (v *visit) loadNav() *nav {
	if v.nav != nil {
		return v.nav
	}
	n := &nav{}
	ctx := v.r.Context()
	if ws, err := v.d.deps.Service.ListWorkspaces(ctx, v.P); err == nil {
		n.Workspaces = ws
	}
	if os, err := v.d.deps.Service.ListOrgs(ctx, v.P); err == nil {
		n.Orgs = os
	}
	v.nav = n
	return n
}

// signedIn resolves the session cookie through auth (like httpapi's principal) and
// checks the CSRF token of every state-changing request. Signed-out requests go to the
// login page, which brings the user back here afterwards.
func (d *Dashboard) signedIn(h handlerFunc) http.Handler {
	return d.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := d.resolve(r)
		if err != nil {
			if !isStatus(err, http.StatusUnauthorized) {
				d.failure(w, r, nil, err)
				return
			}
			next := r.URL.Path
			if r.Method != http.MethodGet || !(strings.HasPrefix(next, "/dashboard") || next == "/oauth/authorize") {
				next = ""
			} else if r.URL.RawQuery != "" {
				next += "?" + r.URL.RawQuery
			}
			target := "/login"
			if next != "" {
				target += "?next=" + url.QueryEscape(next)
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
			if !validCSRF(r, v.Sess.CSRFToken) {
				pg := v.page("Request refused", "")
				pg.Error = "This form has expired or did not come from this dashboard. Go back, reload the page and try again."
				d.render(w, r, "error", http.StatusForbidden, pg)
				return
			}
		}
		if err := h(w, r, v); err != nil {
			d.failure(w, r, v, err)
		}
	}))
}

// resolve returns the visit of a request with a live session, or a 401 auth error.
func (d *Dashboard) resolve(r *http.Request) (*visit, error) {
	c, err := r.Cookie(auth.SessionCookie)
	if err != nil {
		return nil, auth.ErrUnauthenticated()
	}
	p, sess, err := d.deps.Resolver.ResolveSession(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	u, err := d.deps.Service.Me(r.Context(), p)
	if err != nil {
		return nil, err
	}
	return &visit{P: p, Sess: sess, User: u, d: d, r: r}, nil
}

// validCSRF accepts the token from the form field csrf (multipart forms too) or the
// X-CSRF-Token header (fetch).
func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			if err := r.ParseMultipartForm(maxUploadBytes); err != nil {
				return false
			}
		}
		got = r.PostFormValue("csrf")
	}
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// root sends signed-in users to their dashboard and everyone else to the login page.
func (d *Dashboard) root(w http.ResponseWriter, r *http.Request) {
	if _, err := d.resolve(r); err == nil {
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type loginData struct {
	Email, Next, Token string
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := d.resolve(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	pg := &page{Title: "Sign in"}
	if n, ok := notices[r.URL.Query().Get("done")]; ok {
		pg.Notice = n
	}
	d.renderLogin(w, r, http.StatusOK, pg, loginData{Next: next})
}

func (d *Dashboard) renderLogin(w http.ResponseWriter, r *http.Request, status int, pg *page, ld loginData) {
	tok, err := randomToken()
	if err != nil {
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	ld.Token = tok
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", HttpOnly: true,
		Secure: d.secureCookies(r), SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	pg.Data = ld
	d.render(w, r, "login", status, pg)
}

// maxLoginFormBytes caps the sign-in form as the API caps its sign-in body: anyone
// can send it, and an email, a password and two tokens fit in far less.
const maxLoginFormBytes = 8 << 10

func (d *Dashboard) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginFormBytes)
	email := strings.TrimSpace(r.PostFormValue("email"))
	ld := loginData{Email: email, Next: safeNext(r.PostFormValue("next"))}
	pg := &page{Title: "Sign in"}
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		pg.Error = "The sign-in form expired. Try again."
		d.renderLogin(w, r, http.StatusForbidden, pg, ld)
		return
	}
	password := r.PostFormValue("password")
	if email == "" || password == "" {
		pg.Error = "Enter your email and password."
		d.renderLogin(w, r, http.StatusBadRequest, pg, ld)
		return
	}
	token, sess, _, err := d.deps.Resolver.Login(r.Context(), email, password, auth.ClientIP(r))
	if err != nil {
		status, msg := describe(err)
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
			msg = "Too many sign-in attempts. Wait a minute and try again."
		} else if status == http.StatusUnauthorized {
			msg = "Email or password is incorrect."
		}
		pg.Error = msg
		d.renderLogin(w, r, status, pg, ld)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: token, Path: "/", Expires: sess.ExpiresAt,
		MaxAge: int(time.Until(sess.ExpiresAt).Seconds()), HttpOnly: true, Secure: d.secureCookies(r), SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true, Secure: d.secureCookies(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, ld.Next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, v *visit) error {
	if c, err := r.Cookie(auth.SessionCookie); err == nil {
		if err := d.deps.Resolver.Logout(r.Context(), c.Value); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: auth.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: d.secureCookies(r), SameSite: http.SameSiteLaxMode})
	redirect(w, r, "/login", "signed-out")
	return nil
}

// safeNext keeps post-login redirects on this dashboard (or its OAuth consent page).
func safeNext(s string) string {
	if !(strings.HasPrefix(s, "/dashboard") || strings.HasPrefix(s, "/oauth/authorize?")) || strings.Contains(s, "\\") {
		return "/dashboard"
	}
	return s
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func init() {
	addRoute("GET /dashboard/account", func(d *Dashboard) handlerFunc { return d.account })
	addRoute("POST /dashboard/account/password", func(d *Dashboard) handlerFunc { return d.changePassword })
}

func (d *Dashboard) account(w http.ResponseWriter, r *http.Request, v *visit) error {
	d.render(w, r, "account", http.StatusOK, v.page("Account", "account"))
	return nil
}

func (d *Dashboard) changePassword(w http.ResponseWriter, r *http.Request, v *visit) error {
	cur, next, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("confirm")
	fail := func(status int, msg string) error {
		pg := v.page("Account", "account")
		pg.Error = msg
		d.render(w, r, "account", status, pg)
		return nil
	}
	if next != again {
		return fail(http.StatusBadRequest, "The new password and its confirmation differ.")
	}
	if err := d.deps.Resolver.ChangePassword(r.Context(), v.P, cur, next); err != nil {
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Status < 500 {
			return fail(ae.Status, ae.Message+".")
		}
		return err
	}
	redirect(w, r, "/dashboard/account", "password")
	return nil
}
