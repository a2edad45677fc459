package httpapi_test

import (
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestWorkspaceKeys(t *testing.T) {
	e := testenv.New(t)
	base := "/api/workspaces/" + e.WS.ID + "/api-keys"
	admin := mgLogin(t, e, e.Admin.Email, e.AdminPassword)

	m := admin.want(201, "", "POST", base, map[string]any{"name": "ci", "level": "read", "workflowIds": []string{e.Echo.ID}})
	k := mgObj(m, "key")
	plain, _ := k["key"].(string)
	id, _ := k["id"].(string)
	if plain == "" || k["level"] != "read" || k["workspaceId"] != e.WS.ID {
		t.Fatalf("create = %v", m)
	}
	nk := mgKey(t, e, plain)
	nk.want(200, "", "GET", "/api/v1/workflows/"+e.Echo.ID, nil)
	nk.want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	nk.want(403, "", "POST", "/api/v1/workflows/"+e.Echo.ID+"/deploy", nil)

	keys := mgList(admin.want(200, "", "GET", base, nil), "keys")
	if len(keys) != 4 {
		t.Fatalf("keys = %d, want 4 (3 seeded + 1)", len(keys))
	}
	for _, kv := range keys {
		if _, ok := kv["key"]; ok {
			t.Fatalf("list shows a key: %v", kv)
		}
		if dk, _ := kv["displayKey"].(string); !strings.HasPrefix(dk, "sk-steelengine-") {
			t.Fatalf("displayKey = %q", dk)
		}
	}

	admin.want(409, "conflict", "POST", base, map[string]any{"name": "ci"})
	admin.want(400, "", "POST", base, map[string]any{"name": "bad", "level": "owner"})
	admin.want(400, "", "POST", base, map[string]any{"name": "bad", "workflowIds": []string{"nope"}})
	admin.want(400, "", "POST", base, map[string]any{"name": "bad", "grants": []any{map[string]any{"workspaceId": e.WS.ID, "level": "read"}}})
	// A workflow of another workspace cannot narrow this workspace's key.
	other := mgKey(t, e, e.OutsiderKey)
	m = other.want(201, "", "POST", "/api/v1/workflows/import?workspaceId="+e.OtherWS.ID, testenv.Workflow(t, "echo.json"))
	otherWf, _ := mgObj(m, "data")["id"].(string)
	admin.want(400, "", "POST", base, map[string]any{"name": "bad", "workflowIds": []string{otherWf}})

	// Listing workspace keys needs admin on the workspace; creating them needs a
	// signed-in admin: no API key mints keys, not even one with an admin grant.
	for _, key := range []string{e.MemberKey, e.WSKey, e.WSReadKey, e.OrgWorkflowKey, e.OutsiderKey} {
		mgKey(t, e, key).want(403, "", "GET", base, nil)
		mgKey(t, e, key).want(403, "", "POST", base, map[string]any{"name": "nope"})
	}
	(&mgClient{t: t, e: e}).want(401, "", "GET", base, nil)
	admin.want(404, "", "GET", "/api/workspaces/nope/api-keys", nil)
	mgKey(t, e, e.OrgKey).want(200, "", "GET", base, nil)
	for _, key := range []string{e.OrgKey, e.AdminKey} {
		mgKey(t, e, key).want(403, "session_required", "POST", base, map[string]any{"name": "made by a key"})
		mgKey(t, e, key).want(403, "session_required", "POST", base+"/"+id+"/rotate", map[string]any{"graceSeconds": 0})
		mgKey(t, e, key).want(403, "session_required", "PUT", base+"/"+id, map[string]any{"name": "renamed by a key"})
	}
	admin.want(201, "", "POST", base, map[string]any{"name": "made by org key"})

	// Rename (PUT); a duplicate name is a conflict.
	m = admin.want(200, "", "PUT", base+"/"+id, map[string]any{"name": "ci-renamed"})
	if mgObj(m, "key")["name"] != "ci-renamed" {
		t.Fatalf("put = %v", m)
	}
	admin.want(409, "conflict", "PUT", base+"/"+id, map[string]any{"name": "made by org key"})
	// Keys outside the caller's reach read as not found (auth's key lifecycle).
	outsider := mgLogin(t, e, e.Outsider.Email, e.AdminPassword)
	outsider.want(404, "", "PUT", base+"/"+id, map[string]any{"name": "x"})
	// A key id under another workspace's path is not found.
	outsider.want(404, "", "PUT", "/api/workspaces/"+e.OtherWS.ID+"/api-keys/"+id, map[string]any{"name": "x"})
	outsider.want(404, "", "DELETE", "/api/workspaces/"+e.OtherWS.ID+"/api-keys/"+id, nil)

	// Rotate keeps the level and narrowing.
	m = admin.want(200, "", "POST", base+"/"+id+"/rotate", map[string]any{"graceSeconds": 0})
	rotated, _ := mgObj(m, "key")["key"].(string)
	newID, _ := mgObj(m, "key")["id"].(string)
	nk.want(401, "", "GET", "/api/v1/workflows/"+e.Echo.ID, nil)
	rk := mgKey(t, e, rotated)
	rk.want(200, "", "GET", "/api/v1/workflows/"+e.Echo.ID, nil)
	rk.want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)

	// Revoke: a key never revokes another key, an admin session does.
	mgKey(t, e, e.OrgKey).want(403, "session_required", "DELETE", base+"/"+newID, nil)
	mgLogin(t, e, e.Member.Email, e.AdminPassword).want(404, "", "DELETE", base+"/"+newID, nil)
	admin.want(200, "", "DELETE", base+"/"+newID, nil)
	rk.want(401, "invalid_api_key", "GET", "/api/v1/workflows/"+e.Echo.ID, nil)
	admin.want(404, "", "DELETE", base+"/"+newID, nil)
	// A key may revoke itself (whoever finds a leaked key can kill it).
	mgKey(t, e, e.WSReadKey).want(403, "", "GET", base, nil)
	self := mgObj(admin.want(201, "", "POST", base, map[string]any{"name": "self", "level": "read"}), "key")
	selfKey := mgKey(t, e, self["key"].(string))
	selfKey.want(200, "", "DELETE", base+"/"+self["id"].(string), nil)
	selfKey.want(401, "invalid_api_key", "GET", "/api/v1/workflows/"+e.Echo.ID, nil)
}

