package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

func callJSON(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

// Execute → paused with a resume URL → resume with the approval → completed and
// logged; the second answer is refused; no key or an unknown key is 401 and a key
// without write on the workflow is 403, through the same Authorize decision as
// execute. Wire shapes after Sim: the paused output and resume links
// (apps/sim/executor/handlers/human-in-the-loop/human-in-the-loop-handler.ts,
// executor/constants.ts buildResumeApiUrl), the legacy resume route and its sync
// answer (apps/sim/app/api/resume/[workflowId]/[executionId]/[contextId]/route.ts,
// app/api/resume/resume-handler.ts), the v2 route
// (apps/sim/app/api/v2/workflows/[id]/runs/[runId]/resume/route.ts) and the 409s of
// lib/workflows/executor/human-in-the-loop-manager.ts.
func TestPauseAndResumeThroughHTTP(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	op := auth.Operator()
	wf, err := e.App.Service.ImportWorkflow(ctx, op, e.WS.ID, testenv.Workflow(t, "approval.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, op, wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}

	code, out := callJSON(t, "POST", e.URL+"/api/workflows/"+wf.ID+"/execute", e.WSKey, map[string]any{"amount": 5})
	if code != 200 || out["success"] != true || out["status"] != "paused" {
		t.Fatalf("execute: %d %v", code, out)
	}
	execID := out["executionId"].(string)
	resumeURL := e.URL + "/api/resume/" + wf.ID + "/" + execID + "/approval"
	if out["resumeUrl"] != resumeURL {
		t.Fatalf("resumeUrl %v, want %s", out["resumeUrl"], resumeURL)
	}
	data := out["output"].(map[string]any)["data"].(map[string]any)
	if data["_resume"].(map[string]any)["apiUrl"] != resumeURL || data["operation"] != "human" {
		t.Fatalf("paused output %v", out["output"])
	}

	// Status views say paused and where to resume.
	code, job := callJSON(t, "GET", e.URL+"/api/jobs/"+execID, e.WSKey, nil)
	if code != 200 || job["status"] != "paused" || job["paused"].(map[string]any)["resumeUrl"] != resumeURL {
		t.Fatalf("job: %d %v", code, job)
	}
	code, run := callJSON(t, "GET", e.URL+"/api/v2/workflows/"+wf.ID+"/runs/"+execID, e.WSKey, nil)
	paused, _ := run["data"].(map[string]any)["paused"].(map[string]any)
	if code != 200 || run["data"].(map[string]any)["status"] != "paused" || paused["contextId"] != "approval" || paused["pauseKind"] != "human" {
		t.Fatalf("v2 run: %d %v", code, run)
	}
	code, list := callJSON(t, "GET", e.URL+"/api/workflows/"+wf.ID+"/paused", e.WSReadKey, nil)
	if code != 200 || len(list["pausedExecutions"].([]any)) != 1 {
		t.Fatalf("paused list: %d %v", code, list)
	}

	approve := map[string]any{"input": map[string]any{"approved": true, "comment": "go"}}
	for name, tc := range map[string]struct {
		key  string
		want int
	}{
		"no key":      {"", 401},
		"unknown key": {"sk-steelengine-not-a-real-key-000000000000", 401},
		"read only":   {e.WSReadKey, 403},
		"narrowed":    {e.WSNarrowKey, 403},
	} {
		if code, body := callJSON(t, "POST", resumeURL, tc.key, approve); code != tc.want {
			t.Errorf("%s: %d %v, want %d", name, code, body, tc.want)
		}
	}
	if ex, _ := e.App.Store.Logs().Get(ctx, execID); ex.Status != store.StatusPaused {
		t.Fatalf("a refused resume changed the run: %+v", ex)
	}

	code, res := callJSON(t, "POST", resumeURL, e.WSKey, approve)
	if code != 200 || res["success"] != true || res["status"] != "completed" || res["output"].(map[string]any)["result"] != "approved 10: go" {
		t.Fatalf("resume: %d %v", code, res)
	}
	code, st := callJSON(t, "GET", e.URL+"/api/workflows/"+wf.ID+"/executions/"+execID+"?includeOutput=true", e.WSKey, nil)
	if code != 200 || st["status"] != "completed" || st["paused"] != nil || st["finalOutput"].(map[string]any)["result"] != "approved 10: go" {
		t.Fatalf("logged run: %d %v", code, st)
	}
	bo := st["blockOutputs"].(map[string]any)["approval"].(map[string]any)
	if bo["approved"] != true || bo["submission"].(map[string]any)["comment"] != "go" {
		t.Fatalf("approval block output %v", bo)
	}
	if code, body := callJSON(t, "POST", resumeURL, e.WSKey, approve); code != 409 {
		t.Fatalf("second resume: %d %v", code, body)
	}

	// v2: {contextId, input}, the run's shape back; a second answer is a 409.
	code, out = callJSON(t, "POST", e.URL+"/api/v2/workflows/"+wf.ID+"/execute", e.WSKey, map[string]any{"input": map[string]any{"amount": 7}})
	d := out["data"].(map[string]any)
	if code != 200 || d["status"] != "paused" {
		t.Fatalf("v2 execute: %d %v", code, out)
	}
	v2URL := e.URL + "/api/v2/workflows/" + wf.ID + "/runs/" + d["runId"].(string) + "/resume"
	if code, body := callJSON(t, "POST", v2URL, e.WSKey, map[string]any{"contextId": "approval", "extra": 1}); code != 400 {
		t.Fatalf("unknown key: %d %v", code, body)
	}
	if code, body := callJSON(t, "POST", v2URL, e.WSReadKey, map[string]any{"contextId": "approval"}); code != 403 {
		t.Fatalf("v2 read-only: %d %v", code, body)
	}
	reject := map[string]any{"contextId": "approval", "input": map[string]any{"approved": false, "comment": "too much"}}
	code, out = callJSON(t, "POST", v2URL, e.WSKey, reject)
	d, _ = out["data"].(map[string]any)
	if code != 200 || d["status"] != "completed" || d["output"].(map[string]any)["result"] != "rejected 14: too much" {
		t.Fatalf("v2 resume: %d %v", code, out)
	}
	code, out = callJSON(t, "POST", v2URL, e.WSKey, reject)
	if code != 409 || out["error"].(map[string]any)["code"] != "not_resumable" {
		t.Fatalf("v2 second resume: %d %v", code, out)
	}

	// Streamed: the final frame says paused and where to resume.
	req, _ := http.NewRequest("POST", e.URL+"/api/workflows/"+wf.ID+"/execute", bytes.NewReader([]byte(`{"amount":2,"stream":true}`)))
	req.Header.Set("X-API-Key", e.WSKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sse, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(sse, []byte(`"event":"final"`)) || !bytes.Contains(sse, []byte(`"status":"paused"`)) || !bytes.Contains(sse, []byte(`"resumeUrl":"`+e.URL+`/api/resume/`+wf.ID+`/`)) {
		t.Fatalf("stream: %s", sse)
	}

	// A paused run can be cancelled (Sim's pausedCancelled); it cannot be resumed after.
	code, out = callJSON(t, "POST", e.URL+"/api/workflows/"+wf.ID+"/execute", e.WSKey, map[string]any{"amount": 1})
	execID = out["executionId"].(string)
	code, out = callJSON(t, "POST", e.URL+"/api/workflows/"+wf.ID+"/executions/"+execID+"/cancel", e.WSKey, nil)
	if code != 200 || out["pausedCancelled"] != true || out["reason"] != "recorded" {
		t.Fatalf("cancel paused: %d %v", code, out)
	}
	if code, body := callJSON(t, "POST", e.URL+"/api/resume/"+wf.ID+"/"+execID+"/approval", e.WSKey, approve); code != 409 {
		t.Fatalf("resume after cancel: %d %v", code, body)
	}
	if _, st := callJSON(t, "GET", e.URL+"/api/jobs/"+execID, e.WSKey, nil); st["status"] != "cancelled" {
		t.Fatalf("cancelled paused run: %v", st)
	}
}
