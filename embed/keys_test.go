package embed_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

func TestWorkspaceKeyLifecycle(t *testing.T) {
	e := testenv.New(t)
	b := signIn(t, e, e.Admin.Email, e.AdminPassword)
	path := "/dashboard/workspaces/" + e.WS.ID + "/settings/api-keys"
	logs := "/api/v1/logs?workspaceId=" + e.WS.ID

	// Bad forms come back with a message and create nothing.
	bad := []url.Values{
		{"type": {"workspace"}, "name": {""}, "level": {"read"}, "expires": {""}},
		{"type": {"workspace"}, "name": {"x"}, "level": {"owner"}, "expires": {""}},
		{"type": {"workspace"}, "name": {"x"}, "level": {"read"}, "expires": {"forever"}},
		{"type": {"workspace"}, "name": {"x"}, "level": {"read"}, "expires": {""}, "rate_limit": {"-3"}},
		{"type": {"workspace"}, "name": {"x"}, "level": {"read"}, "expires": {""}, "cidrs": {"not-an-ip"}},
		{"type": {"robot"}, "name": {"x"}, "expires": {""}},
	}
	for _, f := range bad {
		code, body, _ := b.post(path, f)
		if code != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) || plainKeyRE.MatchString(body) {
			t.Errorf("bad form %v = %d", f, code)
		}
	}

	form := url.Values{"type": {"workspace"}, "name": {"ci runner"}, "level": {"write"}, "expires": {"30d"},
		"workflow": {e.Echo.ID}, "cidrs": {"127.0.0.1, 10.0.0.0/8"}, "rate_limit": {"120"}}
	code, body, _ := b.post(path, form)
	plain := plainKeyRE.FindString(body)
	if code != http.StatusCreated || plain == "" || !strings.Contains(body, "You will not see it again") {
		t.Fatalf("create = %d, key shown: %v", code, plain != "")
	}
	ks := keysNamed(t, e, store.KeyFilter{WorkspaceID: e.WS.ID}, "ci runner")
	if len(ks) != 1 {
		t.Fatalf("keys named ci runner = %d", len(ks))
	}
	k := ks[0]
	if k.Level != store.LevelWrite || len(k.Workflows) != 1 || k.Workflows[0] != e.Echo.ID || k.RateLimit != 120 || len(k.AllowedCIDRs) != 2 || k.ExpiresAt == nil || k.CreatedBy != e.Admin.ID {
		t.Errorf("stored key = %+v", k)
	}
	// The list shows it by its last four, never the secret.
	_, page := b.get(path)
	if strings.Contains(page, plain) || !strings.Contains(page, "sk-steelengine-…"+plain[len(plain)-4:]) {
		t.Error("list shows the secret or not the display form")
	}
	for _, want := range []string{"ci runner", "only Echo", e.Admin.Email, "120 requests/min", "127.0.0.1, 10.0.0.0/8"} {
		if !strings.Contains(page, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	// Narrowed to Echo: runs Echo, not Greet.
	if c := apiStatus(t, e, "GET", "/api/workflows/"+e.Echo.ID+"/status", plain); c != 200 {
		t.Errorf("new key on Echo = %d", c)
	}
	if c := apiStatus(t, e, "GET", "/api/workflows/"+e.Greet.ID+"/status", plain); c != http.StatusForbidden {
		t.Errorf("new key on Greet = %d", c)
	}

	// Rotate with a grace period: both work; the new one is shown once.
	code, body, _ = b.post(path+"/"+k.ID+"/rotate", url.Values{"grace": {"1h"}})
	next := plainKeyRE.FindString(body)
	if code != 200 || next == "" || next == plain || !strings.Contains(body, "keeps working until") {
		t.Fatalf("rotate = %d", code)
	}
	if c := apiStatus(t, e, "GET", "/api/workflows/"+e.Echo.ID+"/status", next); c != 200 {
		t.Errorf("rotated key = %d", c)
	}
	if c := apiStatus(t, e, "GET", "/api/workflows/"+e.Echo.ID+"/status", plain); c != 200 {
		t.Errorf("old key in its grace period = %d", c)
	}
	_, page = b.get(path)
	if !strings.Contains(page, "rotated · works until") {
		t.Error("list does not mark the rotated key")
	}

	// Revoke the successor: 401 on the next request.
	succ := keysNamed(t, e, store.KeyFilter{WorkspaceID: e.WS.ID}, "ci runner")
	var succID string
	for _, s := range succ {
		if s.ID != k.ID {
			succID = s.ID
		}
	}
	_, _, resp := b.post(path+"/"+succID+"/revoke", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke = %d", resp.StatusCode)
	}
	if c := apiStatus(t, e, "GET", logs, next); c != http.StatusUnauthorized {
		t.Errorf("revoked key = %d", c)
	}
	// A key of another owner cannot be revoked through this page.
	if code, _, _ := b.post(path+"/no-such-key/revoke", nil); code != http.StatusNotFound {
		t.Errorf("revoke unknown key = %d", code)
	}

	// Personal keys: created here, listed under "Your personal keys".
	code, body, _ = b.post(path, url.Values{"type": {"personal"}, "name": {"my laptop"}, "expires": {""}})
	mine := plainKeyRE.FindString(body)
	if code != http.StatusCreated || mine == "" {
		t.Fatalf("personal key = %d", code)
	}
	if c := apiStatus(t, e, "GET", logs, mine); c != 200 {
		t.Errorf("personal key = %d", c)
	}
}

func TestOrgKeyWithWorkflowGrantShowsOnWorkspacePage(t *testing.T) {
	e := testenv.New(t)
	b := signIn(t, e, e.Admin.Email, e.AdminPassword)
	orgPath := "/dashboard/organizations/" + e.Org.ID + "/settings/api-keys"

	// The grant editor lists the org's workspaces and their workflows.
	_, page := b.get(orgPath)
	for _, want := range []string{`value="workspace:` + e.WS.ID + `"`, `value="workflow:` + e.Greet.ID + `"`} {
		if !strings.Contains(page, want) {
			t.Errorf("grant editor lacks %s", want)
		}
	}
	// No grant → a clear error, nothing created.
	code, body, _ := b.post(orgPath, url.Values{"name": {"no grants"}, "expires": {""}, "grant_target": {"", ""}, "grant_level": {"read", "read"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "at least one grant") {
		t.Errorf("org key without grants = %d", code)
	}
	// A grant outside the organization is refused by the key lifecycle.
	code, _, _ = b.post(orgPath, url.Values{"name": {"outside"}, "expires": {""}, "grant_target": {"workspace:" + e.OtherWS.ID}, "grant_level": {"read"}})
	if code != http.StatusBadRequest && code != http.StatusForbidden && code != http.StatusNotFound {
		t.Errorf("grant on a workspace outside the org = %d", code)
	}

	code, body, _ = b.post(orgPath, url.Values{"name": {"greeter bot"}, "expires": {"90d"}, "grant_target": {"workflow:" + e.Greet.ID, ""}, "grant_level": {"write", "read"}})
	plain := plainKeyRE.FindString(body)
	if code != http.StatusCreated || plain == "" {
		t.Fatalf("org key = %d", code)
	}
	if c := apiStatus(t, e, "GET", "/api/workflows/"+e.Greet.ID+"/status", plain); c != 200 {
		t.Errorf("org key on its workflow = %d", c)
	}
	if c := apiStatus(t, e, "GET", "/api/workflows/"+e.Echo.ID+"/status", plain); c != http.StatusForbidden {
		t.Errorf("org key on another workflow = %d", c)
	}
	_, page = b.get("/dashboard/workspaces/" + e.WS.ID + "/settings/api-keys")
	i := strings.Index(page, "Organization keys with access to this workspace")
	if i < 0 || !strings.Contains(page[i:], "greeter bot") || !strings.Contains(page[i:], "write on workflow Greet") {
		t.Fatal("workspace settings do not list the org key with its grant")
	}

	// Moving the workspace out of the org drops the grant: the key loses access.
	_, _, resp := b.post("/dashboard/organizations/"+e.Org.ID+"/workspaces/"+e.WS.ID+"/remove", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove workspace = %d", resp.StatusCode)
	}
	if c := apiStatus(t, e, "GET", "/api/workflows/"+e.Greet.ID+"/status", plain); c != http.StatusForbidden {
		t.Errorf("org key after its workspace left = %d", c)
	}
	ws, _ := e.App.Store.GetWorkspace(context.Background(), e.WS.ID)
	if ws.OrgID != "" {
		t.Error("workspace still in the org")
	}
	_, page = b.get("/dashboard/workspaces/" + e.WS.ID + "/settings/api-keys")
	if strings.Contains(page, "greeter bot") {
		t.Error("org key still listed after the workspace left")
	}
}