func TestOrgKeysReachingWorkspace(t *testing.T) {
	e := testenv.New(t)
	path := "/api/workspaces/" + e.WS.ID + "/organization-api-keys"
	m := mgKey(t, e, e.AdminKey).want(200, "", "GET", path, nil)
	keys := mgList(m, "keys")
	if len(keys) != 2 {
		t.Fatalf("keys = %v", keys)
	}
	for _, k := range keys {
		if _, ok := k["key"]; ok {
			t.Fatal("list shows a key")
		}
		gs, _ := k["grants"].([]any)
		if len(gs) != 1 {
			t.Fatalf("grants = %v", k["grants"])
		}
	}
	// Only grants on this workspace are shown: add a grant elsewhere in the org.
	ws2 := mgObj(mgKey(t, e, e.AdminKey).want(201, "", "POST", "/api/workspaces", map[string]any{"name": "Second", "organizationId": e.Org.ID}), "workspace")
	mgLogin(t, e, e.Admin.Email, e.AdminPassword).want(201, "", "POST", "/api/organizations/"+e.Org.ID+"/api-keys", map[string]any{"name": "both",
		"grants": []any{map[string]any{"workspaceId": e.WS.ID, "level": "read"}, map[string]any{"workspaceId": ws2["id"], "level": "admin"}}})
	keys = mgList(mgKey(t, e, e.AdminKey).want(200, "", "GET", path, nil), "keys")
	if len(keys) != 3 {
		t.Fatalf("keys = %v", keys)
	}
	for _, k := range keys {
		if k["name"] == "both" {
			gs, _ := k["grants"].([]any)
			if len(gs) != 1 || gs[0].(map[string]any)["workspaceId"] != e.WS.ID {
				t.Fatalf("grants here = %v", gs)
			}
		}
	}
	for _, key := range []string{e.MemberKey, e.WSKey, e.OutsiderKey, e.OrgWorkflowKey} {
		mgKey(t, e, key).want(403, "", "GET", path, nil)
	}
	mgKey(t, e, e.AdminKey).want(404, "", "GET", "/api/workspaces/nope/organization-api-keys", nil)
}
