package embed_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// Every decision below is auth.Authorize's: the dashboard only shows its answer.
func TestPermissions(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	reader := addUser(t, e, "reader@example.com")
	if err := e.App.Store.SetWorkspaceMember(ctx, e.WS.ID, reader.ID, store.LevelRead); err != nil {
		t.Fatal(err)
	}
	if err := e.App.Store.SetOrgMember(ctx, e.Org.ID, e.Member.ID, store.RoleMember); err != nil {
		t.Fatal(err)
	}
	keysPath := "/dashboard/workspaces/" + e.WS.ID + "/settings/api-keys"
	orgKeysPath := "/dashboard/organizations/" + e.Org.ID + "/settings/api-keys"
	wsKey := func(name string) url.Values {
		return url.Values{"type": {"workspace"}, "name": {name}, "level": {"read"}, "expires": {""}}
	}

	t.Run("read member cannot create a workspace key", func(t *testing.T) {
		b := signIn(t, e, reader.Email, e.AdminPassword)
		code, body, _ := b.post(keysPath, wsKey("by-reader"))
		if code != http.StatusForbidden || plainKeyRE.MatchString(body) {
			t.Fatalf("read member creating a workspace key = %d", code)
		}
		if ks := keysNamed(t, e, store.KeyFilter{WorkspaceID: e.WS.ID}, "by-reader"); len(ks) != 0 {
			t.Fatal("the key was created")
		}
		// The page offers only personal keys to them and hides the workspace's keys.
		code, page := b.get(keysPath)
		if code != 200 || !strings.Contains(page, "Workspace keys are managed by workspace admins") || strings.Contains(page, `value="workspace" checked`) {
			t.Errorf("keys page for a read member: %d", code)
		}
		// Their own personal key they may create.
		code, body, _ = b.post(keysPath, url.Values{"type": {"personal"}, "name": {"reader-own"}, "expires": {"7d"}})
		if code != http.StatusCreated || !plainKeyRE.MatchString(body) {
			t.Errorf("read member creating a personal key = %d", code)
		}
	})

	t.Run("write member cannot create a workspace key either", func(t *testing.T) {
		b := signIn(t, e, e.Member.Email, e.AdminPassword)
		if code, _, _ := b.post(keysPath, wsKey("by-writer")); code != http.StatusForbidden {
			t.Fatalf("write member creating a workspace key = %d", code)
		}
	})

	t.Run("non-admin cannot toggle personal keys", func(t *testing.T) {
		for _, u := range []*store.User{reader, e.Member} {
			b := signIn(t, e, u.Email, e.AdminPassword)
			if code, _, _ := b.post("/dashboard/workspaces/"+e.WS.ID+"/settings/personal-keys", url.Values{"allow": {"false"}}); code != http.StatusForbidden {
				t.Errorf("%s toggling personal keys = %d", u.Email, code)
			}
			_, page := b.get(keysPath)
			if strings.Contains(page, "/settings/personal-keys") {
				t.Errorf("%s sees the personal-keys switch", u.Email)
			}
		}
		ws, _ := e.App.Store.GetWorkspace(ctx, e.WS.ID)
		if !ws.AllowPersonalKeys {
			t.Fatal("personal keys were disabled by a non-admin")
		}
	})

	t.Run("org member who is not an org admin cannot create org keys", func(t *testing.T) {
		b := signIn(t, e, e.Member.Email, e.AdminPassword)
		form := url.Values{"name": {"by-org-member"}, "expires": {""}, "grant_target": {"workspace:" + e.WS.ID}, "grant_level": {"admin"}}
		code, body, _ := b.post(orgKeysPath, form)
		if code != http.StatusForbidden || plainKeyRE.MatchString(body) {
			t.Fatalf("org member creating an org key = %d", code)
		}
		if ks := keysNamed(t, e, store.KeyFilter{OrgID: e.Org.ID}, "by-org-member"); len(ks) != 0 {
			t.Fatal("the org key was created")
		}
		code, page := b.get(orgKeysPath)
		if code != http.StatusForbidden || strings.Contains(page, "grant_target") {
			t.Errorf("org keys page for a member = %d", code)
		}
		// They can see the organization itself, without admin actions.
		code, page = b.get("/dashboard/organizations/" + e.Org.ID)
		if code != 200 || strings.Contains(page, "/remove") || !strings.Contains(page, e.Admin.Email) {
			t.Errorf("org page for a member = %d", code)
		}
		// Revoking or rotating someone's org key is refused too.
		var orgKeyID string
		for _, k := range keysNamed(t, e, store.KeyFilter{OrgID: e.Org.ID}, "") {
			orgKeyID = k.ID
		}
		ks, _ := e.App.Resolver.Keys(ctx, auth.Operator(), store.KeyFilter{OrgID: e.Org.ID})
		if len(ks) > 0 {
			orgKeyID = ks[0].ID
		}
		if code, _, _ := b.post(orgKeysPath+"/"+orgKeyID+"/revoke", nil); code != http.StatusForbidden && code != http.StatusNotFound {
			t.Errorf("org member revoking an org key = %d", code)
		}
		if k, _ := e.App.Store.GetKey(ctx, orgKeyID); k.RevokedAt != nil {
			t.Error("org member revoked an org key")
		}
	})

	t.Run("workspace admin can do all of it", func(t *testing.T) {
		b := signIn(t, e, e.Admin.Email, e.AdminPassword)
		if code, body, _ := b.post(keysPath, wsKey("by-admin")); code != http.StatusCreated || !plainKeyRE.MatchString(body) {
			t.Errorf("admin creating a workspace key = %d", code)
		}
		form := url.Values{"name": {"by-org-admin"}, "expires": {""}, "grant_target": {"workspace:" + e.WS.ID, ""}, "grant_level": {"read", "write"}}
		if code, body, _ := b.post(orgKeysPath, form); code != http.StatusCreated || !plainKeyRE.MatchString(body) {
			t.Errorf("org admin creating an org key = %d", code)
		}
		if _, _, resp := b.post("/dashboard/workspaces/"+e.WS.ID+"/settings/personal-keys", url.Values{"allow": {"false"}}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("admin toggling personal keys = %d", resp.StatusCode)
		}
		ws, _ := e.App.Store.GetWorkspace(ctx, e.WS.ID)
		if ws.AllowPersonalKeys {
			t.Error("toggle had no effect")
		}
		if code := apiStatus(t, e, "GET", "/api/workflows/"+e.Echo.ID+"/status", e.MemberKey); code != http.StatusForbidden {
			t.Errorf("personal key after disabling = %d, want 403", code)
		}
	})

	t.Run("read member cannot import, deploy or run", func(t *testing.T) {
		b := signIn(t, e, reader.Email, e.AdminPassword)
		if code, _, _ := b.upload("/dashboard/workspaces/"+e.WS.ID+"/workflows/import", "file", "greet.json", testenv.Workflow(t, "greet.json")); code != http.StatusForbidden {
			t.Errorf("read member import = %d", code)
		}
		wfPath := "/dashboard/workspaces/" + e.WS.ID + "/workflows/" + e.Undeployed.ID
		if code, _, _ := b.post(wfPath+"/deploy", nil); code != http.StatusForbidden {
			t.Errorf("read member deploy = %d", code)
		}
		if code, _, _ := b.post("/dashboard/workspaces/"+e.WS.ID+"/workflows/"+e.Greet.ID+"/run", nil); code != http.StatusForbidden {
			t.Errorf("read member run = %d", code)
		}
		_, page := b.get("/dashboard/workspaces/" + e.WS.ID + "/workflows/" + e.Greet.ID)
		if strings.Contains(page, "run-button") || strings.Contains(page, "/deploy") {
			t.Error("read member sees run or deploy controls")
		}
	})
}

