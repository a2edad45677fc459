package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/engine/sandbox"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// The test binary doubles as the sandbox worker for tests that use the real pool; pgtest
// stops the PostgreSQL cluster the PostgreSQL benchmarks may have started.
func TestMain(m *testing.M) {
	if os.Getenv("STEELENGINE_SANDBOX_WORKER") == "1" {
		os.Exit(sandbox.WorkerMain())
	}
	pgtest.Template(postgres.Migrate)
	os.Exit(pgtest.Main(m))
}

// withPool makes the environment run JavaScript in worker processes (this test binary).
func withPool(workers, queue int) func(c *app.Config) {
	return func(c *app.Config) {
		exe, _ := os.Executable()
		c.InProcessSandbox = false
		c.SandboxPath, c.SandboxArgs = exe, []string{}
		c.SandboxEnv = []string{"STEELENGINE_SANDBOX_WORKER=1"}
		c.SandboxMemory = 128 << 20
		c.SandboxWorkers, c.SandboxQueue = workers, queue
	}
}

// simBlock is one block of a Sim export built in a test.
type simBlock struct {
	id, typ, parent string
	params          map[string]any
	data            map[string]any
}

// simWorkflow builds a Sim export; edges are {source, target, sourceHandle}.
func simWorkflow(blocks []simBlock, edges [][3]string) []byte {
	bm := map[string]any{}
	for _, b := range blocks {
		subs := map[string]any{}
		for k, v := range b.params {
			subs[k] = map[string]any{"id": k, "type": "short-input", "value": v}
		}
		data := map[string]any{}
		for k, v := range b.data {
			data[k] = v
		}
		if b.parent != "" {
			data["parentId"], data["extent"] = b.parent, "parent"
		}
		bm[b.id] = map[string]any{"id": b.id, "type": b.typ, "name": b.id, "position": map[string]any{"x": 0, "y": 0},
			"enabled": true, "subBlocks": subs, "outputs": map[string]any{}, "data": data}
	}
	var es []any
	for i, e := range edges {
		m := map[string]any{"id": fmt.Sprintf("e%d", i), "source": e[0], "target": e[1], "targetHandle": "target", "type": "default"}
		if e[2] != "" {
			m["sourceHandle"] = e[2]
		}
		es = append(es, m)
	}
	doc, _ := json.Marshal(map[string]any{"version": "1.0", "exportedAt": "2026-01-01T00:00:00Z", "state": map[string]any{
		"blocks": bm, "edges": es, "loops": map[string]any{}, "parallels": map[string]any{}, "variables": map[string]any{},
		"metadata": map[string]any{"name": "limits", "description": "limits test"}}})
	return doc
}

var startSim = simBlock{id: "start", typ: "start_trigger", params: map[string]any{"inputFormat": []any{}}}

// deployDoc imports a document into a workspace and deploys it.
func deployDoc(t *testing.T, e *testenv.Env, wsID string, doc []byte) *store.Workflow {
	t.Helper()
	ctx := context.Background()
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), wsID, doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	return wf
}

// nestedLoops is loop outer × loop inner around a block that needs no sandbox.
func nestedLoops(outer, inner int) []byte {
	return simWorkflow([]simBlock{startSim,
		{id: "outer", typ: "loop", data: map[string]any{"loopType": "for", "count": outer}},
		{id: "inner", typ: "loop", parent: "outer", data: map[string]any{"loopType": "for", "count": inner}},
		{id: "cell", typ: "variables", parent: "inner", params: map[string]any{"variables": []any{}}},
	}, [][3]string{{"start", "outer", ""}, {"outer", "inner", "loop-start-source"}, {"inner", "cell", "loop-start-source"}})
}

