package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// A workflow that uses {{API_TOKEN}} warns at deploy while it is unset and fails naming
// it at run; once set over the API the run uses it, a user's personal value overrides
// the workspace's for runs that user starts, and the value appears in no API response,
// in neither data file, and in no export.
func TestEnvironmentVariablesUsedNeverShown(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	const wsSecret, mySecret = "ws-secret-7f3a9c1e5b2d-ABC", "my-secret-0d4e8b6a2c9f-XYZ"
	var seen bytes.Buffer // every API response body
	call := func(status int, method, path, key string, body any) map[string]any {
		t.Helper()
		resp, raw := xraw(t, e, method, path, key, body, nil)
		seen.Write(raw)
		if resp.StatusCode != status {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, status, raw)
		}
		m := map[string]any{}
		_ = json.Unmarshal(raw, &m)
		return m
	}

	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, mustMarshal(t,
		simDoc("Uses token", "return {len: '{{API_TOKEN}}'.length, tail: '{{API_TOKEN}}'.slice(-3)}")))
	if err != nil {
		t.Fatal(err)
	}
	wfp := "/api/v1/workflows/" + wf.ID
	dep := xobj(t, call(200, "POST", wfp+"/deploy", e.AdminKey, nil), "data")
	if w, _ := dep["warnings"].([]any); len(w) != 1 || !strings.Contains(w[0].(string), `"API_TOKEN"`) {
		t.Fatalf("deploy warnings = %v", dep["warnings"])
	}
	exec := "/api/workflows/" + wf.ID + "/execute"
	failed := call(500, "POST", exec, e.WSKey, map[string]any{}) // a failed run answers 500, as Sim
	if failed["success"] != false || !strings.Contains(failed["error"].(string), `environment variable "API_TOKEN" is not set`) {
		t.Fatalf("run with the variable unset = %v", failed)
	}

	envp := "/api/workspaces/" + e.WS.ID + "/environment"
	set := xobj(t, call(200, "PUT", envp+"/API_TOKEN", e.AdminKey, map[string]any{"value": wsSecret}), "data")
	if set["name"] != "API_TOKEN" || set["updatedBy"] != e.Admin.ID || set["value"] != nil {
		t.Fatalf("set = %v", set)
	}
	call(403, "PUT", envp+"/API_TOKEN", e.WSKey, map[string]any{"value": "x"}) // write key: not admin
	list := call(200, "GET", envp, e.WSReadKey, nil)
	if items := mgList(list, "data"); len(items) != 1 || items[0]["name"] != "API_TOKEN" || len(items[0]) != 3 {
		t.Fatalf("list = %v", list)
	}
	if d := xobj(t, call(200, "POST", wfp+"/deploy", e.AdminKey, nil), "data"); len(d["warnings"].([]any)) != 0 {
		t.Fatalf("deploy still warns with the variable set: %v", d)
	}

	result := func(key string) map[string]any {
		t.Helper()
		m := call(200, "POST", exec, key, map[string]any{})
		return xobj(t, xobj(t, m, "output"), "result")
	}
	if out := result(e.WSKey); out["len"] != float64(len(wsSecret)) || out["tail"] != "ABC" {
		t.Fatalf("workspace value not used: %v", out)
	}
	call(200, "PUT", "/api/users/me/environment/API_TOKEN", e.MemberKey, map[string]any{"value": mySecret})
	if out := result(e.MemberKey); out["tail"] != "XYZ" {
		t.Fatalf("member's personal value does not override: %v", out)
	}
	if out := result(e.OrgKey); out["tail"] != "ABC" {
		t.Fatalf("an org key acts for no user, yet saw a personal value: %v", out)
	}
	if items := mgList(call(200, "GET", "/api/users/me/environment", e.MemberKey, nil), "data"); len(items) != 1 {
		t.Fatalf("personal list = %v", items)
	}

	// Read back everything a client can: logs in full, the run views, the export.
	call(200, "GET", "/api/v1/logs?details=full&includeTraceSpans=true&includeFinalOutput=true&workspaceId="+e.WS.ID, e.AdminKey, nil)
	logs := mgList(call(200, "GET", "/api/v1/logs?workspaceId="+e.WS.ID+"&workflowIds="+wf.ID, e.AdminKey, nil), "data")
	for _, l := range logs {
		id := l["executionId"].(string)
		call(200, "GET", "/api/v1/logs/"+id, e.AdminKey, nil)
		call(200, "GET", "/api/v2/workflows/"+wf.ID+"/runs/"+id, e.AdminKey, nil)
		call(200, "GET", "/api/v2/logs/"+id, e.AdminKey, nil)
	}
	call(200, "GET", wfp+"/export", e.AdminKey, nil)
	call(200, "GET", wfp+"/export?version=2", e.AdminKey, nil)
	ex, err := e.App.Service.ExportWorkflow(ctx, auth.Operator(), wf.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen.Write(ex)
	// Put returned after its commit, so the files hold every record already.
	for _, f := range []string{"logs.db", "core.db"} {
		b, err := os.ReadFile(filepath.Join(e.App.DataDir(), f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "logs.db" && !bytes.Contains(b, []byte(`"tail":"XYZ"`)) {
			t.Fatal("logs.db does not hold the runs' outputs in plain bytes; this scan would prove nothing")
		}
		seen.Write(b)
	}
	for _, v := range []string{wsSecret, mySecret} {
		if bytes.Contains(seen.Bytes(), []byte(v)) {
			t.Errorf("an environment value appears in an API response, a data file or an export")
		}
	}
	if !bytes.Contains(seen.Bytes(), []byte("{{API_TOKEN}}")) {
		t.Errorf("the export should keep the {{API_TOKEN}} reference")
	}

	call(200, "DELETE", envp+"/API_TOKEN", e.AdminKey, nil)
	call(404, "DELETE", envp+"/API_TOKEN", e.AdminKey, nil)
	if _, err := e.App.Service.SetEnv(ctx, auth.Operator(), core.EnvScope{WorkspaceID: e.WS.ID}, "1BAD", "x"); err == nil {
		t.Error("an invalid name was accepted")
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