// A page never shows data outside the user's memberships: not in lists, and not
// when an id from elsewhere is put in the URL.
func TestPagesStayInsideMemberships(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	op := auth.Operator()
	secretOrg := &store.Org{Name: "Zebra Holdings"}
	if err := e.App.Store.CreateOrg(ctx, secretOrg, e.Outsider.ID); err != nil {
		t.Fatal(err)
	}
	secretWS, err := e.App.Service.CreateWorkspace(ctx, op, core.NewWorkspace{Name: "Zebra Vault", OwnerID: e.Outsider.ID, OrgID: secretOrg.ID})
	if err != nil {
		t.Fatal(err)
	}
	wf, err := e.App.Service.ImportWorkflow(ctx, op, secretWS.ID, []byte(strings.Replace(string(testenv.Workflow(t, "echo.json")), `"state"`, `"name":"Zebra Classified Flow","state"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, op, wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	run, err := e.App.Service.Execute(ctx, op, core.RunRequest{WorkflowID: wf.ID, Input: map[string]any{"message": "zebra-secret-output"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.App.Resolver.CreateKey(ctx, op, auth.CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: secretWS.ID, Name: "Zebra Key"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.App.Resolver.CreateKey(ctx, op, auth.CreateKeyRequest{Type: store.KeyOrganization, OrgID: secretOrg.ID, Name: "Zebra Org Key",
		Grants: []store.Grant{{TargetType: store.TargetWorkspace, TargetID: secretWS.ID, Level: store.LevelRead}}}); err != nil {
		t.Fatal(err)
	}
	// Outside data also inside the member's own world: another user's personal key.
	if _, _, err := e.App.Resolver.CreateKey(ctx, op, auth.CreateKeyRequest{Type: store.KeyPersonal, UserID: e.Admin.ID, Name: "Zebra Admin Personal"}); err != nil {
		t.Fatal(err)
	}

	if err := e.App.Store.SetOrgMember(ctx, e.Org.ID, e.Member.ID, store.RoleMember); err != nil {
		t.Fatal(err)
	}
	b := signIn(t, e, e.Member.Email, e.AdminPassword)
	own := "/dashboard/workspaces/" + e.WS.ID
	pages := []string{
		"/dashboard", "/dashboard/account",
		own + "/workflows", own + "/workflows/" + e.Echo.ID, own + "/logs?range=all", own + "/settings/api-keys",
		"/dashboard/organizations/" + e.Org.ID,
	}
	for _, p := range pages {
		code, body := b.get(p)
		if code != 200 {
			t.Errorf("GET %s = %d", p, code)
		}
		if strings.Contains(body, "Zebra") || strings.Contains(body, "zebra") {
			t.Errorf("GET %s shows data from outside the member's memberships", p)
		}
	}
	foreign := []string{
		"/dashboard/workspaces/" + secretWS.ID + "/workflows",
		"/dashboard/workspaces/" + secretWS.ID + "/workflows/" + wf.ID,
		"/dashboard/workspaces/" + secretWS.ID + "/logs",
		"/dashboard/workspaces/" + secretWS.ID + "/logs/" + run.Execution.ID,
		"/dashboard/workspaces/" + secretWS.ID + "/settings/api-keys",
		own + "/workflows/" + wf.ID,       // another workspace's workflow under one's own
		own + "/logs/" + run.Execution.ID, // another workspace's log under one's own
		"/dashboard/organizations/" + secretOrg.ID,
		"/dashboard/organizations/" + secretOrg.ID + "/settings/api-keys",
		"/dashboard/workspaces/no-such-workspace/workflows",
	}
	for _, p := range foreign {
		code, body := b.get(p)
		if code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, code)
		}
		if strings.Contains(body, "Zebra") || strings.Contains(body, "zebra") {
			t.Errorf("GET %s leaks outside data", p)
		}
	}
}