// A loop of 1000 inside a loop of 1000 is a million block executions: the run stops
// at the per-run cap with a clear error, and the sync response and the record stay
// within the retained-bytes caps (logs truncated with a marker).
func TestExecuteNestedLoopsHitBlockBudget(t *testing.T) {
	e := testenv.New(t)
	wf := deployDoc(t, e, e.WS.ID, nestedLoops(1000, 1000))
	resp, raw := xraw(t, e, "POST", execPath(wf.ID), e.WSKey, `{}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %.300s", resp.StatusCode, raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["success"] != false || m["code"] != engine.CodeBudgetExceeded || !strings.Contains(fmt.Sprint(m["error"]), "100000 block executions") {
		t.Fatalf("want a budget failure naming the limit, got success=%v code=%v error=%v", m["success"], m["code"], m["error"])
	}
	// Logs and spans are capped at 8 MiB together; output is tiny.
	if len(raw) > 10<<20 {
		t.Fatalf("response is %d bytes, more than the caps allow", len(raw))
	}
	logs, _ := m["logs"].([]any)
	last, _ := logs[len(logs)-1].(map[string]any)
	if last["blockType"] != "truncated" || !strings.Contains(fmt.Sprint(last["output"]), "left out") {
		t.Fatalf("last log entry is not the truncation marker: %v", last)
	}
	// The record is bounded the same way.
	exec, err := e.App.Store.Logs().Get(context.Background(), fmt.Sprint(m["executionId"]))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(exec.BlockLogs) + len(exec.TraceSpans) + len(exec.Output); n > 10<<20 {
		t.Fatalf("record holds %d bytes", n)
	}
	if exec.ErrorCode != engine.CodeBudgetExceeded {
		t.Fatalf("record error code %q", exec.ErrorCode)
	}
}

// Outputs a run keeps count against --max-run-bytes: with a 1 MiB budget, a loop
// returning 400 KiB per iteration fails on the third with an error naming the limit;
// big values are kept out of the logs (marker) instead of being copied into every
// entry and span.
func TestExecuteRetainedOutputBudget(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.Core.Limits.MaxRetainedBytes = 1 << 20 }})
	wf := deployDoc(t, e, e.WS.ID, simWorkflow([]simBlock{startSim,
		{id: "lp", typ: "loop", data: map[string]any{"loopType": "for", "count": 10}},
		{id: "big", typ: "function", parent: "lp", params: map[string]any{"code": "return 'x'.repeat(400 << 10)"}},
	}, [][3]string{{"start", "lp", ""}, {"lp", "big", "loop-start-source"}}))
	resp, raw := xraw(t, e, "POST", execPath(wf.ID), e.WSKey, `{}`, nil)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if resp.StatusCode != 200 || m["success"] != false || m["code"] != engine.CodeBudgetExceeded ||
		!strings.Contains(fmt.Sprint(m["error"]), "1 MiB of retained block outputs") {
		t.Fatalf("status %d code %v error %v", resp.StatusCode, m["code"], m["error"])
	}
	if len(raw) > 256<<10 {
		t.Fatalf("response is %d bytes; big outputs should be markers in logs and spans", len(raw))
	}
	if !strings.Contains(string(raw), "per-entry log cap") {
		t.Fatal("no per-entry truncation marker in the logs")
	}
}

// A 9 MiB input (under the 10 MiB body cap) echoed by a Response block: a clear budget
// error and a small response, not the input repeated in every log entry and span.
func TestExecuteLargeInputBounded(t *testing.T) {
	e := testenv.New(t)
	wf := deployDoc(t, e, e.WS.ID, simWorkflow([]simBlock{
		{id: "start", typ: "start_trigger", params: map[string]any{"inputFormat": []any{map[string]any{"id": "f0", "name": "message", "type": "string"}}}},
		{id: "resp", typ: "response", params: map[string]any{"dataMode": "structured",
			"builderData": []any{map[string]any{"id": "r1", "name": "echo", "type": "string", "value": "<start.message>"}}}},
	}, [][3]string{{"start", "resp", ""}}))
	big := strings.Repeat("a", 9<<20)
	body, _ := json.Marshal(map[string]any{"message": big})
	resp, raw := xraw(t, e, "POST", execPath(wf.ID), e.WSKey, body, nil)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if resp.StatusCode != 200 || m["code"] != engine.CodeBudgetExceeded {
		t.Fatalf("status %d code %v error %v", resp.StatusCode, m["code"], m["error"])
	}
	if len(raw) > 256<<10 {
		t.Fatalf("response is %d bytes for a 9 MiB input", len(raw))
	}
}

// Inputs the engine cannot hold are refused at the front door with 400 and a code,
// not run (and then lost) or answered with an empty 200.
func TestExecuteRefusesBadInputs(t *testing.T) {
	e := testenv.New(t)
	deep := strings.Repeat(`{"a":`, 9999) + "1" + strings.Repeat("}", 9999)
	ok65 := strings.Repeat(`{"a":`, 62) + "1" + strings.Repeat("}", 62)
	cases := []struct {
		name, path, body, code string
		status                 int
	}{
		{"legacy 1e400", execPath(e.Echo.ID), `{"count": 1e400}`, "invalid_number", 400},
		{"legacy -1e400 nested", execPath(e.Echo.ID), `{"input": {"x": [-1e400]}}`, "invalid_number", 400},
		{"legacy nested 9999", execPath(e.Echo.ID), `{"x": ` + deep + `}`, "input_too_deep", 400},
		{"v2 1e400", "/api/v2/workflows/" + e.Echo.ID + "/execute", `{"input": {"count": 1e400}}`, "invalid_request", 400},
		{"v2 nested 9999", "/api/v2/workflows/" + e.Echo.ID + "/execute", `{"input": {"x": ` + deep + `}}`, "invalid_request", 400},
		{"v2 nested 100", "/api/v2/workflows/" + e.Echo.ID + "/execute", `{"input": {"x": ` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}}`, "input_too_deep", 400},
		{"legacy depth 64 runs", execPath(e.Echo.ID), `{"x": ` + ok65 + `}`, "", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, raw := xraw(t, e, "POST", c.path, e.WSKey, c.body, nil)
			if resp.StatusCode != c.status || !strings.Contains(string(raw), `"`+c.code+`"`) {
				t.Fatalf("status %d, want %d with code %q: %.300s", resp.StatusCode, c.status, c.code, raw)
			}
		})
	}
	for _, q := range []string{"limit=-1", "limit=0"} {
		xwant(t, e, 400, "invalid_request", "GET", "/api/v1/logs?workspaceId="+e.WS.ID+"&"+q, e.WSKey, nil, nil)
		xwant(t, e, 400, "invalid_request", "GET", "/api/v2/logs?workspaceId="+e.WS.ID+"&"+q, e.WSKey, nil, nil)
	}
}

// spinDoc is a workflow whose function block spins until its timeout (ms).
func spinDoc(timeoutMs int) []byte {
	return simWorkflow([]simBlock{startSim,
		{id: "spin", typ: "function", params: map[string]any{"code": "while (true) {}", "timeout": timeoutMs}},
	}, [][3]string{{"start", "spin", ""}})
}

// startAsync queues a run and returns its execution id.
func startAsync(t *testing.T, e *testenv.Env, wfID, key string) string {
	t.Helper()
	m := xwant(t, e, 202, "", "POST", execPath(wfID), key, `{}`, map[string]string{"X-Execution-Mode": "async"})
	return fmt.Sprint(m["executionId"])
}

func cancelAll(t *testing.T, e *testenv.Env, wfID, key string, ids []string) {
	t.Helper()
	for _, id := range ids {
		xreq(t, e, "POST", "/api/workflows/"+wfID+"/executions/"+id+"/cancel", key, nil, nil)
	}
}

// Runs in flight are capped per workspace (429) and per server (503), both with
// Retry-After, before any record is written; other workspaces keep their share.
func TestExecuteRunCaps(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) {
		c.Core.MaxRunsPerWorkspace, c.Core.MaxRuns = 2, 3
	}})
	wait := xdeploy(t, e, "wait.json") // waits 30 s
	other := deployDoc(t, e, e.OtherWS.ID, testenv.Workflow(t, "wait.json"))
	ids := []string{startAsync(t, e, wait.ID, e.WSKey), startAsync(t, e, wait.ID, e.WSKey)}
	defer cancelAll(t, e, wait.ID, e.WSKey, ids)

	for _, hdr := range []map[string]string{{"X-Execution-Mode": "async"}, nil} {
		resp, m := xreq(t, e, "POST", execPath(wait.ID), e.WSKey, `{}`, hdr)
		if resp.StatusCode != 429 || m["code"] != "too_many_runs" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("third run in the workspace: %d %v Retry-After=%q", resp.StatusCode, m, resp.Header.Get("Retry-After"))
		}
	}
	resp, m := xreq(t, e, "POST", "/api/v2/workflows/"+wait.ID+"/execute", e.WSKey, `{"async": true}`, nil)
	if resp.StatusCode != 429 || xobj(t, m, "error")["code"] != "too_many_runs" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("v2: %d %v", resp.StatusCode, m)
	}
	// Another workspace still runs, up to the server's cap.
	otherID := startAsync(t, e, other.ID, e.OutsiderKey)
	defer cancelAll(t, e, other.ID, e.OutsiderKey, []string{otherID})
	resp, m = xreq(t, e, "POST", execPath(other.ID), e.OutsiderKey, `{}`, map[string]string{"X-Execution-Mode": "async"})
	if resp.StatusCode != 503 || m["code"] != "server_busy" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth run on the server: %d %v", resp.StatusCode, m)
	}
	// Refused runs left no record.
	lm := xwant(t, e, 200, "", "GET", "/api/v1/logs?workspaceId="+e.WS.ID+"&workflowIds="+wait.ID, e.WSKey, nil, nil)
	if n := len(lm["data"].([]any)); n != 2 {
		t.Fatalf("%d records for the workspace's wait workflow, want the 2 admitted", n)
	}
}

