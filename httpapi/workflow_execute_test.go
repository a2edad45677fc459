package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// xreq sends a request with an API key (empty: none) and returns the response and its
// decoded JSON body (nil when the body is not JSON).
func xreq(t *testing.T, e *testenv.Env, method, path, key string, body any, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	resp, raw := xraw(t, e, method, path, key, body, hdr)
	var m map[string]any
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return resp, m
}

func xraw(t *testing.T, e *testenv.Env, method, path, key string, body any, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// xwant asserts the status (and, for errors, the code) and returns the body.
func xwant(t *testing.T, e *testenv.Env, status int, code, method, path, key string, body any, hdr map[string]string) map[string]any {
	t.Helper()
	resp, m := xreq(t, e, method, path, key, body, hdr)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %v", method, path, resp.StatusCode, status, m)
	}
	if code != "" {
		got, _ := m["code"].(string)
		if inner, ok := m["error"].(map[string]any); ok {
			got, _ = inner["code"].(string)
		}
		if got != code {
			t.Fatalf("%s %s: code %q, want %q; body %v", method, path, got, code, m)
		}
	}
	return m
}

func xobj(t *testing.T, m map[string]any, field string) map[string]any {
	t.Helper()
	v, ok := m[field].(map[string]any)
	if !ok {
		t.Fatalf("%s is not an object in %v", field, m)
	}
	return v
}

// xdeploy imports a fixture into WS and deploys it.
func xdeploy(t *testing.T, e *testenv.Env, fixture string) *store.Workflow {
	t.Helper()
	ctx := context.Background()
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, testenv.Workflow(t, fixture))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	return wf
}

