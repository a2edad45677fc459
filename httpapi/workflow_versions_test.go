package httpapi_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// simDoc is a Sim export: a start block with a message field, then one function block.
func simDoc(name, code string) map[string]any {
	sub := func(id, v any) map[string]any { return map[string]any{"id": id, "type": "short-input", "value": v} }
	return map[string]any{"version": "1.0", "exportedAt": "2026-01-01T00:00:00Z", "state": map[string]any{
		"blocks": map[string]any{
			"start": map[string]any{"id": "start", "type": "start_trigger", "name": "Start", "position": map[string]any{"x": 0, "y": 0},
				"enabled": true, "subBlocks": map[string]any{"inputFormat": sub("inputFormat", []any{
					map[string]any{"id": "f0", "name": "message", "type": "string", "value": ""}})}, "outputs": map[string]any{}},
			"fn": map[string]any{"id": "fn", "type": "function", "name": "Fn", "position": map[string]any{"x": 1, "y": 0},
				"enabled": true, "subBlocks": map[string]any{"code": sub("code", code), "language": sub("language", "javascript")}, "outputs": map[string]any{}},
		},
		"edges": []any{map[string]any{"id": "e1", "source": "start", "target": "fn", "sourceHandle": "source", "targetHandle": "target"}},
		"loops": map[string]any{}, "parallels": map[string]any{}, "variables": map[string]any{},
		"metadata": map[string]any{"name": name, "description": "versions test"},
	}}
}

// Updating a workflow in place keeps its id, so a key narrowed to it, an organization
// grant on it and an MCP server object listing it all still work; each deploy is a
// numbered version, a rollback re-activates one, and logs name the version that ran.
func TestUpdateInPlaceDeployVersionsAndRollBack(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	w := e.Echo.ID
	mcpObj := &store.MCPServer{WorkspaceID: e.WS.ID, Name: "tools", WorkflowIDs: []string{w}}
	if err := e.App.Service.CreateMCPServer(ctx, auth.Operator(), mcpObj); err != nil {
		t.Fatal(err)
	}
	run := func(key string) map[string]any {
		t.Helper()
		m := xwant(t, e, 200, "", "POST", "/api/workflows/"+w+"/execute", key, map[string]any{"message": "hi"}, nil)
		return xobj(t, xobj(t, m, "output"), "result")
	}
	if out := run(e.WSNarrowKey); out["message"] != "hi" || out["v"] != nil {
		t.Fatalf("v1 output = %v", out)
	}

	// Update over HTTP (admin), deploy with a note: version 2.
	admin := mgKey(t, e, e.AdminKey)
	up := admin.want(200, "", "PUT", "/api/v1/workflows/"+w, simDoc("Echo v2", "return {v: 2, message: <start.message>}"))
	if d := mgObj(up, "data"); d["id"] != w || d["name"] != "Echo v2" || d["activeVersion"] != float64(1) {
		t.Fatalf("update = %v", up)
	}
	mgKey(t, e, e.WSKey).want(403, "forbidden", "PUT", "/api/v1/workflows/"+w, simDoc("x", "return 1")) // write is not admin
	if out := run(e.WSNarrowKey); out["v"] != nil {
		t.Fatalf("the draft ran before deploy: %v", out)
	}
	dep := mgObj(admin.want(200, "", "POST", "/api/v1/workflows/"+w+"/deploy", map[string]any{"note": "adds v"}), "data")
	if dep["version"] != float64(2) || dep["note"] != "adds v" || dep["rollback"] != false {
		t.Fatalf("deploy = %v", dep)
	}
	for name, key := range map[string]string{"narrowed workspace key": e.WSNarrowKey, "org workflow grant": e.OrgWorkflowKey} {
		if out := run(key); out["v"] != float64(2) || out["message"] != "hi" {
			t.Fatalf("%s after update: output %v", name, out)
		}
	}
	got, err := e.App.Store.GetMCPServer(ctx, mcpObj.ID)
	if err != nil || !slices.Contains(got.WorkflowIDs, w) {
		t.Fatalf("MCP server object after update = %+v, %v", got, err)
	}

	// Versions list who/when/note; roll back to 1 and the next run is v1's.
	vl := admin.want(200, "", "GET", "/api/v1/workflows/"+w+"/versions", nil)
	vs := mgList(vl, "data")
	if len(vs) != 2 || vs[1]["note"] != "adds v" || vs[1]["active"] != true || vs[0]["active"] != false || vs[1]["createdBy"] != e.Admin.ID {
		t.Fatalf("versions = %v", vl)
	}
	mgKey(t, e, e.WSReadKey).want(200, "", "GET", "/api/v1/workflows/"+w+"/versions", nil)
	mgKey(t, e, e.OrgWorkflowKey).want(403, "forbidden", "POST", "/api/v1/workflows/"+w+"/deploy", map[string]any{"version": 1})
	rb := mgObj(admin.want(200, "", "POST", "/api/v1/workflows/"+w+"/deploy", map[string]any{"version": 1}), "data")
	if rb["version"] != float64(1) || rb["rollback"] != true {
		t.Fatalf("rollback = %v", rb)
	}
	if out := run(e.WSNarrowKey); out["v"] != nil || out["message"] != "hi" {
		t.Fatalf("after rollback to 1: output %v", out)
	}
	admin.want(404, "not_found", "POST", "/api/v1/workflows/"+w+"/deploy", map[string]any{"version": 7})

	// Export any version: 2 has the new code, 1 the old, the draft is 2's.
	for v, want := range map[string]string{"?version=2": "v: 2", "?version=1": "count", "": "v: 2"} {
		resp, body := xraw(t, e, "GET", "/api/v1/workflows/"+w+"/export"+v, e.AdminKey, nil, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("export%s: %d, want it to contain %q: %s", v, resp.StatusCode, want, body)
		}
	}

	// Logs record the version each run ran: 1, 2, 2, 1 (oldest first).
	logs := mgList(admin.want(200, "", "GET", fmt.Sprintf("/api/v1/logs?workspaceId=%s&workflowIds=%s&order=asc", e.WS.ID, w), nil), "data")
	var versions []any
	for _, l := range logs {
		versions = append(versions, l["workflowVersion"])
	}
	if want := []any{float64(1), float64(1), float64(2), float64(2), float64(1)}; !slices.Equal(versions, want) {
		t.Fatalf("log versions = %v, want %v", versions, want)
	}
	last := logs[len(logs)-1]
	run2 := xwant(t, e, 200, "", "GET", "/api/v2/workflows/"+w+"/runs/"+last["executionId"].(string), e.AdminKey, nil, nil)
	if d := xobj(t, run2, "data"); d["workflowVersion"] != float64(1) {
		t.Fatalf("v2 run = %v", run2)
	}
	st := xwant(t, e, 200, "", "GET", "/api/workflows/"+w+"/executions/"+last["executionId"].(string), e.AdminKey, nil, nil)
	if st["workflowVersion"] != float64(1) {
		t.Fatalf("execution status = %v", st)
	}
	job := xwant(t, e, 200, "", "GET", "/api/jobs/"+last["executionId"].(string), e.AdminKey, nil, nil)
	if xobj(t, job, "metadata")["workflowVersion"] != float64(1) {
		t.Fatalf("job = %v", job)
	}
}