// A full JavaScript pool is overload, not a failed workflow: 503 with Retry-After
// and a small record, where it used to be 200 success:false with full logs.
func TestExecuteOverloadedPool(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: withPool(1, -1)})
	spin := deployDoc(t, e, e.OtherWS.ID, spinDoc(5000))
	id := startAsync(t, e, spin.ID, e.OutsiderKey)
	defer cancelAll(t, e, spin.ID, e.OutsiderKey, []string{id})
	xpoll(t, e, "/api/jobs/"+id, e.OutsiderKey, func(m map[string]any) bool { return m["status"] == "processing" })
	time.Sleep(500 * time.Millisecond) // "processing" comes just before the script takes the worker

	resp, m := xreq(t, e, "POST", execPath(e.Echo.ID), e.WSKey, `{"message": "hi"}`, nil)
	if resp.StatusCode != 503 || m["code"] != "overloaded" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("echo on a full pool: %d %v Retry-After=%q", resp.StatusCode, m, resp.Header.Get("Retry-After"))
	}
	execID := fmt.Sprint(xobj(t, m, "details")["executionId"])
	rec, err := e.App.Store.Logs().Get(context.Background(), execID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ErrorCode != engine.CodeOverloaded || len(rec.BlockLogs) > 0 || len(rec.TraceSpans) > 0 {
		t.Fatalf("record %q logs=%d spans=%d", rec.ErrorCode, len(rec.BlockLogs), len(rec.TraceSpans))
	}
}

