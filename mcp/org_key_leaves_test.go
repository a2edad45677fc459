package mcp_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

// httpJSON sends a management request as key (or with a session cookie + CSRF token)
// and returns the status and decoded body.
func httpJSON(t *testing.T, e *testenv.Env, key string, sess *session, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if sess != nil {
		req.AddCookie(sess.cookie)
		req.Header.Set("X-CSRF-Token", sess.csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

type session struct {
	cookie *http.Cookie
	csrf   string
}

func signIn(t *testing.T, e *testenv.Env, email, password string) *session {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(e.URL+"/api/auth/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		CSRFToken string `json:"csrfToken"`
	}
	json.NewDecoder(resp.Body).Decode(&m)
	for _, c := range resp.Cookies() {
		if c.Name == "steelengine_session" {
			return &session{cookie: c, csrf: m.CSRFToken}
		}
	}
	t.Fatalf("sign in %s: %d", email, resp.StatusCode)
	return nil
}

// TestOrgKeyLosesWorkspaceThatLeavesOrg is the seed's sentence "an organization key
// loses access to a workspace that leaves the organization", tried the way an attacker
// holding the org key would: before the workspace leaves, use every management route
// that could leave access behind (mint, rotate, re-scope keys; add or promote members;
// create MCP server objects), then move the workspace out and check that nothing the
// org key did still reaches it.
func TestOrgKeyLosesWorkspaceThatLeavesOrg(t *testing.T) {
	e := testenv.New(t)
	ws := "/api/workspaces/" + e.WS.ID
	org := "/api/organizations/" + e.Org.ID
	orgKey := e.OrgKey // admin grant on the workspace

	// The org key may see the workspace's keys; find a workspace key to rotate.
	code, m := httpJSON(t, e, orgKey, nil, "GET", ws+"/api-keys", nil)
	if code != 200 {
		t.Fatalf("org key lists workspace keys: %d %v", code, m)
	}
	keysBefore := len(m["keys"].([]any))
	wsKeyID := m["keys"].([]any)[0].(map[string]any)["id"].(string)
	_, m = httpJSON(t, e, orgKey, nil, "GET", ws+"/members", nil)
	membersBefore := len(m["members"].([]any))

	// Every way to leave access behind: each must be refused, and return no secret.
	attempts := []struct {
		name, method, path string
		body               any
	}{
		{"mint a workspace key", "POST", ws + "/api-keys", map[string]any{"name": "escape", "level": "admin"}},
		{"rotate a workspace key", "POST", ws + "/api-keys/" + wsKeyID + "/rotate", map[string]any{"graceSeconds": 3600}},
		{"re-scope a workspace key", "PUT", ws + "/api-keys/" + wsKeyID, map[string]any{"name": "widened", "workflowIds": []string{}}},
		{"mint an org key", "POST", org + "/api-keys", map[string]any{"name": "escape", "grants": []any{map[string]any{"workspaceId": e.WS.ID, "level": "admin"}}}},
		{"mint a personal key", "POST", "/api/users/me/api-keys", map[string]any{"name": "escape"}},
		{"invite a member", "POST", ws + "/members", map[string]any{"email": e.Outsider.Email, "permission": "admin"}},
		{"invite through invitations", "POST", ws + "/invitations", map[string]any{"email": e.Outsider.Email, "permission": "admin"}},
		{"promote a member", "PATCH", ws + "/members/" + e.Member.ID, map[string]any{"permission": "admin"}},
		{"join the org", "POST", org + "/members", map[string]any{"email": e.Outsider.Email, "role": "admin"}},
		{"re-enable personal keys", "PATCH", ws, map[string]any{"allowPersonalApiKeys": true}},
		{"lift the maximum key lifetime", "PATCH", ws, map[string]any{"maxKeyLifetimeSeconds": 0}},
		{"move the workspace", "PATCH", ws, map[string]any{"organizationId": nil}},
		{"lift the org's key lifetime", "PATCH", org, map[string]any{"maxKeyLifetimeSeconds": 0}},
	}
	for _, a := range attempts {
		code, m := httpJSON(t, e, orgKey, nil, a.method, a.path, a.body)
		if code != 403 {
			t.Errorf("%s: status %d, want 403; %v", a.name, code, m)
		}
		if k, ok := m["key"].(map[string]any); ok && k["key"] != nil {
			t.Errorf("%s: returned a secret", a.name)
		}
	}
	// Server objects may be created (they are settings, not credentials) ...
	code, m = httpJSON(t, e, orgKey, nil, "POST", ws+"/mcp-servers", map[string]any{"name": "org tools", "workflowIds": []string{e.Greet.ID}})
	if code != 201 {
		t.Fatalf("org key creates an MCP server object: %d %v", code, m)
	}
	srvURL := e.URL + "/api/mcp/serve/" + m["server"].(map[string]any)["id"].(string)
	if got := toolNames(t, connect(t, srvURL, orgKey)); !slices.Contains(got, "greet") {
		t.Fatalf("before leaving, server object tools = %v", got)
	}

	// The workspace leaves the organization (an org admin, signed in).
	admin := signIn(t, e, e.Admin.Email, e.AdminPassword)
	if code, m := httpJSON(t, e, "", admin, "PATCH", ws, map[string]any{"organizationId": nil}); code != 200 {
		t.Fatalf("move out: %d %v", code, m)
	}

	// Nothing the org key did reaches the workspace now.
	for _, probe := range []struct{ method, path string }{
		{"GET", "/api/v1/workflows/" + e.Greet.ID},
		{"POST", "/api/workflows/" + e.Greet.ID + "/execute"},
		{"GET", "/api/v1/logs?workspaceId=" + e.WS.ID},
		{"GET", ws + "/api-keys"},
		{"GET", ws + "/mcp-servers"},
	} {
		if code, _ := httpJSON(t, e, orgKey, nil, probe.method, probe.path, map[string]any{}); code != 403 {
			t.Errorf("after leaving, org key %s %s: %d, want 403", probe.method, probe.path, code)
		}
	}
	if got := toolNames(t, connect(t, e.URL+"/mcp", orgKey)); len(got) != 0 {
		t.Errorf("after leaving, /mcp tools for the org key = %v", got)
	}
	resp := rawInit(t, srvURL, orgKey, nil)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("after leaving, server object for the org key: %d, want 403", resp.StatusCode)
	}
	// No key or member was left behind.
	_, m = httpJSON(t, e, "", admin, "GET", ws+"/api-keys", nil)
	if got := len(m["keys"].([]any)); got != keysBefore {
		t.Errorf("workspace keys: %d before, %d after", keysBefore, got)
	}
	_, m = httpJSON(t, e, "", admin, "GET", ws+"/members", nil)
	if got := len(m["members"].([]any)); got != membersBefore {
		t.Errorf("workspace members: %d before, %d after", membersBefore, got)
	}
	_, m = httpJSON(t, e, "", admin, "GET", ws+"/invitations", nil)
	if got := len(m["invitations"].([]any)); got != 0 {
		t.Errorf("pending invitations left behind: %v", m["invitations"])
	}
}

// TestPersonalKeyOfOrgAdminCannotMintOrgKeys: a key that outlives its user's rights
// must not have minted anything that outlives them too.
func TestPersonalKeyOfOrgAdminCannotMintOrgKeys(t *testing.T) {
	e := testenv.New(t)
	code, m := httpJSON(t, e, e.AdminKey, nil, "POST", "/api/organizations/"+e.Org.ID+"/api-keys",
		map[string]any{"name": "escape", "grants": []any{map[string]any{"workspaceId": e.WS.ID, "level": "admin"}}})
	if code != 403 || m["code"] != "session_required" {
		t.Fatalf("personal key of an org owner mints an org key: %d %v", code, m)
	}
	code, m = httpJSON(t, e, e.AdminKey, nil, "POST", "/api/workspaces/"+e.WS.ID+"/api-keys", map[string]any{"name": "escape"})
	if code != 403 || m["code"] != "session_required" {
		t.Fatalf("personal key of a workspace admin mints a workspace key: %d %v", code, m)
	}
}

// TestInvitationNeedsConsent: an attacker who invites a victim learns nothing about
// whether the email has an account, and nothing of the attacker's workspace (its
// workflows as MCP tools above all) reaches the victim before they accept.
func TestInvitationNeedsConsent(t *testing.T) {
	e := testenv.New(t)
	attacker := signIn(t, e, e.Outsider.Email, e.AdminPassword)
	ows := "/api/workspaces/" + e.OtherWS.ID
	code, m := httpJSON(t, e, e.OutsiderKey, nil, "POST", "/api/v1/workflows/import?workspaceId="+e.OtherWS.ID, json.RawMessage(testenv.Workflow(t, "echo.json")))
	if code != 201 {
		t.Fatalf("import: %d %v", code, m)
	}
	wf := m["data"].(map[string]any)["id"].(string)
	if code, m := httpJSON(t, e, e.OutsiderKey, nil, "POST", "/api/v1/workflows/"+wf+"/deploy", nil); code != 200 {
		t.Fatalf("deploy: %d %v", code, m)
	}
	before := toolNames(t, connect(t, e.URL+"/mcp", e.MemberKey))

	shape := func(email string) (int, []string) {
		code, m := httpJSON(t, e, "", attacker, "POST", ows+"/members", map[string]any{"email": email, "permission": "admin"})
		inv, _ := m["invitation"].(map[string]any)
		var keys []string
		for k := range inv {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return code, keys
	}
	c1, k1 := shape(e.Member.Email)
	c2, k2 := shape("nobody-here@example.com")
	if c1 != 202 || c1 != c2 || !slices.Equal(k1, k2) {
		t.Fatalf("invite answers differ: existing %d %v, unknown %d %v", c1, k1, c2, k2)
	}
	if after := toolNames(t, connect(t, e.URL+"/mcp", e.MemberKey)); !slices.Equal(after, before) {
		t.Fatalf("victim's tools changed before accepting: %v -> %v", before, after)
	}
	if code, _ := httpJSON(t, e, e.MemberKey, nil, "GET", "/api/v1/workflows/"+wf, nil); code != 403 {
		t.Fatalf("victim reads the attacker's workflow before accepting: %d", code)
	}
	// Declining leaves nothing behind either.
	victim := signIn(t, e, e.Member.Email, e.AdminPassword)
	_, m = httpJSON(t, e, "", victim, "GET", "/api/users/me/invitations", nil)
	invs := m["invitations"].([]any)
	if len(invs) != 1 {
		t.Fatalf("victim's invitations = %v", invs)
	}
	id := invs[0].(map[string]any)["id"].(string)
	if code, _ := httpJSON(t, e, "", victim, "POST", "/api/invitations/"+id+"/decline", nil); code != 200 {
		t.Fatalf("decline: %d", code)
	}
	if code, _ := httpJSON(t, e, "", victim, "POST", "/api/invitations/"+id+"/accept", nil); code != 404 {
		t.Fatalf("accept after decline: %d", code)
	}
	if after := toolNames(t, connect(t, e.URL+"/mcp", e.MemberKey)); !slices.Equal(after, before) {
		t.Fatalf("victim's tools changed after declining: %v", after)
	}
}