// xpoll GETs path until cond holds on the body, or fails after the deadline.
func xpoll(t *testing.T, e *testenv.Env, path, key string, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, m := xreq(t, e, "GET", path, key, nil, nil)
		if resp.StatusCode == http.StatusOK && cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: condition not met; last %d %v", path, resp.StatusCode, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func execPath(id string) string { return "/api/workflows/" + id + "/execute" }

func TestLegacyExecuteSeedCurlBody(t *testing.T) {
	e := testenv.New(t)
	// The seed's exact curl: -d '{"inputs": {}}'.
	resp, raw := xraw(t, e, "POST", execPath(e.Greet.ID), e.WSKey, `{"inputs": {}}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	if m["success"] != true {
		t.Fatalf("not success: %v", m)
	}
	out := xobj(t, m, "output")
	if out["result"] != "Hello World! 4 5" || out["stdout"] != "hi" {
		t.Fatalf("output %v", out)
	}
	id, _ := m["executionId"].(string)
	meta := xobj(t, m, "metadata")
	if id == "" || meta["duration"] == nil || meta["startTime"] == nil || meta["endTime"] == nil || meta["executionId"] != id {
		t.Fatalf("envelope %v", m)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if resp.Header.Get(h) == "" {
			t.Fatalf("missing %s", h)
		}
	}
}

func TestLegacyExecuteInputForms(t *testing.T) {
	e := testenv.New(t)
	for name, body := range map[string]any{
		"top-level": map[string]any{"message": "hi", "count": 3, "stream": false},
		"input":     map[string]any{"input": map[string]any{"message": "hi", "count": 3}},
		"inputs":    map[string]any{"inputs": map[string]any{"message": "hi", "count": 3}, "selectedOutputs": []string{}},
	} {
		t.Run(name, func(t *testing.T) {
			m := xwant(t, e, 200, "", "POST", execPath(e.Echo.ID), e.WSKey, body, nil)
			out := xobj(t, xobj(t, m, "output"), "result")
			if out["message"] != "hi" || out["count"] != 3.0 {
				t.Fatalf("output %v", out)
			}
		})
	}
	// Empty body: defaults.
	m := xwant(t, e, 200, "", "POST", execPath(e.Echo.ID), e.WSKey, nil, nil)
	if out := xobj(t, xobj(t, m, "output"), "result"); out["count"] != 1.0 {
		t.Fatalf("defaults: %v", out)
	}
	// selectedOutputs narrows the output to {blockId: {path: value}}.
	m = xwant(t, e, 200, "", "POST", execPath(e.Echo.ID), e.WSKey, map[string]any{"message": "x", "selectedOutputs": []string{"echo.result.message"}}, nil)
	if sel := xobj(t, xobj(t, m, "output"), "echo"); sel["result.message"] != "x" || len(sel) != 1 {
		t.Fatalf("selected %v", m["output"])
	}
	xwant(t, e, 400, "invalid_json", "POST", execPath(e.Echo.ID), e.WSKey, `{"message":`, nil)
	xwant(t, e, 400, "invalid_request", "POST", execPath(e.Echo.ID), e.WSKey, map[string]any{"triggerType": "manual"}, nil)
	xwant(t, e, 400, "invalid_request", "POST", execPath(e.Echo.ID), e.WSKey, map[string]any{"selectedOutputs": "echo"}, nil)
}

func TestLegacyExecuteAccessMatrix(t *testing.T) {
	e := testenv.New(t)
	cases := []struct {
		name   string
		key    string
		wf     string
		status int
		code   string
	}{
		{"admin personal", e.AdminKey, e.Greet.ID, 200, ""},
		{"member personal (write)", e.MemberKey, e.Greet.ID, 200, ""},
		{"outsider personal", e.OutsiderKey, e.Greet.ID, 403, "forbidden"},
		{"workspace key", e.WSKey, e.Greet.ID, 200, ""},
		{"workspace read key", e.WSReadKey, e.Greet.ID, 403, "forbidden"},
		{"narrow key outside list", e.WSNarrowKey, e.Greet.ID, 403, "forbidden"},
		{"narrow key inside list", e.WSNarrowKey, e.Echo.ID, 200, ""},
		{"org key", e.OrgKey, e.Greet.ID, 200, ""},
		{"org workflow grant, other workflow", e.OrgWorkflowKey, e.Greet.ID, 403, "forbidden"},
		{"org workflow grant", e.OrgWorkflowKey, e.Echo.ID, 200, ""},
		{"no key", "", e.Greet.ID, 401, "invalid_api_key"},
		{"bad key", "sk-steelengine-nope", e.Greet.ID, 401, "invalid_api_key"},
		{"unknown workflow", e.WSKey, "wf_missing", 404, "not_found"},
		{"undeployed", e.WSKey, e.Undeployed.ID, 403, "not_deployed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := xwant(t, e, c.status, c.code, "POST", execPath(c.wf), c.key, map[string]any{}, nil)
			if c.status == 403 && c.code == "not_deployed" && m["error"] != "Workflow is not deployed" {
				t.Fatalf("message %v", m)
			}
		})
	}
	// Bearer works like X-API-Key.
	xwant(t, e, 200, "", "POST", execPath(e.Greet.ID), "", map[string]any{}, map[string]string{"Authorization": "Bearer " + e.WSKey})
	resp, _ := xreq(t, e, "POST", execPath(e.Greet.ID), "", nil, nil)
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
}

func TestLegacyExecuteBodyLimitAndRateLimit(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.HTTP.MaxBodyBytes = 1024 }})
	big := `{"message":"` + strings.Repeat("x", 4096) + `"}`
	xwant(t, e, 413, "payload_too_large", "POST", execPath(e.Echo.ID), e.WSKey, big, nil)

	plain, _, err := e.App.Resolver.CreateKey(context.Background(), auth.Operator(),
		auth.CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: e.WS.ID, Name: "limited", RateLimit: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		resp, _ := xreq(t, e, "POST", execPath(e.Echo.ID), plain, map[string]any{}, nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "2" {
			t.Fatalf("request %d: %d limit=%q", i, resp.StatusCode, resp.Header.Get("X-RateLimit-Limit"))
		}
	}
	resp, m := xreq(t, e, "POST", execPath(e.Echo.ID), plain, map[string]any{}, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || m["code"] != "rate_limit_exceeded" {
		t.Fatalf("third request: %d retry=%q %v", resp.StatusCode, resp.Header.Get("Retry-After"), m)
	}
	// The v2 surface answers 429 in its shape.
	resp, m = xreq(t, e, "POST", "/api/v2/workflows/"+e.Echo.ID+"/execute", plain, map[string]any{}, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || xobj(t, m, "error")["code"] != "rate_limit_exceeded" {
		t.Fatalf("v2 429: %d %v", resp.StatusCode, m)
	}
}

func TestLegacyExecuteResponseBlock(t *testing.T) {
	e := testenv.New(t)
	wf := xdeploy(t, e, "response.json")
	resp, raw := xraw(t, e, "POST", execPath(wf.ID), e.WSKey, map[string]any{"name": "Zed"}, nil)
	if resp.StatusCode != 201 || resp.Header.Get("X-Test") != "yes 3" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d headers %v body %s", resp.StatusCode, resp.Header, raw)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	if body["greeting"] != "Hi Zed" || body["count"] != 3.0 || body["success"] != nil {
		t.Fatalf("body %v", body)
	}
}

func TestLegacyAsyncJobLifecycle(t *testing.T) {
	e := testenv.New(t)
	resp, m := xreq(t, e, "POST", execPath(e.Echo.ID), e.WSKey, map[string]any{"message": "later"}, map[string]string{"X-Execution-Mode": "async"})
	if resp.StatusCode != 202 {
		t.Fatalf("status %d %v", resp.StatusCode, m)
	}
	jobID, _ := m["jobId"].(string)
	if jobID == "" || m["taskId"] != jobID || m["executionId"] != jobID || m["status"] != "queued" || m["async"] != true ||
		m["createdAt"] == nil || m["message"] == nil {
		t.Fatalf("async body %v", m)
	}
	if su, _ := m["statusUrl"].(string); su != e.URL+"/api/jobs/"+jobID || xobj(t, m, "links")["status"] != su {
		t.Fatalf("status url %v", m)
	}
	job := xpoll(t, e, "/api/jobs/"+jobID, e.WSKey, func(m map[string]any) bool { return m["status"] == "completed" })
	// The job's output is Sim's job output (apps/sim/background/workflow-execution.ts):
	// {success, workflowId, executionId, output, executedAt}, the workflow output inside.
	jo := xobj(t, job, "output")
	if job["success"] != true || job["taskId"] != jobID || jo["success"] != true || jo["executionId"] != jobID ||
		jo["workflowId"] != e.Echo.ID || jo["executedAt"] == nil || xobj(t, xobj(t, jo, "output"), "result")["message"] != "later" {
		t.Fatalf("job %v", job)
	}
	if md := xobj(t, job, "metadata"); md["workflowId"] != e.Echo.ID || md["executionId"] != jobID {
		t.Fatalf("metadata %v", md)
	}
	// Reading the job needs read on its workflow.
	xwant(t, e, 200, "", "GET", "/api/jobs/"+jobID, e.WSReadKey, nil, nil)
	xwant(t, e, 200, "", "GET", "/api/jobs/"+jobID, e.OrgWorkflowKey, nil, nil)
	// Outside the caller's reach a job id reads as unknown: ids leak nothing.
	xwant(t, e, 404, "task_not_found", "GET", "/api/jobs/"+jobID, e.OutsiderKey, nil, nil)
	xwant(t, e, 401, "invalid_api_key", "GET", "/api/jobs/"+jobID, "", nil, nil)
	m = xwant(t, e, 404, "task_not_found", "GET", "/api/jobs/nope", e.WSKey, nil, nil)
	if m["error"] != "Task not found" {
		t.Fatalf("404 body %v", m)
	}
	// Async with a bad combination is refused up front.
	xwant(t, e, 400, "invalid_request", "POST", execPath(e.Echo.ID), e.WSKey, map[string]any{"stream": true}, map[string]string{"X-Execution-Mode": "async"})
}

// sseFrames parses an event stream: each frame's data decoded as JSON.
func sseFrames(t *testing.T, raw []byte) []any {
	t.Helper()
	var frames []any
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	blank := true
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			blank = true
			continue
		}
		if !blank {
			t.Fatalf("frame without blank-line separator at %q in %s", line, raw)
		}
		blank = false
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("non-data line %q", line)
		}
		var v any
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatalf("frame %q: %v", data, err)
		}
		frames = append(frames, v)
	}
	if !blank {
		t.Fatalf("stream does not end with a blank line: %q", raw)
	}
	return frames
}

func TestLegacyExecuteStream(t *testing.T) {
	e := testenv.New(t)
	resp, raw := xraw(t, e, "POST", execPath(e.Echo.ID), e.WSKey, map[string]any{"message": "streamed", "stream": true, "selectedOutputs": []string{"Echo.result.message"}}, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
	}
	frames := sseFrames(t, raw)
	if len(frames) < 3 || frames[len(frames)-1] != "[DONE]" {
		t.Fatalf("frames %v", frames)
	}
	var sawStart, sawChunk bool
	for _, f := range frames[:len(frames)-2] {
		m, _ := f.(map[string]any)
		if m["event"] == "block_started" && m["blockId"] == "echo" {
			sawStart = true
		}
		if m["blockId"] == "echo" && m["chunk"] == "streamed" {
			sawChunk = true
		}
	}
	final, _ := frames[len(frames)-2].(map[string]any)
	if !sawStart || !sawChunk || final["event"] != "final" {
		t.Fatalf("frames %v", frames)
	}
	data := xobj(t, final, "data")
	if data["success"] != true || xobj(t, xobj(t, data, "output"), "echo")["result.message"] != "streamed" {
		t.Fatalf("final %v", final)
	}

	// X-Stream-Response header, no selection: the final frame carries the whole output.
	_, raw = xraw(t, e, "POST", execPath(e.Greet.ID), e.WSKey, map[string]any{}, map[string]string{"X-Stream-Response": "true"})
	frames = sseFrames(t, raw)
	final, _ = frames[len(frames)-2].(map[string]any)
	if xobj(t, xobj(t, final, "data"), "output")["result"] != "Hello World! 4 5" {
		t.Fatalf("frames %v", frames)
	}
	// A failing run ends with one error frame, never a final one. Its error names the
	// failing line as Sim's function route does (createUserFriendlyErrorMessage in
	// apps/sim/app/api/function/execute/route.ts).
	fail := xdeploy(t, e, "fail.json")
	_, raw = xraw(t, e, "POST", execPath(fail.ID), e.WSKey, map[string]any{"stream": true}, nil)
	frames = sseFrames(t, raw)
	last, _ := frames[len(frames)-2].(map[string]any)
	if last["event"] != "error" || !strings.HasSuffix(last["error"].(string), ": Line 1: `throw new Error('boom')` - boom") || frames[len(frames)-1] != "[DONE]" {
		t.Fatalf("frames %v", frames)
	}
	for _, f := range frames {
		if m, _ := f.(map[string]any); m["event"] == "final" {
			t.Fatalf("final after error: %v", frames)
		}
	}
	// Errors before the run are plain JSON, not a stream.
	xwant(t, e, 403, "forbidden", "POST", execPath(e.Echo.ID), e.OutsiderKey, map[string]any{"stream": true}, nil)
}

func TestWorkflowStatus(t *testing.T) {
	e := testenv.New(t)
	m := xwant(t, e, 200, "", "GET", "/api/workflows/"+e.Greet.ID+"/status", e.WSReadKey, nil, nil)
	if m["isDeployed"] != true || m["needsRedeployment"] != false || m["deployedAt"] == nil {
		t.Fatalf("status %v", m)
	}
	m = xwant(t, e, 200, "", "GET", "/api/workflows/"+e.Undeployed.ID+"/status", e.WSKey, nil, nil)
	if m["isDeployed"] != false || m["deployedAt"] != nil {
		t.Fatalf("undeployed %v", m)
	}
	xwant(t, e, 403, "forbidden", "GET", "/api/workflows/"+e.Greet.ID+"/status", e.OutsiderKey, nil, nil)
	xwant(t, e, 403, "forbidden", "GET", "/api/workflows/"+e.Greet.ID+"/status", e.OrgWorkflowKey, nil, nil)
	xwant(t, e, 200, "", "GET", "/api/workflows/"+e.Echo.ID+"/status", e.OrgWorkflowKey, nil, nil)
	xwant(t, e, 404, "not_found", "GET", "/api/workflows/nope/status", e.WSKey, nil, nil)
	xwant(t, e, 401, "invalid_api_key", "GET", "/api/workflows/"+e.Greet.ID+"/status", "", nil, nil)
}

func TestExecutionStatusAndCancel(t *testing.T) {
	e := testenv.New(t)
	slow := xdeploy(t, e, "wait.json")

	// Finished execution: status, output on request, cancel → 409.
	m := xwant(t, e, 200, "", "POST", execPath(e.Echo.ID), e.WSKey, map[string]any{"message": "m"}, nil)
	id := m["executionId"].(string)
	p := "/api/workflows/" + e.Echo.ID + "/executions/" + id
	st := xpoll(t, e, p, e.WSReadKey, func(m map[string]any) bool { return m["status"] == "completed" })
	if st["finalOutput"] != nil {
		t.Fatalf("output without includeOutput: %v", st)
	}
	st = xwant(t, e, 200, "", "GET", p+"?includeOutput=true", e.WSKey, nil, nil)
	if xobj(t, xobj(t, st, "finalOutput"), "result")["message"] != "m" || xobj(t, xobj(t, xobj(t, st, "blockOutputs"), "echo"), "result")["message"] != "m" {
		t.Fatalf("with output %v", st)
	}
	xwant(t, e, 404, "not_found", "GET", "/api/workflows/"+e.Greet.ID+"/executions/"+id, e.WSKey, nil, nil)
	xwant(t, e, 403, "forbidden", "GET", p, e.OutsiderKey, nil, nil)
	xwant(t, e, 409, "not_cancellable", "POST", p+"/cancel", e.WSKey, nil, nil)

	// A running async execution is cancelled.
	resp, m := xreq(t, e, "POST", execPath(slow.ID), e.WSKey, map[string]any{}, map[string]string{"X-Execution-Mode": "async"})
	if resp.StatusCode != 202 {
		t.Fatalf("async %d %v", resp.StatusCode, m)
	}
	job := m["jobId"].(string)
	xpoll(t, e, "/api/jobs/"+job, e.WSKey, func(m map[string]any) bool { return m["status"] == "processing" })
	cp := "/api/workflows/" + slow.ID + "/executions/" + job + "/cancel"
	xwant(t, e, 403, "forbidden", "POST", cp, e.WSReadKey, nil, nil)
	c := xwant(t, e, 200, "", "POST", cp, e.WSKey, nil, nil)
	if c["success"] != true || c["reason"] != "recorded" || c["executionId"] != job {
		t.Fatalf("cancel %v", c)
	}
	xpoll(t, e, "/api/jobs/"+job, e.WSKey, func(m map[string]any) bool { return m["status"] == "cancelled" })
	c = xwant(t, e, 200, "", "POST", cp, e.WSKey, nil, nil)
	if c["reason"] != "already_cancelled" {
		t.Fatalf("second cancel %v", c)
	}

	// A running sync execution, known by its X-Execution-Id, is cancelled through v2.
	var wg sync.WaitGroup
	wg.Add(1)
	var syncBody map[string]any
	var syncStatus int
	go func() {
		defer wg.Done()
		r, b := xreq(t, e, "POST", execPath(slow.ID), e.WSKey, map[string]any{}, map[string]string{"X-Execution-Id": "sync-run-1"})
		syncStatus, syncBody = r.StatusCode, b
	}()
	rp := "/api/v2/workflows/" + slow.ID + "/runs/sync-run-1"
	xpoll(t, e, rp, e.WSKey, func(m map[string]any) bool { return xobj(t, m, "data")["status"] == "running" })
	xwant(t, e, 200, "", "POST", rp+"/cancel", e.WSKey, nil, nil)
	wg.Wait()
	if syncStatus != 200 || syncBody["success"] != false || syncBody["code"] != "cancelled" {
		t.Fatalf("sync cancelled run: %d %v", syncStatus, syncBody)
	}
}

func TestExecutionIDOnceAndTimeout(t *testing.T) {
	e := testenv.New(t)
	xwant(t, e, 200, "", "POST", execPath(e.Echo.ID), e.WSKey, map[string]any{}, map[string]string{"X-Execution-Id": "once"})
	m := xwant(t, e, 409, "execution_id_conflict", "POST", execPath(e.Echo.ID), e.WSKey, map[string]any{}, map[string]string{"X-Execution-Id": "once"})
	if m["executionId"] != "once" {
		t.Fatalf("conflict body %v", m)
	}
	xwant(t, e, 400, "invalid_request", "POST", execPath(e.Echo.ID), e.WSKey, map[string]any{}, map[string]string{"X-Execution-Id": "bad id!"})

	slow := xdeploy(t, e, "wait.json")
	start := time.Now()
	m = xwant(t, e, 408, "timeout", "POST", execPath(slow.ID), e.WSKey, map[string]any{}, map[string]string{"X-Execution-Timeout-Seconds": "1"})
	if m["success"] != false || time.Since(start) > 10*time.Second {
		t.Fatalf("timeout body %v after %v", m, time.Since(start))
	}
	xwant(t, e, 400, "invalid_request", "POST", execPath(slow.ID), e.WSKey, map[string]any{}, map[string]string{"X-Execution-Timeout-Seconds": "-3"})
}

func TestClientDisconnectCancelsSyncRun(t *testing.T) {
	e := testenv.New(t)
	slow := xdeploy(t, e, "wait.json")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", e.URL+execPath(slow.ID), strings.NewReader(`{}`))
	req.Header.Set("X-API-Key", e.WSKey)
	req.Header.Set("X-Execution-Id", "gone-1")
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	rp := "/api/v2/workflows/" + slow.ID + "/runs/gone-1"
	xpoll(t, e, rp, e.WSKey, func(m map[string]any) bool { return xobj(t, m, "data")["status"] == "running" })
	cancel()
	<-done
	run := xpoll(t, e, rp, e.WSKey, func(m map[string]any) bool { return xobj(t, m, "data")["status"] == "cancelled" })
	if d := xobj(t, run, "data"); xobj(t, d, "error")["code"] != "CANCELLED" {
		t.Fatalf("run %v", run)
	}
}