// A workflow calling itself through an api block stops at the call depth limit:
// each hop sends X-SteelEngine-Via, and the execute door refuses the 11th with 409.
func TestExecuteRecursionThroughAPIBlock(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.AllowLoopback = true }})
	doc := simWorkflow([]simBlock{
		{id: "start", typ: "start_trigger", params: map[string]any{"inputFormat": []any{
			map[string]any{"id": "f0", "name": "url", "type": "string"}, map[string]any{"id": "f1", "name": "key", "type": "string"}}}},
		{id: "self", typ: "api", params: map[string]any{"url": "<start.url>", "method": "POST",
			"headers": []any{map[string]any{"id": "h", "cells": map[string]any{"Key": "X-API-Key", "Value": "<start.key>"}}},
			"body":    `{"url": "<start.url>", "key": "<start.key>"}`}},
	}, [][3]string{{"start", "self", ""}})
	wf := deployDoc(t, e, e.WS.ID, doc)
	url := e.URL + execPath(wf.ID)
	resp, m := xreq(t, e, "POST", execPath(wf.ID), e.WSKey, map[string]any{"url": url, "key": e.WSKey}, nil)
	// The innermost call is refused, so every api block up the chain fails: a failed
	// run answers 500 like Sim's execute route.
	if resp.StatusCode != 500 || m["success"] != false {
		t.Fatalf("status %d: %v", resp.StatusCode, m)
	}
	lm := xwant(t, e, 200, "", "GET", "/api/v1/logs?workspaceId="+e.WS.ID+"&workflowIds="+wf.ID+"&details=full", e.WSKey, nil, nil)
	data := lm["data"].([]any)
	if len(data) != 10 {
		t.Fatalf("%d runs of the self-calling workflow, want 10 (the default max call depth)", len(data))
	}
	refused := 0
	for _, d := range data {
		rec, err := e.App.Store.Logs().Get(context.Background(), fmt.Sprint(d.(map[string]any)["id"]))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(rec.Error, "call_depth_exceeded") {
			refused++
		}
	}
	// Each hop's failure propagates to its caller (a failed run answers 500, so the
	// caller's api block fails with it), so the refusal shows up the chain.
	if refused < 1 {
		t.Fatalf("no run reports the refused hop (call_depth_exceeded)")
	}
	// A caller may not claim a chain that is already too deep, nor a malformed one.
	chain := strings.TrimSuffix(strings.Repeat(wf.ID+",", 10), ",")
	xwant(t, e, 409, "call_depth_exceeded", "POST", execPath(e.Echo.ID), e.WSKey, `{}`, map[string]string{engine.ViaHeader: chain})
	xwant(t, e, 400, "invalid_via", "POST", execPath(e.Echo.ID), e.WSKey, `{}`, map[string]string{engine.ViaHeader: "a b"})
}

