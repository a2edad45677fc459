package httpapi_test

import (
	"slices"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestMCPServerObjects(t *testing.T) {
	e := testenv.New(t)
	base := "/api/workspaces/" + e.WS.ID + "/mcp-servers"
	admin := mgKey(t, e, e.AdminKey)
	for _, k := range []string{e.MemberKey, e.WSKey, e.WSReadKey, e.OrgWorkflowKey, e.OutsiderKey} {
		mgKey(t, e, k).want(403, "", "POST", base, map[string]any{"name": "tools", "workflowIds": []string{e.Greet.ID}})
	}
	(&mgClient{t: t, e: e}).want(401, "", "POST", base, map[string]any{"name": "tools"})
	admin.want(400, "", "POST", base, map[string]any{"name": ""})
	m := admin.want(201, "", "POST", base, map[string]any{"name": "tools", "description": "Greeting tools", "workflowIds": []string{e.Greet.ID}})
	srv := mgObj(m, "server")
	id, _ := srv["id"].(string)
	if id == "" || srv["url"] != "/api/mcp/serve/"+id || srv["workspaceId"] != e.WS.ID {
		t.Fatalf("create = %v", m)
	}
	mgKey(t, e, e.OrgKey).want(201, "", "POST", base, map[string]any{"name": "by org key"})

	// Reading needs read on the workspace.
	for _, k := range []string{e.MemberKey, e.WSReadKey, e.OrgKey} {
		got := mgIDs(mgList(mgKey(t, e, k).want(200, "", "GET", base, nil), "servers"))
		if len(got) != 2 || !slices.Contains(got, id) {
			t.Fatalf("list = %v", got)
		}
		mgKey(t, e, k).want(200, "", "GET", "/api/mcp-servers/"+id, nil)
	}
	mgKey(t, e, e.OutsiderKey).want(403, "", "GET", base, nil)
	mgKey(t, e, e.OutsiderKey).want(403, "", "GET", "/api/mcp-servers/"+id, nil)
	admin.want(404, "", "GET", "/api/mcp-servers/nope", nil)

	// Patch.
	mgKey(t, e, e.MemberKey).want(403, "", "PATCH", "/api/mcp-servers/"+id, map[string]any{"name": "x"})
	m = admin.want(200, "", "PATCH", "/api/mcp-servers/"+id, map[string]any{"workflowIds": []string{e.Greet.ID, e.Echo.ID}, "name": "renamed"})
	if s := mgObj(m, "server"); s["name"] != "renamed" || len(s["workflowIds"].([]any)) != 2 || s["description"] != "Greeting tools" {
		t.Fatalf("patch = %v", m)
	}
	admin.want(400, "", "PATCH", "/api/mcp-servers/"+id, map[string]any{"name": " "})
	// Workflows must exist in the same workspace.
	other := mgKey(t, e, e.OutsiderKey)
	m = other.want(201, "", "POST", "/api/v1/workflows/import?workspaceId="+e.OtherWS.ID, testenv.Workflow(t, "echo.json"))
	otherWf, _ := mgObj(m, "data")["id"].(string)
	if code, _ := admin.do("PATCH", "/api/mcp-servers/"+id, map[string]any{"workflowIds": []string{otherWf}}); code != 400 && code != 404 {
		t.Fatalf("patch with another workspace's workflow: %d", code)
	}
	if code, _ := admin.do("POST", base, map[string]any{"name": "bad", "workflowIds": []string{"nope"}}); code != 400 && code != 404 {
		t.Fatalf("create with unknown workflow: %d", code)
	}

	// Delete.
	mgKey(t, e, e.WSKey).want(403, "", "DELETE", "/api/mcp-servers/"+id, nil)
	admin.want(200, "", "DELETE", "/api/mcp-servers/"+id, nil)
	admin.want(404, "", "GET", "/api/mcp-servers/"+id, nil)
	admin.want(404, "", "DELETE", "/api/mcp-servers/"+id, nil)
}

// A server object shows a caller only the workflows it may read: a key narrowed to Echo
// or granted Echo alone never learns Greet's id from it.
func TestMCPServerObjectHidesWorkflowsOutsideGrants(t *testing.T) {
	e := testenv.New(t)
	base := "/api/workspaces/" + e.WS.ID + "/mcp-servers"
	admin := mgKey(t, e, e.AdminKey)
	srv := mgObj(admin.want(201, "", "POST", base, map[string]any{"name": "both", "workflowIds": []string{e.Greet.ID, e.Echo.ID}}), "server")
	id, _ := srv["id"].(string)
	ids := func(m map[string]any) []string {
		var out []string
		for _, v := range m["workflowIds"].([]any) {
			out = append(out, v.(string))
		}
		slices.Sort(out)
		return out
	}
	both := []string{e.Greet.ID, e.Echo.ID}
	slices.Sort(both)
	for name, tc := range map[string]struct {
		key  string
		want []string
	}{
		"admin":              {e.AdminKey, both},
		"workspace read key": {e.WSReadKey, both},
		"narrowed key":       {e.WSNarrowKey, []string{e.Echo.ID}},
		"workflow grant key": {e.OrgWorkflowKey, []string{e.Echo.ID}},
	} {
		got := ids(mgObj(mgKey(t, e, tc.key).want(200, "", "GET", "/api/mcp-servers/"+id, nil), "server"))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: GET workflowIds = %v, want %v", name, got, tc.want)
		}
		if code, body := mgKey(t, e, tc.key).do("GET", base, nil); code == 200 {
			for _, s := range mgList(body, "servers") {
				if got := ids(s); !slices.Equal(got, tc.want) {
					t.Errorf("%s: list workflowIds = %v, want %v", name, got, tc.want)
				}
			}
		}
	}
	mgKey(t, e, e.OutsiderKey).want(403, "", "GET", "/api/mcp-servers/"+id, nil)
}
