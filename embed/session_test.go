package embed_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

func TestSignedOutRequestsGoToLogin(t *testing.T) {
	e := testenv.New(t)
	ws, org := e.WS.ID, e.Org.ID
	cases := []struct {
		method, path, want string
	}{
		{"GET", "/", "/login"},
		{"GET", "/dashboard", "/login?next=%2Fdashboard"},
		{"GET", "/dashboard/account", "/login?next=%2Fdashboard%2Faccount"},
		{"GET", "/dashboard/workspaces/" + ws + "/workflows", "/login?next=%2Fdashboard%2Fworkspaces%2F" + ws + "%2Fworkflows"},
		{"GET", "/dashboard/workspaces/" + ws + "/workflows/" + e.Greet.ID, ""},
		{"GET", "/dashboard/workspaces/" + ws + "/settings/api-keys", ""},
		{"GET", "/dashboard/workspaces/" + ws + "/logs?range=7d", "/login?next=%2Fdashboard%2Fworkspaces%2F" + ws + "%2Flogs%3Frange%3D7d"},
		{"GET", "/dashboard/workspaces/" + ws + "/logs/01ARZ3NDEKTSV4RRFFQ69G5FAV", ""},
		{"GET", "/dashboard/organizations/" + org, ""},
		{"GET", "/dashboard/organizations/" + org + "/settings/api-keys", ""},
		{"GET", "/dashboard/no-such-page", ""},
		{"POST", "/dashboard/workspaces/" + ws + "/settings/api-keys", "/login"},
		{"POST", "/dashboard/organizations/" + org + "/settings/api-keys", "/login"},
		{"POST", "/logout", "/login"},
	}
	b := newBrowser(t, e)
	for _, c := range cases {
		resp := b.do(c.method, c.path, url.Values{"name": {"x"}}, "")
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") || (c.want != "" && loc != c.want) {
			t.Errorf("%s %s signed out = %d → %q, want 303 → %q", c.method, c.path, resp.StatusCode, loc, c.want)
		}
	}
	// A stale or forged cookie is the same as none.
	req, _ := http.NewRequest("GET", e.URL+"/dashboard", nil)
	req.AddCookie(&http.Cookie{Name: "steelengine_session", Value: "forged"})
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("forged cookie: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The JSON API keeps its JSON answers.
	if code := apiStatus(t, e, "GET", "/api/no-such-route", ""); code != http.StatusNotFound {
		t.Errorf("unknown API route = %d", code)
	}
}

func TestLoginSetsSessionCookieAndHonoursNext(t *testing.T) {
	e := testenv.New(t)
	b := newBrowser(t, e)
	code, body := b.get("/login?next=/dashboard/account")
	if code != 200 || !strings.Contains(body, `name="next" value="/dashboard/account"`) {
		t.Fatalf("login page: %d", code)
	}
	tok := csrfRE.FindStringSubmatch(body)[1]

	// Wrong password: 401, no session.
	resp := b.do("POST", "/login", url.Values{"csrf": {tok}, "email": {e.Admin.Email}, "password": {"wrong password"}, "next": {"/dashboard/account"}}, "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password = %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "steelengine_session" {
			t.Error("wrong password set a session cookie")
		}
	}
	// The form's token is tied to the login cookie: without it the post is refused.
	bare := newBrowser(t, e)
	resp = bare.do("POST", "/login", url.Values{"csrf": {tok}, "email": {e.Admin.Email}, "password": {e.AdminPassword}}, "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without the form's cookie = %d, want 403", resp.StatusCode)
	}

	_, body = b.get("/login?next=/dashboard/account")
	tok = csrfRE.FindStringSubmatch(body)[1]
	resp = b.do("POST", "/login", url.Values{"csrf": {tok}, "email": {e.Admin.Email}, "password": {e.AdminPassword}, "next": {"/dashboard/account"}}, "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/account" {
		t.Fatalf("login = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sess *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "steelengine_session" {
			sess = c
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Secure || sess.Path != "/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Lax, not Secure on http", sess)
	}
	// Signed in, / and /login lead to the dashboard.
	for _, p := range []string{"/", "/login"} {
		resp := b.do("GET", p, nil, "")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard" {
			t.Errorf("signed in GET %s = %d → %s", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}

	// next never leaves the dashboard.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/api/v1/logs", `/dashboard\..\evil`} {
		b2 := newBrowser(t, e)
		_, body := b2.get("/login")
		tok := csrfRE.FindStringSubmatch(body)[1]
		resp := b2.do("POST", "/login", url.Values{"csrf": {tok}, "email": {e.Admin.Email}, "password": {e.AdminPassword}, "next": {next}}, "")
		resp.Body.Close()
		if resp.Header.Get("Location") != "/dashboard" {
			t.Errorf("next=%q redirected to %q", next, resp.Header.Get("Location"))
		}
	}
}

func TestSecureCookieBehindHTTPS(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.Dashboard.PublicURL = "https://steelengine.example.com" }})
	b := newBrowser(t, e)
	_, body := b.get("/login")
	tok := csrfRE.FindStringSubmatch(body)[1]
	resp := b.do("POST", "/login", url.Values{"csrf": {tok}, "email": {e.Admin.Email}, "password": {e.AdminPassword}}, "")
	resp.Body.Close()
	found := false
	for _, c := range resp.Cookies() {
		if c.Name == "steelengine_session" {
			found = true
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie behind https = %+v", c)
			}
		}
	}
	if !found {
		t.Fatal("no session cookie")
	}
}