// A workspace flooding the JavaScript pool with endless scripts does not starve
// another workspace: with 2 workers and 16 queue slots (the setup), the runaway
// holds at most one worker and queues behind itself, and the other workspace's p99
// latency stays within 2× its idle value (plus 100 ms for this shared CI machine, and
// a second under the race detector; before, its runs failed with "all workers busy" or
// waited seconds).
func TestSandboxFairShareBetweenWorkspaces(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: withPool(2, 16)})
	spin := deployDoc(t, e, e.OtherWS.ID, spinDoc(3000))
	echo := func() time.Duration {
		t.Helper()
		start := time.Now()
		resp, m := xreq(t, e, "POST", execPath(e.Echo.ID), e.WSKey, `{"message": "hi"}`, nil)
		if resp.StatusCode != 200 || m["success"] != true {
			t.Fatalf("victim run: %d %v", resp.StatusCode, m)
		}
		return time.Since(start)
	}
	p99 := func(n int) time.Duration {
		ds := make([]time.Duration, n)
		for i := range ds {
			ds[i] = echo()
		}
		slices.Sort(ds)
		return ds[(n*99+99)/100-1]
	}
	for range 3 {
		echo() // start the workers
	}
	idle := p99(100)

	var ids []string
	for range 20 {
		ids = append(ids, startAsync(t, e, spin.ID, e.OutsiderKey))
	}
	defer cancelAll(t, e, spin.ID, e.OutsiderKey, ids)
	xpoll(t, e, "/api/jobs/"+ids[0], e.OutsiderKey, func(m map[string]any) bool { return m["status"] == "processing" })
	time.Sleep(100 * time.Millisecond) // the runaway's first script is spinning
	loaded := p99(100)
	limit := max(2*idle, idle+100*time.Millisecond)
	if raceEnabled {
		// Still far below the 3 s a victim waited behind the runaway's script before.
		limit = 2*idle + time.Second
	}
	t.Logf("victim p99: idle %s, under a runaway workspace %s (limit %s)", idle, loaded, limit)
	if loaded > limit {
		t.Fatalf("victim p99 %s under load, idle %s: more than %s", loaded, idle, limit)
	}
}

// Large inputs in flight are capped together: each run holds decoded copies of its
// input, so three concurrent 9 MiB inputs must not all be admitted at once.
func TestExecuteInputBytesInFlight(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.Core.MaxInputBytesInFlight = 1 << 20 }})
	wait := xdeploy(t, e, "wait.json")
	big := map[string]any{"blob": strings.Repeat("b", 600<<10)}
	async := map[string]string{"X-Execution-Mode": "async"}
	m := xwant(t, e, 202, "", "POST", execPath(wait.ID), e.WSKey, big, async)
	ids := []string{fmt.Sprint(m["executionId"])}
	defer func() { cancelAll(t, e, wait.ID, e.WSKey, ids) }()
	resp, m := xreq(t, e, "POST", execPath(wait.ID), e.WSKey, big, async)
	if resp.StatusCode != 503 || m["code"] != "server_busy" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second 600 KiB input: %d %v", resp.StatusCode, m)
	}
	m = xwant(t, e, 202, "", "POST", execPath(wait.ID), e.WSKey, map[string]any{"small": 1}, async)
	ids = append(ids, fmt.Sprint(m["executionId"]))
}

// Child workflows draw from their parent's budget: a loop of 1000 calling a child
// that loops 1000 times is a million blocks in one run, though no single engine run
// exceeds 100,000 on its own.
func TestExecuteChildWorkflowsShareTheBudget(t *testing.T) {
	e := testenv.New(t)
	child := deployDoc(t, e, e.WS.ID, simWorkflow([]simBlock{startSim,
		{id: "lp", typ: "loop", data: map[string]any{"loopType": "for", "count": 1000}},
		{id: "cell", typ: "variables", parent: "lp", params: map[string]any{"variables": []any{}}},
	}, [][3]string{{"start", "lp", ""}, {"lp", "cell", "loop-start-source"}}))
	parent := deployDoc(t, e, e.WS.ID, simWorkflow([]simBlock{startSim,
		{id: "lp", typ: "loop", data: map[string]any{"loopType": "for", "count": 1000}},
		{id: "call", typ: "workflow", parent: "lp", params: map[string]any{"workflowId": child.ID}},
	}, [][3]string{{"start", "lp", ""}, {"lp", "call", "loop-start-source"}}))
	resp, raw := xraw(t, e, "POST", execPath(parent.ID), e.WSKey, `{}`, nil)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if resp.StatusCode != 200 || m["code"] != engine.CodeBudgetExceeded || !strings.Contains(fmt.Sprint(m["error"]), "100000 block executions") {
		t.Fatalf("status %d code %v error %v", resp.StatusCode, m["code"], m["error"])
	}
	if len(raw) > 10<<20 {
		t.Fatalf("response is %d bytes", len(raw))
	}
}
