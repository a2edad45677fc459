package mcp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// oauthClient plays an MCP client that connects with OAuth, and the user's browser
// for the consent step.
type oauthClient struct {
	t        *testing.T
	e        *testenv.Env
	id       string
	redirect string
	verifier string
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

const verifier = "a-perfectly-random-code-verifier-of-enough-length-0123456789"

func challengeOf(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func register(t *testing.T, e *testenv.Env, meta map[string]any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(meta)
	resp, err := http.Post(e.URL+"/oauth/register", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func newOAuthClient(t *testing.T, e *testenv.Env) *oauthClient {
	t.Helper()
	redirect := "http://127.0.0.1:9/callback"
	st, m := register(t, e, map[string]any{"client_name": "Test App", "redirect_uris": []string{redirect}, "token_endpoint_auth_method": "none"})
	if st != 201 || m["client_id"] == "" {
		t.Fatalf("register: %d %v", st, m)
	}
	return &oauthClient{t: t, e: e, id: m["client_id"].(string), redirect: redirect, verifier: verifier}
}

func (c *oauthClient) authorizeURL(resource string, extra url.Values) string {
	q := url.Values{"response_type": {"code"}, "client_id": {c.id}, "redirect_uri": {c.redirect}, "state": {"xyz"},
		"code_challenge": {challengeOf(c.verifier)}, "code_challenge_method": {"S256"}}
	if resource != "" {
		q.Set("resource", resource)
	}
	for k, v := range extra {
		q[k] = v
	}
	return c.e.URL + "/oauth/authorize?" + q.Encode()
}

// consent signs the user's browser through the consent page and returns the
// redirect back to the client (its query: code or error, state, iss).
func (c *oauthClient) consent(sess *session, authURL string, form url.Values) url.Values {
	c.t.Helper()
	req, _ := http.NewRequest("GET", authURL, nil)
	req.AddCookie(sess.cookie)
	resp, err := noRedirects.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusSeeOther {
		return mustRedirect(c.t, resp.Header.Get("Location"), c.redirect)
	}
	if resp.StatusCode != 200 {
		c.t.Fatalf("consent page: %d %s", resp.StatusCode, body)
	}
	// A browser posts every hidden field and the checked radio of each group: no
	// radio group may share a name with a hidden field, or the authorize request
	// arrives with that parameter twice (and is refused, as RFC 6749 requires).
	hidden := map[string]bool{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([a-z_]+)"`).FindAllStringSubmatch(string(body), -1) {
		hidden[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`<input type="radio" name="([a-z_]+)"`).FindAllStringSubmatch(string(body), -1) {
		if hidden[m[1]] {
			c.t.Fatalf("consent form: radio group %q duplicates a hidden field", m[1])
		}
	}
	post := url.Values{"csrf": {sess.csrf}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`).FindAllStringSubmatch(string(body), -1) {
		if m[1] != "csrf" {
			post.Set(m[1], htmlUnescape(m[2]))
		}
	}
	for k, v := range form {
		post[k] = v
	}
	req, _ = http.NewRequest("POST", c.e.URL+"/oauth/authorize", strings.NewReader(post.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(sess.cookie)
	resp, err = noRedirects.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("consent post: %d", resp.StatusCode)
	}
	return mustRedirect(c.t, resp.Header.Get("Location"), c.redirect)
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

func mustRedirect(t *testing.T, loc, prefix string) url.Values {
	t.Helper()
	if !strings.HasPrefix(loc, prefix+"?") {
		t.Fatalf("redirect to %q, want %s?…", loc, prefix)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

func tokenCall(t *testing.T, e *testenv.Env, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(e.URL+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (c *oauthClient) exchange(code, resource string) (int, map[string]any) {
	f := url.Values{"grant_type": {"authorization_code"}, "client_id": {c.id}, "code": {code}, "redirect_uri": {c.redirect}, "code_verifier": {c.verifier}}
	if resource != "" {
		f.Set("resource", resource)
	}
	return tokenCall(c.t, c.e, f)
}

// grant runs the whole flow for sess with the consent form and returns the tokens.
func (c *oauthClient) grant(sess *session, resource string, form url.Values) (access, refresh string) {
	c.t.Helper()
	q := c.consent(sess, c.authorizeURL(resource, nil), form)
	if q.Get("code") == "" || q.Get("state") != "xyz" || q.Get("iss") != c.e.URL {
		c.t.Fatalf("authorization response: %v", q)
	}
	st, m := c.exchange(q.Get("code"), resource)
	if st != 200 || m["token_type"] != "Bearer" {
		c.t.Fatalf("token: %d %v", st, m)
	}
	return m["access_token"].(string), m["refresh_token"].(string)
}

func bearerInit(t *testing.T, url, token string) *http.Response {
	t.Helper()
	resp := rawInit(t, url, "", map[string]string{"Authorization": "Bearer " + token})
	resp.Body.Close()
	return resp
}

func connectBearer(t *testing.T, url, token string) *client.Client {
	t.Helper()
	c, err := client.NewStreamableHttpClient(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "oauth-test", Version: "0"}
	if _, err := c.Initialize(context.Background(), init); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func getJSON(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return m
}

func TestOAuthDiscovery(t *testing.T) {
	e := testenv.New(t)
	for _, path := range []string{"/mcp", "/api/mcp/serve/abc"} {
		for _, key := range []string{"", "sk-steelengine-wrong", "seo_at_wrong"} {
			resp := rawInit(t, e.URL+path, key, nil)
			resp.Body.Close()
			want := `resource_metadata="` + e.URL + "/.well-known/oauth-protected-resource" + path + `"`
			if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), want) || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("%s key %q: %d %q", path, key, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
		prm := getJSON(t, e.URL+"/.well-known/oauth-protected-resource"+path)
		if prm["resource"] != e.URL+path || prm["authorization_servers"].([]any)[0] != e.URL {
			t.Fatalf("protected resource metadata: %v", prm)
		}
	}
	as := getJSON(t, e.URL+"/.well-known/oauth-authorization-server")
	if as["issuer"] != e.URL || as["token_endpoint"] != e.URL+"/oauth/token" || as["registration_endpoint"] != e.URL+"/oauth/register" ||
		as["authorization_endpoint"] != e.URL+"/oauth/authorize" || as["revocation_endpoint"] != e.URL+"/oauth/revoke" ||
		strings.Join(toStrings(as["code_challenge_methods_supported"]), ",") != "S256" {
		t.Fatalf("authorization server metadata: %v", as)
	}
	// API keys work exactly as before on the same endpoints.
	if names := toolNames(t, connect(t, e.URL+"/mcp", e.WSKey)); strings.Join(names, ",") != "echo,greet" {
		t.Fatalf("workspace key tools: %v", names)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestOAuthFlow: a member consents to one workflow at write; the token lists and calls
// exactly that, only at the resource it was issued for, rotates, and dies with the
// grant.
func TestOAuthFlow(t *testing.T) {
	e := testenv.New(t)
	c := newOAuthClient(t, e)

	// Signed out, the authorize endpoint sends the browser to sign in and come back.
	resp, err := noRedirects.Get(c.authorizeURL("", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=%2Foauth%2Fauthorize%3F") {
		t.Fatalf("signed out: %d %q", resp.StatusCode, loc)
	}

	sess := signIn(t, e, e.Member.Email, e.AdminPassword)
	access, refresh := c.grant(sess, e.URL+"/mcp", url.Values{"workspace": {e.WS.ID}, "workflow_scope": {"chosen"},
		"workflow": {e.WS.ID + "/" + e.Echo.ID}, "level": {"write"}, "decision": {"allow"}})
	mc := connectBearer(t, e.URL+"/mcp", access)
	if names := toolNames(t, mc); strings.Join(names, ",") != "echo" {
		t.Fatalf("tools with the token: %v", names)
	}
	res, err := call(t, mc, "echo", map[string]any{"message": "via oauth"})
	if err != nil || res.IsError || !strings.Contains(text(res), "via oauth") {
		t.Fatalf("tools/call echo: %v %+v", err, res)
	}
	if res, err := call(t, mc, "greet", map[string]any{"name": "x"}); err == nil && !res.IsError {
		t.Fatalf("greet was not consented but ran: %s", text(res))
	}

	// Bound to /mcp: refused by a server object's endpoint and by the HTTP API.
	srv := &store.MCPServer{WorkspaceID: e.WS.ID, Name: "srv", WorkflowIDs: []string{e.Echo.ID}}
	if err := e.App.Store.CreateMCPServer(context.Background(), srv); err != nil {
		t.Fatal(err)
	}
	if r := bearerInit(t, e.URL+"/api/mcp/serve/"+srv.ID, access); r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("token at another resource: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("GET", e.URL+"/api/v1/workflows", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 401 {
		t.Fatalf("token at the HTTP API: %v %v", err, r.StatusCode)
	}

	// Refresh rotates; the old refresh token then revokes the grant.
	st, m := tokenCall(t, e, url.Values{"grant_type": {"refresh_token"}, "client_id": {c.id}, "refresh_token": {refresh}})
	if st != 200 || m["refresh_token"] == refresh {
		t.Fatalf("refresh: %d %v", st, m)
	}
	access2 := m["access_token"].(string)
	if r := bearerInit(t, e.URL+"/mcp", access2); r.StatusCode != 200 {
		t.Fatalf("refreshed token: %d", r.StatusCode)
	}
	st, m = tokenCall(t, e, url.Values{"grant_type": {"refresh_token"}, "client_id": {c.id}, "refresh_token": {refresh}})
	if st != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token: %d %v", st, m)
	}
	for _, tok := range []string{access, access2} {
		if r := bearerInit(t, e.URL+"/mcp", tok); r.StatusCode != 401 {
			t.Fatalf("token after refresh reuse: %d", r.StatusCode)
		}
	}
	// The audit trail has the grant, its refresh and the revocation.
	evs, err := e.App.Store.ListAudit(context.Background(), "", 50)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.KeyID, "oauth:") {
			actions = append(actions, ev.Action)
		}
	}
	slices.Sort(actions) // ids order events only to the millisecond
	if strings.Join(actions, ",") != "oauth_granted,oauth_refreshed,oauth_revoked" {
		t.Fatalf("audit: %v", actions)
	}

	// A new grant, for the server object's endpoint, revoked by the user.
	access, _ = c.grant(sess, e.URL+"/api/mcp/serve/"+srv.ID, url.Values{"workspace": {e.WS.ID}, "workflow_scope": {"all"}, "level": {"write"}, "decision": {"allow"}})
	if r := bearerInit(t, e.URL+"/api/mcp/serve/"+srv.ID, access); r.StatusCode != 200 {
		t.Fatalf("serve token: %d", r.StatusCode)
	}
	if r := bearerInit(t, e.URL+"/mcp", access); r.StatusCode != 401 {
		t.Fatalf("serve token at /mcp: %d", r.StatusCode)
	}
	st, apps := httpJSON(t, e, "", sess, "GET", "/api/users/me/connected-apps", nil)
	list, _ := apps["connectedApps"].([]any)
	if st != 200 || len(list) != 1 {
		t.Fatalf("connected apps: %d %v", st, apps)
	}
	app := list[0].(map[string]any)
	if app["clientName"] != "Test App" || app["level"] != "write" || app["workspaceId"] != e.WS.ID {
		t.Fatalf("connected app: %v", app)
	}
	if st, _ := httpJSON(t, e, "", sess, "DELETE", "/api/users/me/connected-apps/"+app["id"].(string), nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if r := bearerInit(t, e.URL+"/api/mcp/serve/"+srv.ID, access); r.StatusCode != 401 {
		t.Fatalf("token after revoke: %d", r.StatusCode)
	}
}

// TestOAuthRefusals: each misuse gets the error code its RFC names.
func TestOAuthRefusals(t *testing.T) {
	var offset atomic.Int64
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) {
		c.Auth.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	}})
	c := newOAuthClient(t, e)
	sess := signIn(t, e, e.Member.Email, e.AdminPassword)
	allow := url.Values{"workspace": {e.WS.ID}, "workflow_scope": {"all"}, "level": {"read"}, "decision": {"allow"}}
	code := func() string {
		q := c.consent(sess, c.authorizeURL("", nil), allow)
		if q.Get("code") == "" {
			t.Fatalf("no code: %v", q)
		}
		return q.Get("code")
	}

	t.Run("wrong PKCE verifier", func(t *testing.T) {
		bad := *c
		bad.verifier = strings.Repeat("x", 43)
		if st, m := bad.exchange(code(), ""); st != 400 || m["error"] != "invalid_grant" {
			t.Fatalf("%d %v", st, m)
		}
	})
	t.Run("reused code revokes the first grant", func(t *testing.T) {
		k := code()
		st, m := c.exchange(k, "")
		if st != 200 {
			t.Fatalf("first exchange: %d %v", st, m)
		}
		if st, m := c.exchange(k, ""); st != 400 || m["error"] != "invalid_grant" {
			t.Fatalf("second exchange: %d %v", st, m)
		}
		if r := bearerInit(t, e.URL+"/mcp", m["access_token"].(string)); r.StatusCode != 401 {
			t.Fatalf("token of a replayed code: %d", r.StatusCode)
		}
	})
	t.Run("a code raced twice leaves no working token", func(t *testing.T) {
		for range 5 {
			k := code()
			var wg sync.WaitGroup
			tokens := make([]any, 2)
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, m := c.exchange(k, "")
					tokens[i] = m["access_token"]
				}()
			}
			wg.Wait()
			for _, tok := range tokens {
				if s, ok := tok.(string); ok {
					if r := bearerInit(t, e.URL+"/mcp", s); r.StatusCode != 401 {
						t.Fatalf("token of a code exchanged twice: %d", r.StatusCode)
					}
				}
			}
		}
	})
	t.Run("redirect URI mismatch at the token endpoint", func(t *testing.T) {
		st, m := tokenCall(t, e, url.Values{"grant_type": {"authorization_code"}, "client_id": {c.id}, "code": {code()},
			"redirect_uri": {"http://127.0.0.1:9/other"}, "code_verifier": {c.verifier}})
		if st != 400 || m["error"] != "invalid_grant" {
			t.Fatalf("%d %v", st, m)
		}
	})
	t.Run("unregistered redirect URI is not redirected to", func(t *testing.T) {
		bad := *c
		bad.redirect = "https://evil.example/cb"
		req, _ := http.NewRequest("GET", bad.authorizeURL("", nil), nil)
		req.AddCookie(sess.cookie)
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("plain PKCE refused", func(t *testing.T) {
		q := c.consent(sess, c.authorizeURL("", url.Values{"code_challenge_method": {"plain"}}), nil)
		if q.Get("error") != "invalid_request" || q.Get("code") != "" {
			t.Fatalf("%v", q)
		}
	})
	t.Run("resource of another server", func(t *testing.T) {
		q := c.consent(sess, c.authorizeURL("https://elsewhere.example/mcp", nil), nil)
		if q.Get("error") != "invalid_target" {
			t.Fatalf("%v", q)
		}
		if st, m := c.exchange(code(), e.URL+"/api/mcp/serve/x"); st != 400 || m["error"] != "invalid_target" {
			t.Fatalf("token for another resource: %d %v", st, m)
		}
	})
	t.Run("consent outside the user's memberships", func(t *testing.T) {
		for _, form := range []url.Values{
			{"workspace": {e.OtherWS.ID}, "workflow_scope": {"all"}, "level": {"read"}, "decision": {"allow"}},
			{"workspace": {e.WS.ID}, "workflow_scope": {"chosen"}, "workflow": {e.WS.ID + "/nope"}, "level": {"read"}, "decision": {"allow"}},
		} {
			if q := c.consent(sess, c.authorizeURL("", nil), form); q.Get("error") != "access_denied" || q.Get("code") != "" {
				t.Fatalf("%v: %v", form, q)
			}
		}
		if q := c.consent(sess, c.authorizeURL("", nil), url.Values{"decision": {"deny"}}); q.Get("error") != "access_denied" {
			t.Fatalf("deny: %v", q)
		}
	})
	t.Run("revoked through RFC 7009", func(t *testing.T) {
		_, m := c.exchange(code(), "")
		resp, err := http.PostForm(e.URL+"/oauth/revoke", url.Values{"client_id": {c.id}, "token": {m["refresh_token"].(string)}})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("revoke: %v %v", err, resp.StatusCode)
		}
		if r := bearerInit(t, e.URL+"/mcp", m["access_token"].(string)); r.StatusCode != 401 {
			t.Fatalf("access token after revocation: %d", r.StatusCode)
		}
		if st, m := tokenCall(t, e, url.Values{"grant_type": {"refresh_token"}, "client_id": {c.id}, "refresh_token": {m["refresh_token"].(string)}}); st != 400 || m["error"] != "invalid_grant" {
			t.Fatalf("refresh after revocation: %d %v", st, m)
		}
	})
	t.Run("expired code and access token", func(t *testing.T) {
		k := code()
		_, m := c.exchange(code(), "")
		access := m["access_token"].(string)
		if r := bearerInit(t, e.URL+"/mcp", access); r.StatusCode != 200 {
			t.Fatalf("fresh token: %d", r.StatusCode)
		}
		offset.Store(int64(61 * time.Minute))
		defer offset.Store(0)
		if st, m := c.exchange(k, ""); st != 400 || m["error"] != "invalid_grant" {
			t.Fatalf("expired code: %d %v", st, m)
		}
		if r := bearerInit(t, e.URL+"/mcp", access); r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("expired token: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("refresh by another client, and after the refresh token expired", func(t *testing.T) {
		_, m := c.exchange(code(), "")
		other := newOAuthClient(t, e)
		rt := m["refresh_token"].(string)
		if st, m := tokenCall(t, e, url.Values{"grant_type": {"refresh_token"}, "client_id": {other.id}, "refresh_token": {rt}}); st != 400 || m["error"] != "invalid_grant" {
			t.Fatalf("another client's refresh: %d %v", st, m)
		}
		if st, m := tokenCall(t, e, url.Values{"grant_type": {"refresh_token"}, "client_id": {c.id}, "refresh_token": {rt}, "resource": {e.URL + "/api/mcp/serve/x"}}); st != 400 || m["error"] != "invalid_target" {
			t.Fatalf("refresh for another resource: %d %v", st, m)
		}
		offset.Store(int64(31 * 24 * time.Hour))
		defer offset.Store(0)
		if st, m := tokenCall(t, e, url.Values{"grant_type": {"refresh_token"}, "client_id": {c.id}, "refresh_token": {rt}}); st != 400 || m["error"] != "invalid_grant" {
			t.Fatalf("expired refresh token: %d %v", st, m)
		}
	})
	t.Run("personal keys disabled disables the tokens", func(t *testing.T) {
		_, m := c.exchange(code(), "")
		ws := *e.WS
		if _, err := e.App.Store.UpdateWorkspace(context.Background(), ws.ID, func(w *store.Workspace) error { w.AllowPersonalKeys = false; return nil }); err != nil {
			t.Fatal(err)
		}
		defer e.App.Store.UpdateWorkspace(context.Background(), ws.ID, func(w *store.Workspace) error { w.AllowPersonalKeys = true; return nil })
		if r := bearerInit(t, e.URL+"/mcp", m["access_token"].(string)); r.StatusCode != 403 {
			t.Fatalf("token in a workspace without personal keys: %d", r.StatusCode)
		}
	})
	t.Run("token endpoint input", func(t *testing.T) {
		for _, tc := range []struct {
			form url.Values
			code string
		}{
			{url.Values{"client_id": {c.id}}, "invalid_request"},
			{url.Values{"grant_type": {"password"}, "client_id": {c.id}}, "unsupported_grant_type"},
			{url.Values{"grant_type": {"refresh_token", "refresh_token"}, "client_id": {c.id}, "refresh_token": {"x"}}, "invalid_request"},
			{url.Values{"grant_type": {"authorization_code"}, "client_id": {"nope"}, "code": {"seo_ac_x"}, "redirect_uri": {c.redirect}, "code_verifier": {c.verifier}}, "invalid_grant"},
			{url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"seo_rt_x"}}, "invalid_client"},
		} {
			if _, m := tokenCall(t, e, tc.form); m["error"] != tc.code {
				t.Errorf("%v: %v, want %s", tc.form, m, tc.code)
			}
		}
	})
}

func TestOAuthRegistration(t *testing.T) {
	e := testenv.New(t)
	for _, tc := range []struct {
		meta map[string]any
		code string
	}{
		{map[string]any{"redirect_uris": []string{"http://example.com/cb"}}, "invalid_redirect_uri"},
		{map[string]any{"redirect_uris": []string{"https://example.com/cb#frag"}}, "invalid_redirect_uri"},
		{map[string]any{"redirect_uris": []string{"javascript:alert(1)"}}, "invalid_redirect_uri"},
		{map[string]any{}, "invalid_redirect_uri"},
		{map[string]any{"redirect_uris": []string{"https://example.com/cb"}, "token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata"},
		{map[string]any{"redirect_uris": []string{"https://example.com/cb"}, "grant_types": []string{"implicit"}}, "invalid_client_metadata"},
		{map[string]any{"redirect_uris": "https://example.com/cb"}, "invalid_client_metadata"},
	} {
		if st, m := register(t, e, tc.meta); st != 400 || m["error"] != tc.code {
			t.Errorf("%v: %d %v, want %s", tc.meta, st, m, tc.code)
		}
	}
	limited := false
	for range 20 {
		st, _ := register(t, e, map[string]any{"redirect_uris": []string{"http://localhost:1234/cb"}})
		if st == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("registration was not rate-limited")
	}
}
