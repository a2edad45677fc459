package httpapi_test

import (
	"context"
	"slices"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestListWorkspacesShowsOnlyReadable(t *testing.T) {
	e := testenv.New(t)
	cases := []struct {
		name string
		key  string
		want []string
	}{
		{"member", e.MemberKey, []string{e.WS.ID}},
		{"outsider", e.OutsiderKey, []string{e.OtherWS.ID}},
		{"workspace key", e.WSKey, []string{e.WS.ID}},
		{"workspace read key", e.WSReadKey, []string{e.WS.ID}},
		{"org key", e.OrgKey, []string{e.WS.ID}},
		{"org workflow key", e.OrgWorkflowKey, nil},
	}
	for _, c := range cases {
		got := mgIDs(mgList(mgKey(t, e, c.key).want(200, "", "GET", "/api/workspaces", nil), "workspaces"))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: workspaces %v, want %v", c.name, got, c.want)
		}
	}
	// The instance admin's session sees every workspace.
	got := mgList(mgLogin(t, e, e.Admin.Email, e.AdminPassword).want(200, "", "GET", "/api/workspaces", nil), "workspaces")
	if len(got) != 2 {
		t.Errorf("admin sees %d workspaces", len(got))
	}
	(&mgClient{t: t, e: e}).want(401, "", "GET", "/api/workspaces", nil)
}

func TestGetWorkspaceAccess(t *testing.T) {
	e := testenv.New(t)
	m := mgKey(t, e, e.MemberKey).want(200, "", "GET", "/api/workspaces/"+e.WS.ID, nil)
	ws := mgObj(m, "workspace")
	if ws["allowPersonalApiKeys"] != true || ws["organizationId"] != e.Org.ID || ws["permission"] != "write" {
		t.Fatalf("workspace = %v", ws)
	}
	mgKey(t, e, e.OutsiderKey).want(403, "forbidden", "GET", "/api/workspaces/"+e.WS.ID, nil)
	mgKey(t, e, e.WSKey).want(403, "forbidden", "GET", "/api/workspaces/"+e.OtherWS.ID, nil)
	mgKey(t, e, e.OrgKey).want(403, "forbidden", "GET", "/api/workspaces/"+e.OtherWS.ID, nil)
	mgKey(t, e, e.MemberKey).want(404, "not_found", "GET", "/api/workspaces/nope", nil)
	(&mgClient{t: t, e: e}).want(401, "", "GET", "/api/workspaces/"+e.WS.ID, nil)
}

func TestCreateWorkspace(t *testing.T) {
	e := testenv.New(t)
	m := mgKey(t, e, e.MemberKey).want(201, "", "POST", "/api/workspaces", map[string]any{"name": "Mine"})
	ws := mgObj(m, "workspace")
	id, _ := ws["id"].(string)
	if ws["ownerId"] != e.Member.ID || ws["organizationId"] != nil || ws["allowPersonalApiKeys"] != true {
		t.Fatalf("created = %v", ws)
	}
	mgKey(t, e, e.MemberKey).want(200, "", "GET", "/api/workspaces/"+id, nil)
	mgKey(t, e, e.OutsiderKey).want(403, "", "GET", "/api/workspaces/"+id, nil)
	// Into an organization needs admin on it.
	mgKey(t, e, e.MemberKey).want(403, "", "POST", "/api/workspaces", map[string]any{"name": "In org", "organizationId": e.Org.ID})
	m = mgKey(t, e, e.AdminKey).want(201, "", "POST", "/api/workspaces", map[string]any{"name": "In org", "organizationId": e.Org.ID})
	if mgObj(m, "workspace")["organizationId"] != e.Org.ID {
		t.Fatalf("created = %v", m)
	}
	// Keys that are not a user's own nothing.
	mgKey(t, e, e.WSKey).want(403, "", "POST", "/api/workspaces", map[string]any{"name": "x"})
	mgKey(t, e, e.OrgKey).want(403, "", "POST", "/api/workspaces", map[string]any{"name": "x"})
	mgKey(t, e, e.MemberKey).want(400, "", "POST", "/api/workspaces", map[string]any{"name": ""})
	// Only instance admins name another owner.
	mgKey(t, e, e.MemberKey).want(403, "", "POST", "/api/workspaces", map[string]any{"name": "x", "ownerId": e.Outsider.ID})
	m = mgLogin(t, e, e.Admin.Email, e.AdminPassword).want(201, "", "POST", "/api/workspaces", map[string]any{"name": "For outsider", "ownerId": e.Outsider.ID})
	if mgObj(m, "workspace")["ownerId"] != e.Outsider.ID {
		t.Fatalf("created = %v", m)
	}
}

