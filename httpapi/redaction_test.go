package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// The secrets a workflow can hold, each in its own place.
var planted = map[string]string{
	"url userinfo":         "userinfo-S3CRET-01",
	"url query":            "query-S3CRET-02",
	"authorization header": "bearer-S3CRET-03",
	"x-api-key header":     "apikey-S3CRET-04",
	"cookie header":        "cookie-S3CRET-05",
	"param table":          "param-S3CRET-06",
	"body password field":  "body-S3CRET-07",
	"function code":        "code-S3CRET-08",
	"failing url query":    "failing-S3CRET-09",
	"workflow variable":    "variable-S3CRET-10",
	"environment variable": "env-S3CRET-11",
	"upstream set-cookie":  "setcookie-S3CRET-12",
	"upstream token":       "upstream-S3CRET-13",
	"caller input":         "input-S3CRET-14",
}

// redactionWorkflow is start → api (every kind of credential) → function (a secret
// literal in its code) → api to a closed port (fails; its URL carries a secret).
func redactionWorkflow(upstream string) []byte {
	row := func(id, k, v string) map[string]any {
		return map[string]any{"id": id, "cells": map[string]any{"Key": k, "Value": v}}
	}
	sb := func(id string, v any) map[string]any {
		return map[string]any{"id": id, "type": "short-input", "value": v}
	}
	block := func(id, typ, name string, subs ...map[string]any) map[string]any {
		m := map[string]any{}
		for _, s := range subs {
			m[s["id"].(string)] = s
		}
		return map[string]any{"id": id, "type": typ, "name": name, "position": map[string]any{"x": 0, "y": 0},
			"enabled": true, "subBlocks": m, "outputs": map[string]any{}, "data": map[string]any{}}
	}
	u := strings.Replace(upstream, "http://", "http://svc:"+planted["url userinfo"]+"@", 1)
	wf := map[string]any{
		"version": "1.0",
		"state": map[string]any{
			"blocks": map[string]any{
				"start": block("start", "start_trigger", "Start", sb("inputFormat", []any{
					map[string]any{"id": "f0", "name": "password", "type": "string", "value": ""}})),
				"call": block("call", "api", "Call",
					sb("url", u+"/ok?token="+planted["url query"]+"&page=2"),
					sb("method", "POST"),
					sb("headers", []any{
						row("h1", "Authorization", "Bearer "+planted["authorization header"]),
						row("h2", "X-API-Key", planted["x-api-key header"]),
						row("h3", "Cookie", "sid="+planted["cookie header"]),
						row("h4", "X-Env", "{{API_TOKEN}}"),
						row("h5", "X-Plain", "hello"),
					}),
					sb("params", []any{row("p1", "api_key", planted["param table"])}),
					sb("body", `{"user":"ann","password":"`+planted["body password field"]+`","echo":"<start.password>"}`)),
				"fn": block("fn", "function", "Fn",
					map[string]any{"id": "code", "type": "code", "value": `const apiKey = "` + planted["function code"] + `"; return {ok: <call.status>, v: <variable.webhookSecret>}`},
					sb("language", "javascript")),
				"bad": block("bad", "api", "Bad",
					sb("url", "http://127.0.0.1:1/x?access_token="+planted["failing url query"]), sb("method", "GET")),
			},
			"edges": []any{
				map[string]any{"id": "e1", "source": "start", "target": "call", "sourceHandle": "source", "targetHandle": "target"},
				map[string]any{"id": "e2", "source": "call", "target": "fn", "sourceHandle": "source", "targetHandle": "target"},
				map[string]any{"id": "e3", "source": "fn", "target": "bad", "sourceHandle": "source", "targetHandle": "target"},
			},
			"loops": map[string]any{}, "parallels": map[string]any{},
			"variables": map[string]any{"v1": map[string]any{"id": "v1", "name": "webhookSecret", "type": "plain", "value": planted["workflow variable"]}},
			"metadata":  map[string]any{"name": "secrets everywhere"},
		},
	}
	b, _ := json.Marshal(wf)
	return b
}

