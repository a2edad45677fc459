package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/internal/testenv"
)

// mgClient calls the test server as one principal: an API key, or a session cookie
// with its CSRF token.
type mgClient struct {
	t      *testing.T
	e      *testenv.Env
	key    string
	cookie *http.Cookie
	csrf   string
	noCSRF bool
}

func mgKey(t *testing.T, e *testenv.Env, key string) *mgClient {
	return &mgClient{t: t, e: e, key: key}
}

// mgLogin signs in over the API and returns a session client.
func mgLogin(t *testing.T, e *testenv.Env, email, password string) *mgClient {
	t.Helper()
	c := &mgClient{t: t, e: e}
	resp := c.raw("POST", "/api/auth/login", map[string]any{"email": email, "password": password})
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("login %s: %d %s", email, resp.StatusCode, b)
	}
	var body struct {
		CSRFToken string `json:"csrfToken"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	for _, ck := range resp.Cookies() {
		if ck.Name == "steelengine_session" {
			c.cookie = ck
		}
	}
	if c.cookie == nil || body.CSRFToken == "" {
		t.Fatalf("login: no cookie or csrf token")
	}
	c.csrf = body.CSRFToken
	return c
}

func (c *mgClient) raw(method, path string, body any) *http.Response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.e.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("X-API-Key", c.key)
	}
	if c.cookie != nil {
		req.AddCookie(&http.Cookie{Name: c.cookie.Name, Value: c.cookie.Value})
		if !c.noCSRF && c.csrf != "" {
			req.Header.Set("X-CSRF-Token", c.csrf)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// do sends a request and returns the status and the decoded JSON body.
func (c *mgClient) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	resp := c.raw(method, path, body)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			c.t.Fatalf("%s %s: %d: not JSON: %q", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, m
}

// want asserts the status (and, when code is not "", the error code).
func (c *mgClient) want(status int, code, method, path string, body any) map[string]any {
	c.t.Helper()
	got, m := c.do(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s: status %d, want %d; body %v", method, path, got, status, m)
	}
	if code != "" && m["code"] != code {
		c.t.Fatalf("%s %s: code %v, want %s; body %v", method, path, m["code"], code, m)
	}
	return m
}

func mgList(m map[string]any, field string) []map[string]any {
	items, _ := m[field].([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if mm, ok := it.(map[string]any); ok {
			out = append(out, mm)
		}
	}
	return out
}

func mgIDs(items []map[string]any) []string {
	var ids []string
	for _, it := range items {
		id, _ := it["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

func mgObj(m map[string]any, field string) map[string]any {
	o, _ := m[field].(map[string]any)
	return o
}

func TestLoginSetsCookieAndCSRFGuardsStateChanges(t *testing.T) {
	e := testenv.New(t)
	anon := &mgClient{t: t, e: e}
	anon.want(401, "invalid_credentials", "POST", "/api/auth/login", map[string]any{"email": e.Admin.Email, "password": "wrong password"})
	anon.want(401, "invalid_credentials", "POST", "/api/auth/login", map[string]any{"email": "nobody@example.com", "password": "whatever1"})
	anon.want(400, "invalid_request", "POST", "/api/auth/login", map[string]any{"email": e.Admin.Email})
	anon.want(401, "", "GET", "/api/auth/session", nil)

	resp := anon.raw("POST", "/api/auth/login", map[string]any{"email": strings.ToUpper(e.Member.Email), "password": e.AdminPassword})
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "steelengine_session" {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Fatalf("session cookie = %+v; want HttpOnly, SameSite=Lax, Path=/", ck)
	}

	s := mgLogin(t, e, e.Member.Email, e.AdminPassword)
	m := s.want(200, "", "GET", "/api/auth/session", nil)
	if mgObj(m, "user")["id"] != e.Member.ID || m["csrfToken"] != s.csrf {
		t.Fatalf("session = %v", m)
	}
	if _, leaked := mgObj(m, "user")["passwordHash"]; leaked {
		t.Fatal("session shows the password hash")
	}
	// Reads need no CSRF token; state changes do.
	s.noCSRF = true
	s.want(200, "", "GET", "/api/users/me/api-keys", nil)
	s.want(403, "csrf_failed", "POST", "/api/users/me/api-keys", map[string]any{"name": "from-session"})
	s.want(403, "csrf_failed", "PATCH", "/api/workspaces/"+e.WS.ID, map[string]any{"name": "x"})
	s.want(403, "csrf_failed", "POST", "/api/auth/logout", nil)
	s.csrf = "not-the-token"
	s.noCSRF = false
	s.want(403, "csrf_failed", "POST", "/api/users/me/api-keys", map[string]any{"name": "from-session"})
	s = mgLogin(t, e, e.Member.Email, e.AdminPassword)
	s.want(201, "", "POST", "/api/users/me/api-keys", map[string]any{"name": "from-session"})

	s.want(200, "", "POST", "/api/auth/logout", nil)
	s.want(401, "", "GET", "/api/auth/session", nil)
	s.want(401, "", "GET", "/api/users/me/api-keys", nil)
}

func TestChangePassword(t *testing.T) {
	e := testenv.New(t)
	s := mgLogin(t, e, e.Member.Email, e.AdminPassword)
	s.want(400, "invalid_password", "POST", "/api/users/me/password", map[string]any{"currentPassword": "nope", "newPassword": "a new long password"})
	s.want(400, "invalid_request", "POST", "/api/users/me/password", map[string]any{"currentPassword": e.AdminPassword, "newPassword": "short"})
	mgKey(t, e, e.WSKey).want(403, "", "POST", "/api/users/me/password", map[string]any{"currentPassword": e.AdminPassword, "newPassword": "a new long password"})
	(&mgClient{t: t, e: e}).want(401, "", "POST", "/api/users/me/password", map[string]any{"currentPassword": e.AdminPassword, "newPassword": "a new long password"})
	// A personal key is not a signed-in user: it cannot test passwords.
	mgKey(t, e, e.MemberKey).want(403, "session_required", "POST", "/api/users/me/password", map[string]any{"currentPassword": e.AdminPassword, "newPassword": "a new long password"})
	other := mgLogin(t, e, e.Member.Email, e.AdminPassword)
	s.want(200, "", "POST", "/api/users/me/password", map[string]any{"currentPassword": e.AdminPassword, "newPassword": "a new long password"})
	// The changing session goes on; every other session of the user ends.
	s.want(200, "", "GET", "/api/auth/session", nil)
	other.want(401, "", "GET", "/api/auth/session", nil)
	// Guessing the current password through the change is throttled like login.
	// Each guess spends a token and the bucket refills meanwhile (slowly under -race):
	// keep guessing until refused, well within what an unthrottled oracle would allow.
	var last int
	for range 40 {
		if last, _ = s.do("POST", "/api/users/me/password", map[string]any{"currentPassword": "guess", "newPassword": "a third long password"}); last == 429 {
			break
		}
	}
	if last != 429 {
		t.Fatalf("password guesses through change: 40 tries never refused, last status %d", last)
	}
	anon := &mgClient{t: t, e: e}
	anon.want(401, "invalid_credentials", "POST", "/api/auth/login", map[string]any{"email": e.Member.Email, "password": e.AdminPassword})
	mgLogin(t, e, e.Member.Email, "a new long password")
}

// postLogin sends a raw sign-in request from the given local address.
func postLogin(t *testing.T, e *testenv.Env, from string, body []byte, hdr map[string]string) *http.Response {
	t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("POST", e.URL+"/api/auth/login", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestLoginBoundsInputAndRefusesCrossSite(t *testing.T) {
	e := testenv.New(t)
	login := func(email, password string) []byte {
		b, _ := json.Marshal(map[string]string{"email": email, "password": password})
		return b
	}
	cases := []struct {
		name   string
		body   []byte
		hdr    map[string]string
		status int
	}{
		{"5 MiB email", login(strings.Repeat("a", 5<<20)+"@x.io", "pw"), nil, 413},
		{"body over 8 KiB", login("a@x.io", strings.Repeat("p", 9<<10)), nil, 413},
		{"email over 254 bytes", login(strings.Repeat("a", 255)+"@x.io", "pw"), nil, 400},
		{"password over 1 KiB", login("a@x.io", strings.Repeat("p", 1025)), nil, 400},
		{"form post", []byte("email=a%40x.io&password=pw"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"text/plain post", login(e.Admin.Email, e.AdminPassword), map[string]string{"Content-Type": "text/plain"}, 415},
		{"cross-site", login(e.Admin.Email, e.AdminPassword), map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-origin", login(e.Admin.Email, e.AdminPassword), map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
	}
	for _, c := range cases {
		if got := postLogin(t, e, "127.0.0.1", c.body, c.hdr).StatusCode; got != c.status {
			t.Errorf("%s: status %d, want %d", c.name, got, c.status)
		}
	}
}

func TestLoginThrottleDoesNotLockOutTheAccount(t *testing.T) {
	e := testenv.New(t)
	bad, _ := json.Marshal(map[string]string{"email": e.Admin.Email, "password": "wrong password"})
	var last int
	for range 40 {
		if last = postLogin(t, e, "127.0.0.2", bad, nil).StatusCode; last == 429 {
			break
		}
	}
	if last != 429 {
		t.Fatalf("40 failures from one address never throttled: last status %d", last)
	}
	// The admin signs in from their own address all the same.
	mgLogin(t, e, e.Admin.Email, e.AdminPassword)
}

func TestSessionCookieSecureBehindHTTPS(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.HTTP.PublicURL = "https://steel.example.com" }})
	resp := (&mgClient{t: t, e: e}).raw("POST", "/api/auth/login", map[string]any{"email": e.Admin.Email, "password": e.AdminPassword})
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "steelengine_session" {
			if !c.Secure {
				t.Fatalf("session cookie behind an https public URL is not Secure: %+v", c)
			}
			return
		}
	}
	t.Fatal("no session cookie")
}

// Behind a trusted reverse proxy every request arrives from the proxy's address; the
// throttle must count the client the proxy names, or ten wrong passwords from anyone
// would lock the account for everybody.
func TestLoginThrottleBehindTrustedProxy(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}})
	bad, _ := json.Marshal(map[string]string{"email": e.Admin.Email, "password": "wrong password"})
	var last int
	for range 40 {
		if last = postLogin(t, e, "127.0.0.1", bad, map[string]string{"X-Forwarded-For": "198.51.100.7"}).StatusCode; last == 429 {
			break
		}
	}
	if last != 429 {
		t.Fatalf("attacker behind the proxy never throttled: %d", last)
	}
	good, _ := json.Marshal(map[string]string{"email": e.Admin.Email, "password": e.AdminPassword})
	if got := postLogin(t, e, "127.0.0.1", good, map[string]string{"X-Forwarded-For": "198.51.100.8"}).StatusCode; got != 200 {
		t.Fatalf("the admin behind the same proxy: %d, want 200", got)
	}
	// A peer that is not a trusted proxy cannot pick its address.
	if got := postLogin(t, e, "127.0.0.2", good, map[string]string{"X-Forwarded-For": "198.51.100.8"}).StatusCode; got != 200 {
		t.Fatalf("direct client: %d", got)
	}
}
