package httpapi_test

import (
	"encoding/json"
	"io"
	"slices"
	"sort"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestListWorkflowsOnlyReadable(t *testing.T) {
	e := testenv.New(t)
	all := []string{e.Greet.ID, e.Echo.ID, e.Undeployed.ID}
	sort.Strings(all)
	cases := []struct {
		name, key string
		want      []string
	}{
		{"member", e.MemberKey, all},
		{"workspace key", e.WSKey, all},
		{"workspace read key", e.WSReadKey, all},
		{"narrowed key", e.WSNarrowKey, []string{e.Echo.ID}},
		{"org key", e.OrgKey, all},
		{"org workflow key", e.OrgWorkflowKey, []string{e.Echo.ID}},
		{"outsider", e.OutsiderKey, nil},
	}
	for _, c := range cases {
		for _, q := range []string{"", "?workspaceId=" + e.WS.ID} {
			got := mgIDs(mgList(mgKey(t, e, c.key).want(200, "", "GET", "/api/v1/workflows"+q, nil), "data"))
			sort.Strings(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("%s%s: %v, want %v", c.name, q, got, c.want)
			}
		}
	}
	mgKey(t, e, e.MemberKey).want(404, "", "GET", "/api/v1/workflows?workspaceId=nope", nil)
	(&mgClient{t: t, e: e}).want(401, "", "GET", "/api/v1/workflows", nil)
}

func TestGetAndExportWorkflowNeedRead(t *testing.T) {
	e := testenv.New(t)
	for _, k := range []string{e.MemberKey, e.WSReadKey, e.OrgKey} {
		m := mgKey(t, e, k).want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
		if d := mgObj(m, "data"); d["id"] != e.Greet.ID || d["isDeployed"] != true || d["needsRedeployment"] != false {
			t.Fatalf("get = %v", m)
		}
		resp := mgKey(t, e, k).raw("GET", "/api/v1/workflows/"+e.Greet.ID+"/export", nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var doc map[string]any
		if resp.StatusCode != 200 || json.Unmarshal(body, &doc) != nil || doc["state"] == nil {
			t.Fatalf("export: %d %s", resp.StatusCode, body)
		}
	}
	for _, k := range []string{e.WSNarrowKey, e.OrgWorkflowKey, e.OutsiderKey} {
		mgKey(t, e, k).want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
		mgKey(t, e, k).want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID+"/export", nil)
	}
	mgKey(t, e, e.MemberKey).want(404, "not_found", "GET", "/api/v1/workflows/nope", nil)
	mgKey(t, e, e.MemberKey).want(404, "not_found", "GET", "/api/v1/workflows/nope/export", nil)
	(&mgClient{t: t, e: e}).want(401, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	// Sessions work too.
	mgLogin(t, e, e.Member.Email, e.AdminPassword).want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
}

func TestImportDeployDeleteNeedAdmin(t *testing.T) {
	e := testenv.New(t)
	sim := testenv.Workflow(t, "greet.json")
	var simObj any
	json.Unmarshal(sim, &simObj)

	for _, k := range []string{e.MemberKey, e.WSKey, e.WSReadKey, e.OrgWorkflowKey, e.OutsiderKey} {
		mgKey(t, e, k).want(403, "", "POST", "/api/v1/workflows/import?workspaceId="+e.WS.ID, sim)
	}
	admin := mgKey(t, e, e.AdminKey)
	m := admin.want(201, "", "POST", "/api/v1/workflows/import?workspaceId="+e.WS.ID, sim)
	raw, _ := mgObj(m, "data")["id"].(string)
	m = admin.want(201, "", "POST", "/api/v1/workflows/import", map[string]any{"workspaceId": e.WS.ID, "workflow": simObj})
	wrapped, _ := mgObj(m, "data")["id"].(string)
	m = mgKey(t, e, e.OrgKey).want(201, "", "POST", "/api/v1/workflows/import", map[string]any{"workspaceId": e.WS.ID, "workflow": string(sim)})
	if raw == "" || wrapped == "" || mgObj(m, "data")["isDeployed"] != false {
		t.Fatalf("import = %v", m)
	}
	admin.want(400, "invalid_request", "POST", "/api/v1/workflows/import", sim)
	admin.want(404, "", "POST", "/api/v1/workflows/import?workspaceId=nope", sim)
	bad := admin.want(400, "invalid_workflow", "POST", "/api/v1/workflows/import?workspaceId="+e.WS.ID, map[string]any{"state": map[string]any{"blocks": map[string]any{}}})
	if bad["details"] == nil {
		t.Fatalf("invalid workflow without details: %v", bad)
	}
	admin.want(400, "", "POST", "/api/v1/workflows/import?workspaceId="+e.WS.ID, []byte("not json"))

	// Deploy / undeploy.
	for _, k := range []string{e.MemberKey, e.WSKey, e.WSReadKey, e.OutsiderKey} {
		mgKey(t, e, k).want(403, "", "POST", "/api/v1/workflows/"+raw+"/deploy", nil)
	}
	mgKey(t, e, e.OrgWorkflowKey).want(403, "", "POST", "/api/v1/workflows/"+e.Echo.ID+"/deploy", nil)
	m = admin.want(200, "", "POST", "/api/v1/workflows/"+raw+"/deploy", nil)
	if d := mgObj(m, "data"); d["isDeployed"] != true || d["version"] != float64(1) {
		t.Fatalf("deploy = %v", m)
	}
	mgKey(t, e, e.OrgKey).want(200, "", "POST", "/api/v1/workflows/"+wrapped+"/deploy", nil)
	mgKey(t, e, e.MemberKey).want(403, "", "DELETE", "/api/v1/workflows/"+raw+"/deploy", nil)
	m = admin.want(200, "", "DELETE", "/api/v1/workflows/"+raw+"/deploy", nil)
	if mgObj(m, "data")["isDeployed"] != false {
		t.Fatalf("undeploy = %v", m)
	}
	admin.want(404, "", "POST", "/api/v1/workflows/nope/deploy", nil)

	// Delete.
	mgKey(t, e, e.WSKey).want(403, "", "DELETE", "/api/v1/workflows/"+raw, nil)
	admin.want(200, "", "DELETE", "/api/v1/workflows/"+raw, nil)
	admin.want(404, "", "GET", "/api/v1/workflows/"+raw, nil)
	admin.want(404, "", "DELETE", "/api/v1/workflows/"+raw, nil)

	// Session with CSRF.
	s := mgLogin(t, e, e.Admin.Email, e.AdminPassword)
	s.want(200, "", "POST", "/api/v1/workflows/"+wrapped+"/deploy", nil)
	s.noCSRF = true
	s.want(403, "csrf_failed", "DELETE", "/api/v1/workflows/"+wrapped, nil)
}
