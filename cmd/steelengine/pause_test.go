package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
)

// A run paused at human_in_the_loop survives a restart of the real binary (here the
// harshest one, kill -9, right after the paused answer) and completes after resume;
// a second answer is refused. Sim: apps/sim/lib/workflows/executor/
// human-in-the-loop-manager.ts (pause persisted before the paused result is
// returned; resume claims the pause point once).
func TestPausedRunSurvivesRestartOfTheBinary(t *testing.T) {
	srv, w, data := freshInstance(t, "1")
	client := &http.Client{Timeout: 20 * time.Second}
	wfID, err := w.importDeploy(client, srv.url, testenv.Workflow(t, "approval.json"))
	if err != nil {
		t.Fatal(err)
	}
	key := map[string]string{"X-API-Key": w.key}
	code, out, err := call(client, "POST", srv.url+"/api/workflows/"+wfID+"/execute", key, map[string]any{"amount": 4})
	if err != nil || code != 200 || out["status"] != "paused" {
		t.Fatalf("execute: %d %v %v", code, out, err)
	}
	execID := out["executionId"].(string)
	resumeURL, _ := out["resumeUrl"].(string)
	path := "/api/resume/" + wfID + "/" + execID + "/approval"
	if !strings.HasSuffix(resumeURL, path) {
		t.Fatalf("resumeUrl %q", resumeURL)
	}

	srv.cmd.Process.Kill()
	srv.cmd.Wait()
	srv = startServer(t, data)
	defer stopServer(t, srv)
	if !srv.waitLog("paused_runs=1") {
		t.Errorf("start did not report the paused run:\n%s", srv.stderr.String())
	}
	_, job, _ := call(client, "GET", srv.url+"/api/jobs/"+execID, key, nil)
	if job["status"] != "paused" {
		t.Fatalf("after restart: %v", job)
	}
	code, out, err = call(client, "POST", srv.url+path, key, map[string]any{"input": map[string]any{"approved": true, "comment": "after restart"}})
	if err != nil || code != 200 || out["status"] != "completed" {
		t.Fatalf("resume: %d %v %v", code, out, err)
	}
	if got := out["output"].(map[string]any)["result"]; got != "approved 8: after restart" {
		t.Fatalf("result %v", got)
	}
	_, job, _ = call(client, "GET", srv.url+"/api/jobs/"+execID, key, nil)
	if job["status"] != "completed" {
		t.Fatalf("logged run: %v", job)
	}
	if code, out, _ := call(client, "POST", srv.url+path, key, map[string]any{}); code != http.StatusConflict {
		t.Fatalf("second resume: %d %v", code, out)
	}
}
