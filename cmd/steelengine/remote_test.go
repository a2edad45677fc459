package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	rmAdminKeyRE  = regexp.MustCompile(`Admin API key \(shown once\): (\S+)`)
	rmDefaultWSRE = regexp.MustCompile(`default workspace (\S+)`)
)

func rmAPICall(t *testing.T, method, url, key string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(data, &m)
	return resp.StatusCode, m
}

// TestRemoteCommandsAgainstRunningServer starts `serve` and drives it with
// `workflows run --url --key`, `logs list` and `logs show`.
func TestRemoteCommandsAgainstRunningServer(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(binPath, "--data-dir", data, "serve", "--addr", "127.0.0.1:0")
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := waitListen(t, stderr)
	var key, ws string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out := stdout.String()
		if m, w := rmAdminKeyRE.FindStringSubmatch(out), rmDefaultWSRE.FindStringSubmatch(out); m != nil && w != nil {
			key, ws = m[1], strings.TrimRight(w[1], ".,")
			break
		}
	}
	if key == "" || ws == "" {
		t.Fatalf("no admin key or workspace in the first-start output: %q", stdout.String())
	}

	// Import and deploy a workflow through the API.
	wfData, err := os.ReadFile(filepath.Join("..", "..", "test", "workflows", "greet.json"))
	if err != nil {
		t.Fatal(err)
	}
	code, body := rmAPICall(t, "POST", url+"/api/v1/workflows/import?workspaceId="+ws, key, wfData)
	if code != 201 {
		t.Fatalf("import: %d %v", code, body)
	}
	wf, _ := body["data"].(map[string]any)["id"].(string)
	if code, body := rmAPICall(t, "POST", url+"/api/v1/workflows/"+wf+"/deploy", key, nil); code != 200 {
		t.Fatalf("deploy: %d %v", code, body)
	}

	// Run remotely, JSON output.
	var res map[string]any
	cliJSON(t, &res, "--json", "workflows", "run", "--url", url, "--key", key, "--input", `{"name":"Ada","n":5}`, wf)
	if res["success"] != true || !strings.Contains(rmJSON(res["output"]), "Hello Ada! 10") {
		t.Fatalf("remote run = %v", res)
	}
	md, _ := res["metadata"].(map[string]any)
	execID, _ := md["executionId"].(string)
	if execID == "" {
		t.Fatalf("remote run without executionId: %v", res)
	}
	// Human output, with the server and key from the environment.
	env := []string{"STEELENGINE_URL=" + url, "STEELENGINE_API_KEY=" + key}
	out, errOut, code := runCLIEnv(t, env, "workflows", "run", "--input", `{"name":"Bo"}`, wf)
	if code != 0 || !strings.Contains(out, "completed") || !strings.Contains(out, "Hello Bo!") {
		t.Fatalf("remote run (human): exit %d\n%s\n%s", code, out, errOut)
	}

	// HTTP errors: message and a non-zero exit.
	_, errOut, code = runCLI(t, "workflows", "run", "--url", url, "--key", "sk-steelengine-wrong", wf)
	if code == 0 || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "Invalid or missing API key") {
		t.Fatalf("bad key: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runCLI(t, "workflows", "run", "--url", url, "--key", key, "no-such-workflow")
	if code == 0 || !strings.Contains(errOut, "404") {
		t.Fatalf("unknown workflow: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code = runCLI(t, "workflows", "run", "--url", url, wf); code != 2 {
		t.Fatalf("--url without --key: exit %d, stderr %q", code, errOut)
	}

	// Logs.
	var page map[string]any
	cliJSON(t, &page, "--json", "logs", "list", "--workspace", ws, "--workflow", wf, "--limit", "10", "--url", url, "--key", key)
	items, _ := page["data"].([]any)
	if len(items) != 2 || !strings.Contains(rmJSON(items), execID) {
		t.Fatalf("logs list = %v", page)
	}
	out, errOut, code = runCLIEnv(t, env, "logs", "list", "--workspace", ws, "--limit", "1")
	if code != 0 || !strings.Contains(out, "ID") || strings.Count(strings.TrimSpace(out), "\n") < 1 {
		t.Fatalf("logs list (human): exit %d\n%s\n%s", code, out, errOut)
	}
	var one map[string]any
	cliJSON(t, &one, "--json", "logs", "show", "--url", url, "--key", key, execID)
	if !strings.Contains(rmJSON(one), execID) {
		t.Fatalf("logs show = %v", one)
	}
	out, errOut, code = runCLIEnv(t, env, "logs", "show", execID)
	if code != 0 || !strings.Contains(out, execID) {
		t.Fatalf("logs show (human): exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code = runCLIEnv(t, env, "logs", "show", "nope"); code == 0 || !strings.Contains(errOut, "404") {
		t.Fatalf("logs show unknown: exit %d, %q", code, errOut)
	}

	cmd.Process.Signal(syscall.SIGTERM)
}

// TestMCPServersCommands exercises the offline mcp-servers commands.
func TestMCPServersCommands(t *testing.T) {
	data := newDataDir(t)
	d := []string{"--data-dir", data, "--json"}
	var u, ws, wf map[string]any
	cliJSON(t, &u, append(d, "users", "create", "--email", "a@example.com", "--password", "long enough pw")...)
	cliJSON(t, &ws, append(d, "workspaces", "create", "--name", "W", "--owner", "a@example.com")...)
	wsID, _ := ws["id"].(string)
	cliJSON(t, &wf, append(d, "workflows", "import", "--workspace", wsID, filepath.Join("..", "..", "test", "workflows", "echo.json"))...)
	wfID, _ := wf["id"].(string)

	var srv map[string]any
	cliJSON(t, &srv, append(d, "mcp-servers", "create", "--workspace", "W", "--name", "tools", "--workflow", wfID)...)
	id, _ := srv["id"].(string)
	if id == "" || len(srv["workflowIds"].([]any)) != 1 {
		t.Fatalf("create = %v", srv)
	}
	cliJSON(t, &srv, append(d, "mcp-servers", "remove-workflow", id, wfID)...)
	if len(srv["workflowIds"].([]any)) != 0 {
		t.Fatalf("remove-workflow = %v", srv)
	}
	cliJSON(t, &srv, append(d, "mcp-servers", "add-workflow", id, wfID)...)
	if len(srv["workflowIds"].([]any)) != 1 {
		t.Fatalf("add-workflow = %v", srv)
	}
	if _, errOut, code := runCLI(t, append(d, "mcp-servers", "add-workflow", id, "nope")...); code == 0 {
		t.Fatalf("add unknown workflow: exit 0, %q", errOut)
	}
	var list []map[string]any
	cliJSON(t, &list, append(d, "mcp-servers", "list", "--workspace", wsID)...)
	if len(list) != 1 || list[0]["id"] != id {
		t.Fatalf("list = %v", list)
	}
	var del map[string]any
	cliJSON(t, &del, append(d, "mcp-servers", "delete", id)...)
	cliJSON(t, &list, append(d, "mcp-servers", "list", "--workspace", wsID)...)
	if len(list) != 0 {
		t.Fatalf("list after delete = %v", list)
	}
	if _, _, code := runCLI(t, append(d, "mcp-servers", "delete", id)...); code == 0 {
		t.Fatal("deleting twice succeeded")
	}
}

func rmJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