func TestPatchWorkspaceNeedsAdmin(t *testing.T) {
	e := testenv.New(t)
	path := "/api/workspaces/" + e.WS.ID
	for _, k := range []string{e.MemberKey, e.WSKey, e.WSReadKey, e.WSNarrowKey, e.OrgWorkflowKey} {
		mgKey(t, e, k).want(403, "forbidden", "PATCH", path, map[string]any{"name": "Renamed"})
	}
	mgKey(t, e, e.OutsiderKey).want(403, "", "PATCH", path, map[string]any{"name": "Renamed"})
	mgKey(t, e, e.AdminKey).want(404, "", "PATCH", "/api/workspaces/nope", map[string]any{"name": "Renamed"})
	m := mgKey(t, e, e.AdminKey).want(200, "", "PATCH", path, map[string]any{"name": "Renamed"})
	if mgObj(m, "workspace")["name"] != "Renamed" || mgObj(m, "workspace")["organizationId"] != e.Org.ID {
		t.Fatalf("patch = %v", m)
	}
	// An org key with an admin grant administers the workspace, but cannot move it
	// out of the organization (that needs org admin).
	mgKey(t, e, e.OrgKey).want(200, "", "PATCH", path, map[string]any{"name": "By org key"})
	mgKey(t, e, e.OrgKey).want(403, "", "PATCH", path, map[string]any{"organizationId": nil})
	mgKey(t, e, e.AdminKey).want(400, "", "PATCH", path, map[string]any{"name": ""})
	mgKey(t, e, e.AdminKey).want(400, "", "PATCH", path, map[string]any{"allowPersonalApiKeys": "yes"})
}

func TestPersonalKeysToggleTakesEffectOnNextRequest(t *testing.T) {
	e := testenv.New(t)
	admin := mgLogin(t, e, e.Admin.Email, e.AdminPassword)
	member := mgKey(t, e, e.MemberKey)
	wf := "/api/v1/workflows/" + e.Greet.ID
	member.want(200, "", "GET", wf, nil)

	m := admin.want(200, "", "PATCH", "/api/workspaces/"+e.WS.ID, map[string]any{"allowPersonalApiKeys": false})
	if mgObj(m, "workspace")["allowPersonalApiKeys"] != false {
		t.Fatalf("patch = %v", m)
	}
	member.want(403, "personal_keys_disabled", "GET", wf, nil)
	// The admin's own personal key is refused too; sessions and workspace keys are not.
	mgKey(t, e, e.AdminKey).want(403, "personal_keys_disabled", "GET", wf, nil)
	admin.want(200, "", "GET", wf, nil)
	mgKey(t, e, e.WSKey).want(200, "", "GET", wf, nil)
	// The member's session still works (the policy is about keys).
	mgLogin(t, e, e.Member.Email, e.AdminPassword).want(200, "", "GET", wf, nil)

	admin.want(200, "", "PATCH", "/api/workspaces/"+e.WS.ID, map[string]any{"allowPersonalApiKeys": true})
	member.want(200, "", "GET", wf, nil)

	// Both changes are in the audit trail.
	evs, err := e.App.Store.ListAudit(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == "personal_keys_changed" && ev.WorkspaceID == e.WS.ID && ev.ActorID == e.Admin.ID {
			n++
		}
	}
	if n != 2 {
		t.Errorf("personal_keys_changed events = %d, want 2", n)
	}
}

func TestWorkspaceLeavingOrgDropsOrgKeyAccess(t *testing.T) {
	e := testenv.New(t)
	admin := mgLogin(t, e, e.Admin.Email, e.AdminPassword)
	orgKey, orgWfKey := mgKey(t, e, e.OrgKey), mgKey(t, e, e.OrgWorkflowKey)
	// Moving a workspace changes what keys reach it: people do that, keys do not.
	mgKey(t, e, e.AdminKey).want(403, "session_required", "PATCH", "/api/workspaces/"+e.WS.ID, map[string]any{"organizationId": nil})
	orgKey.want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	orgWfKey.want(200, "", "GET", "/api/v1/workflows/"+e.Echo.ID, nil)
	reach := mgList(admin.want(200, "", "GET", "/api/workspaces/"+e.WS.ID+"/organization-api-keys", nil), "keys")
	if len(reach) != 2 {
		t.Fatalf("org keys reaching WS = %v", reach)
	}

	m := admin.want(200, "", "PATCH", "/api/workspaces/"+e.WS.ID, map[string]any{"organizationId": nil})
	if ws := mgObj(m, "workspace"); ws["organizationId"] != nil {
		t.Fatalf("patch = %v", m)
	}
	orgKey.want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	orgWfKey.want(403, "", "GET", "/api/v1/workflows/"+e.Echo.ID, nil)
	orgKey.want(403, "", "GET", "/api/workspaces/"+e.WS.ID, nil)
	if reach := mgList(admin.want(200, "", "GET", "/api/workspaces/"+e.WS.ID+"/organization-api-keys", nil), "keys"); len(reach) != 0 {
		t.Fatalf("org keys still reach WS: %v", reach)
	}
	// Moving back does not bring the deleted grants back.
	admin.want(200, "", "PATCH", "/api/workspaces/"+e.WS.ID, map[string]any{"organizationId": e.Org.ID})
	orgKey.want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	// Moving into an organization needs admin there.
	mgLogin(t, e, e.Outsider.Email, e.AdminPassword).want(403, "", "PATCH", "/api/workspaces/"+e.OtherWS.ID, map[string]any{"organizationId": e.Org.ID})
	admin.want(404, "", "PATCH", "/api/workspaces/"+e.WS.ID, map[string]any{"organizationId": "nope"})
}