// A workflow full of credentials runs against a real server; none of them appears in
// logs.db, in any logs API view (v1/v2, basic/full), in the sync execute response, in
// its error, in the job status or in an export — for read keys and admins alike.
func TestCredentialsNeverLeaveTheEngine(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("X-API-Key"),
			r.Header.Get("Cookie"), r.Header.Get("X-Env"), string(body))
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "session", Value: planted["upstream set-cookie"]})
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"access_token":"`+planted["upstream token"]+`"}`)
	}))
	defer upstream.Close()
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.AllowLoopback = true }})
	ctx := context.Background()
	env, err := e.App.Secrets.SealEnv(e.WS.ID, "API_TOKEN", planted["environment variable"])
	if err != nil {
		t.Fatal(err)
	}
	if err := e.App.Store.SetEnvVar(ctx, env); err != nil {
		t.Fatal(err)
	}
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, redactionWorkflow(upstream.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}

	assertClean := func(where string, b []byte) {
		t.Helper()
		for place, s := range planted {
			if strings.Contains(string(b), s) {
				t.Errorf("%s leaks the secret planted in the %s", where, place)
			}
		}
	}
	get := func(path, key string) []byte {
		t.Helper()
		resp, raw := xraw(t, e, "GET", path, key, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
		}
		return raw
	}

	// Sync run: it fails at the last block, so the response carries logs, spans and an error.
	resp, raw := xraw(t, e, "POST", "/api/workflows/"+wf.ID+"/execute", e.WSKey, map[string]any{"password": planted["caller input"]}, nil)
	var res struct {
		Success     bool
		Error       string
		ExecutionID string
		Logs        []map[string]any
	}
	// The run fails at its last block: 500, as Sim's execute route answers.
	if err := json.Unmarshal(raw, &res); err != nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("execute: %d %s", resp.StatusCode, raw)
	}
	if res.Success || !strings.Contains(res.Error, "127.0.0.1:1/x") || len(res.Logs) != 4 {
		t.Fatalf("run did not go as planned: success=%v error=%q logs=%d", res.Success, res.Error, len(res.Logs))
	}
	assertClean("sync execute response", raw)
	// The secrets did reach the upstream service: the workflow used them.
	mu.Lock()
	got := strings.Join(seen, "\n")
	mu.Unlock()
	for _, place := range []string{"url query", "authorization header", "x-api-key header", "cookie header", "param table", "body password field", "environment variable", "caller input"} {
		if !strings.Contains(got, planted[place]) {
			t.Errorf("the upstream never received the %s secret; the test proves nothing for it", place)
		}
	}
	if !strings.Contains(string(raw), "{{API_TOKEN}}") && !strings.Contains(string(raw), "[REDACTED]") {
		t.Error("no redaction marker in the logged inputs")
	}

	// Async run and its job status.
	_, araw := xraw(t, e, "POST", "/api/workflows/"+wf.ID+"/execute", e.WSKey, map[string]any{"password": planted["caller input"]},
		map[string]string{"X-Execution-Mode": "async"})
	var job struct{ JobID string }
	json.Unmarshal(araw, &job)
	if job.JobID == "" {
		t.Fatalf("async execute: %s", araw)
	}
	if err := e.App.Service.Close(ctx); err != nil { // waits for the async run
		t.Fatal(err)
	}
	assertClean("job status", get("/api/jobs/"+job.JobID, e.WSReadKey))

	// Every logs view, for a read-only key.
	ws := "?workspaceId=" + e.WS.ID
	for _, path := range []string{
		"/api/v1/logs" + ws, "/api/v1/logs" + ws + "&details=full", "/api/v1/logs" + ws + "&details=basic",
		"/api/v1/logs/" + res.ExecutionID, "/api/v1/logs/executions/" + res.ExecutionID,
		"/api/v2/logs" + ws, "/api/v2/logs" + ws + "&details=full", "/api/v2/logs/" + res.ExecutionID,
		"/api/v2/workflows/" + wf.ID + "/runs/" + res.ExecutionID,
		"/api/workflows/" + wf.ID + "/executions/" + res.ExecutionID,
	} {
		assertClean("GET "+path, get(path, e.WSReadKey))
	}
	one := get("/api/v1/logs/"+res.ExecutionID, e.WSReadKey)
	if !strings.Contains(string(one), "[REDACTED]") || !strings.Contains(string(one), "X-Plain") || !strings.Contains(string(one), "page=") {
		t.Errorf("the log entry lost its shape: %s", one)
	}

	// Exports: read key and admin alike; the env reference survives and re-imports.
	for _, key := range []string{e.WSReadKey, e.AdminKey} {
		exp := get("/api/v1/workflows/"+wf.ID+"/export", key)
		assertClean("export", exp)
		if !strings.Contains(string(exp), "{{API_TOKEN}}") || !strings.Contains(string(exp), "page=2") {
			t.Errorf("export lost what is not secret: %.600s", exp)
		}
		if _, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, exp); err != nil {
			t.Errorf("export does not re-import: %v", err)
		}
	}
	cli, err := e.App.Service.ExportWorkflow(ctx, auth.Operator(), wf.ID, 0) // `steelengine workflows export`
	if err != nil {
		t.Fatal(err)
	}
	assertClean("operator export", cli)

	// What the log file itself holds (log writes are committed before a run returns).
	logsDB, err := os.ReadFile(filepath.Join(e.App.DataDir(), "logs.db"))
	if err != nil {
		t.Fatal(err)
	}
	assertClean("logs.db", logsDB)
	coreDB, err := os.ReadFile(filepath.Join(e.App.DataDir(), "core.db"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(coreDB), planted["environment variable"]) {
		t.Error("core.db holds the environment variable in plaintext")
	}
}

// Redaction is for what leaves the engine, not for what it stores: a workflow replaced
// through PUT keeps its credentials and still sends them.
func TestUpdatedWorkflowKeepsItsCredentials(t *testing.T) {
	got := make(chan string, 4)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization") + " " + r.URL.Query().Get("token")
		io.WriteString(w, `{}`)
	}))
	defer upstream.Close()
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.AllowLoopback = true }})
	env, err := e.App.Secrets.SealEnv(e.WS.ID, "API_TOKEN", planted["environment variable"])
	if err != nil {
		t.Fatal(err)
	}
	if err := e.App.Store.SetEnvVar(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	id := e.Echo.ID
	xwant(t, e, 200, "", "PUT", "/api/v1/workflows/"+id, e.AdminKey, redactionWorkflow(upstream.URL), nil)
	xwant(t, e, 200, "", "POST", "/api/v1/workflows/"+id+"/deploy", e.AdminKey, nil, nil)
	res := xwant(t, e, 500, "", "POST", "/api/workflows/"+id+"/execute", e.WSKey, map[string]any{}, nil) // fails at its last block
	want := "Bearer " + planted["authorization header"] + " " + planted["url query"]
	select {
	case h := <-got:
		if h != want {
			t.Fatalf("upstream received %q, want %q", h, want)
		}
	default:
		t.Fatalf("the updated workflow never called the upstream: %v", res["error"])
	}
}
