package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// The run limits hold for MCP too: a too-deep input and a workspace at its cap of runs
// in flight are tool errors that say why, and nothing runs.
func TestToolCallLimits(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.Core.MaxRunsPerWorkspace = 1 }})
	c := connect(t, e.URL+"/mcp", e.WSKey)

	var deep any = 1.0
	for range 100 {
		deep = map[string]any{"a": deep}
	}
	res, err := call(t, c, "echo", map[string]any{"message": "hi", "extra": deep})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(text(res), "levels deep") {
		t.Fatalf("deep input: isError=%v %q", res.IsError, text(res))
	}

	// Hold the workspace's only run slot with a waiting async run over HTTP.
	ctx := context.Background()
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, testenv.Workflow(t, "wait.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	post := func(path string) map[string]any {
		req, _ := http.NewRequest("POST", e.URL+path, bytes.NewReader([]byte(`{}`)))
		req.Header.Set("X-API-Key", e.WSKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Execution-Mode", "async")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	m := post("/api/workflows/" + wf.ID + "/execute")
	id, _ := m["executionId"].(string)
	if id == "" {
		t.Fatalf("async run not accepted: %v", m)
	}
	defer post("/api/workflows/" + wf.ID + "/executions/" + id + "/cancel")

	res, err = call(t, c, "echo", map[string]any{"message": "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(text(res), "runs in flight") {
		t.Fatalf("workspace at its cap: isError=%v %q", res.IsError, text(res))
	}
}