func TestCSRFTokenRequiredOnEveryPost(t *testing.T) {
	e := testenv.New(t)
	b := signIn(t, e, e.Admin.Email, e.AdminPassword)
	path := "/dashboard/workspaces/" + e.WS.ID + "/settings/api-keys"
	for _, tok := range []string{"", "wrong-token", strings.Repeat("A", 43)} {
		code, body, _ := b.post(path, url.Values{"csrf": {tok}, "type": {"workspace"}, "name": {"csrf-probe"}, "level": {"write"}, "expires": {""}})
		if code != http.StatusForbidden || plainKeyRE.MatchString(body) {
			t.Errorf("create with csrf %q = %d", tok, code)
		}
	}
	if ks := keysNamed(t, e, store.KeyFilter{WorkspaceID: e.WS.ID}, "csrf-probe"); len(ks) != 0 {
		t.Fatalf("a post without the CSRF token created %d key(s)", len(ks))
	}
	// Other state changes are guarded the same way.
	for _, p := range []string{
		"/dashboard/workspaces/" + e.WS.ID + "/settings/personal-keys",
		"/dashboard/workspaces/" + e.WS.ID + "/workflows/" + e.Greet.ID + "/run",
		"/dashboard/organizations/" + e.Org.ID + "/workspaces/" + e.WS.ID + "/remove",
		"/dashboard/account/password",
		"/logout",
	} {
		if code, _, _ := b.post(p, url.Values{"csrf": {"nope"}, "allow": {"false"}}); code != http.StatusForbidden {
			t.Errorf("POST %s with a wrong token = %d, want 403", p, code)
		}
	}
	if ws, _ := e.App.Store.GetWorkspace(t.Context(), e.WS.ID); !ws.AllowPersonalKeys || ws.OrgID != e.Org.ID {
		t.Error("a forged post changed the workspace")
	}
	// The X-CSRF-Token header (fetch) works like the field.
	req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(url.Values{"type": {"personal"}, "name": {"via-header"}, "expires": {""}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", b.csrf)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("create with X-CSRF-Token = %d", resp.StatusCode)
	}
	// With the session's token the same post works, and signing out ends the session.
	if code, _, _ := b.post(path, url.Values{"type": {"workspace"}, "name": {"csrf-ok"}, "level": {"write"}, "expires": {""}}); code != http.StatusCreated {
		t.Errorf("create with the token = %d", code)
	}
	_, _, resp = b.post("/logout", nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("logout = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, _ := b.get("/dashboard"); code != http.StatusSeeOther {
		t.Errorf("after logout /dashboard = %d", code)
	}
}

// One session mechanism: a session opened by POST /api/auth/login works on the
// dashboard, and signing out of the dashboard ends it for the API too.
func TestAPISessionIsTheDashboardSession(t *testing.T) {
	e := testenv.New(t)
	body, _ := json.Marshal(map[string]string{"email": e.Member.Email, "password": e.AdminPassword})
	resp, err := http.Post(e.URL+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		CSRFToken string `json:"csrfToken"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "steelengine_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("API login set no cookie")
	}
	b := newBrowser(t, e)
	u, _ := url.Parse(e.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookie.Name, Value: cookie.Value, Path: "/"}})
	code, page := b.get("/dashboard")
	if code != 200 || !strings.Contains(page, e.Member.Email) || !strings.Contains(page, out.CSRFToken) {
		t.Fatalf("dashboard with the API's session = %d", code)
	}
	b.csrf = out.CSRFToken
	b.post("/logout", nil)
	req, _ := http.NewRequest("GET", e.URL+"/api/auth/session", nil)
	req.AddCookie(cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API session after dashboard sign-out = %d, want 401", resp.StatusCode)
	}
}

func TestChangePassword(t *testing.T) {
	e := testenv.New(t)
	b := signIn(t, e, e.Member.Email, e.AdminPassword)
	cases := []struct {
		current, next, confirm string
		code                   int
	}{
		{"wrong password", "brand new password", "brand new password", http.StatusBadRequest},
		{e.AdminPassword, "brand new password", "different", http.StatusBadRequest},
		{e.AdminPassword, "short", "short", http.StatusBadRequest},
	}
	for _, c := range cases {
		code, body, _ := b.post("/dashboard/account/password", url.Values{"current": {c.current}, "new": {c.next}, "confirm": {c.confirm}})
		if code != c.code || !strings.Contains(body, `role="alert"`) {
			t.Errorf("change %+v = %d", c, code)
		}
	}
	_, _, resp := b.post("/dashboard/account/password", url.Values{"current": {e.AdminPassword}, "new": {"brand new password"}, "confirm": {"brand new password"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change = %d", resp.StatusCode)
	}
	signIn(t, e, e.Member.Email, "brand new password")
}

func TestEmptyStatesAndHeaders(t *testing.T) {
	e := testenv.New(t)
	loner := addUser(t, e, "loner@example.com")
	b := signIn(t, e, loner.Email, e.AdminPassword)
	resp := b.do("GET", "/dashboard", nil, "")
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("X-Frame-Options") != "DENY" ||
		h.Get("Cache-Control") != "no-store" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("home headers = %d %v", resp.StatusCode, h)
	}
	if _, page := b.get("/dashboard"); !strings.Contains(page, "You are not a member of any workspace yet") {
		t.Error("no empty state for a user without workspaces")
	}
	for path, ctype := range map[string]string{"/assets/style.css": "text/css", "/assets/app.js": "text/javascript", "/assets/favicon.svg": "image/svg+xml"} {
		resp := b.do("GET", path, nil, "")
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s = %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if code, _ := b.get("/assets/nope.js"); code != http.StatusNotFound {
		t.Errorf("missing asset = %d", code)
	}
	if code, page := b.get("/dashboard/nowhere"); code != http.StatusNotFound || !strings.Contains(page, "Back to home") {
		t.Errorf("unknown dashboard page = %d", code)
	}
}
