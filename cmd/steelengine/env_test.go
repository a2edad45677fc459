package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// simFile writes a Sim export whose one function block runs code.
func simFile(t *testing.T, name, code string) string {
	t.Helper()
	sub := func(id string, v any) map[string]any {
		return map[string]any{"id": id, "type": "short-input", "value": v}
	}
	doc := map[string]any{"version": "1.0", "exportedAt": "2026-01-01T00:00:00Z", "state": map[string]any{
		"blocks": map[string]any{
			"start": map[string]any{"id": "start", "type": "start_trigger", "name": "Start", "position": map[string]any{"x": 0, "y": 0},
				"enabled": true, "subBlocks": map[string]any{"inputFormat": sub("inputFormat", []any{})}, "outputs": map[string]any{}},
			"fn": map[string]any{"id": "fn", "type": "function", "name": "Fn", "position": map[string]any{"x": 1, "y": 0},
				"enabled": true, "subBlocks": map[string]any{"code": sub("code", code), "language": sub("language", "javascript")}, "outputs": map[string]any{}},
		},
		"edges": []any{map[string]any{"id": "e1", "source": "start", "target": "fn", "sourceHandle": "source", "targetHandle": "target"}},
		"loops": map[string]any{}, "parallels": map[string]any{}, "variables": map[string]any{},
		"metadata": map[string]any{"name": name},
	}}
	b, _ := json.Marshal(doc)
	path := filepath.Join(t.TempDir(), name+".json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runStdin runs the binary with stdin.
func runStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return stdout.String(), stderr.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}

// An environment variable set with the CLI (value from stdin) is used by the workflow
// running on a server, deploy warns about it while it is unset, a run fails naming it,
// and its value is in no CLI or API output, no data file and no export.
func TestEnvCLIUsedByRunningWorkflow(t *testing.T) {
	data, d, _ := seedWorld(t)
	const secret = "cli-secret-5e1f0a9b7c3d-QRS"
	file := simFile(t, "token", "return {len: '{{API_TOKEN}}'.length, tail: '{{API_TOKEN}}'.slice(-3)}")
	var wf map[string]any
	cliJSON(t, &wf, append(d, "workflows", "import", "--workspace", "Ops", file)...)
	id := wf["id"].(string)
	var all strings.Builder // every output of every command
	cli := func(wantCode int, args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, args...)
		all.WriteString(out + errOut)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, wantCode, out, errOut)
		}
		return out + errOut
	}

	if out := cli(0, "--data-dir", data, "workflows", "deploy", id); !strings.Contains(out, "warning:") || !strings.Contains(out, `"API_TOKEN"`) {
		t.Fatalf("deploy with API_TOKEN unset should warn: %s", out)
	}
	if out := cli(1, "--data-dir", data, "workflows", "run", id, "--deployed"); !strings.Contains(out, `environment variable "API_TOKEN" is not set`) {
		t.Fatalf("run with API_TOKEN unset: %s", out)
	}

	out, errOut, code := runStdin(t, secret+"\n", "--data-dir", data, "env", "set", "--workspace", "Ops", "API_TOKEN", "--value-stdin")
	all.WriteString(out + errOut)
	if code != 0 || !strings.Contains(out, "API_TOKEN") {
		t.Fatalf("env set --value-stdin: %d %s %s", code, out, errOut)
	}
	cli(0, "--data-dir", data, "env", "set", "--workspace", "Ops", "OTHER", "plain")
	cli(0, "--data-dir", data, "env", "unset", "--workspace", "Ops", "OTHER")
	cli(1, "--data-dir", data, "env", "unset", "--workspace", "Ops", "OTHER")
	cli(2, "--data-dir", data, "env", "set", "API_TOKEN", "x") // no scope
	cli(1, "--data-dir", data, "env", "set", "--workspace", "Ops", "not-a-name", "x")
	var vars []map[string]any
	listOut := cli(0, append(d, "env", "list", "--workspace", "Ops")...)
	if err := json.Unmarshal([]byte(listOut), &vars); err != nil || len(vars) != 1 || vars[0]["name"] != "API_TOKEN" || vars[0]["updatedBy"] != "operator" || len(vars[0]) != 3 {
		t.Fatalf("env list = %s (%v)", listOut, err)
	}
	cli(0, "--data-dir", data, "env", "set", "--personal", "--user", "ann@example.com", "MINE", "personal-value-1234")
	if out := cli(0, "--data-dir", data, "env", "list", "--personal", "--user", "ann@example.com"); !strings.Contains(out, "MINE") || strings.Contains(out, "personal-value") {
		t.Fatalf("personal list: %s", out)
	}
	if out := cli(0, "--data-dir", data, "workflows", "deploy", id, "--note", "token set"); strings.Contains(out, "warning:") {
		t.Fatalf("deploy still warns: %s", out)
	}
	var key map[string]any
	cliJSON(t, &key, append(d, "keys", "create", "--type", "workspace", "--workspace", "Ops", "--name", "runner")...)

	// The running server uses the variable.
	srv := exec.Command(binPath, "--data-dir", data, "serve", "--addr", "127.0.0.1:0")
	stderr, _ := srv.StderrPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	url := waitListen(t, stderr)
	var res map[string]any
	runOut := cli(0, "--json", "workflows", "run", id, "--url", url, "--key", key["key"].(string))
	if err := json.Unmarshal([]byte(runOut), &res); err != nil {
		t.Fatalf("remote run output %q: %v", runOut, err)
	}
	if r, _ := res["output"].(map[string]any)["result"].(map[string]any); r == nil || r["tail"] != "QRS" || r["len"] != float64(len(secret)) {
		t.Fatalf("remote run = %v", res)
	}
	_, body := get(t, url+"/api/v1/workflows/"+id+"/export")
	all.WriteString(body)
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()

	all.WriteString(cli(0, "--data-dir", data, "workflows", "export", id))
	all.WriteString(cli(0, "--data-dir", data, "workflows", "export", id, "--version", "2"))
	files, _ := filepath.Glob(filepath.Join(data, "*.db"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all.Write(b)
	}
	if len(files) != 2 || strings.Contains(all.String(), secret) || strings.Contains(all.String(), "personal-value-1234") {
		t.Fatalf("a value appears in CLI output, an export or a data file (%d files)", len(files))
	}
}

// workflows update / import --replace keep the id; deploy --note makes numbered
// versions; deploy --version rolls back and the next run is that version's.
func TestWorkflowVersionsCLI(t *testing.T) {
	data, d, _ := seedWorld(t)
	var wf map[string]any
	cliJSON(t, &wf, append(d, "workflows", "import", "--workspace", "Ops", simFile(t, "ver", "return 'one'"))...)
	id := wf["id"].(string)
	run := func() any {
		t.Helper()
		var res map[string]any
		cliJSON(t, &res, append(d, "workflows", "run", id, "--deployed")...)
		return res["output"].(map[string]any)["result"]
	}
	cliJSON(t, &map[string]any{}, append(d, "workflows", "deploy", id, "--note", "first")...)
	var up map[string]any
	cliJSON(t, &up, append(d, "workflows", "update", id, simFile(t, "ver2", "return 'two'"))...)
	if up["id"] != id || up["name"] != "ver2" {
		t.Fatalf("update = %v", up)
	}
	if got := run(); got != "one" {
		t.Fatalf("before redeploy the active version runs: %v", got)
	}
	cliJSON(t, &map[string]any{}, append(d, "workflows", "deploy", id, "--note", "second")...)
	if got := run(); got != "two" {
		t.Fatalf("after deploy: %v", got)
	}
	cliJSON(t, &up, append(d, "workflows", "import", "--replace", id, simFile(t, "ver3", "return 'three'"))...)
	if up["id"] != id {
		t.Fatalf("import --replace = %v", up)
	}
	cliJSON(t, &map[string]any{}, append(d, "workflows", "deploy", id)...)
	var rb map[string]any
	cliJSON(t, &rb, append(d, "workflows", "deploy", id, "--version", "1")...)
	if rb["version"] != float64(1) || rb["rollback"] != true {
		t.Fatalf("rollback = %v", rb)
	}
	if got := run(); got != "one" {
		t.Fatalf("after rollback to 1: %v", got)
	}
	var versions []map[string]any
	cliJSON(t, &versions, append(d, "workflows", "versions", id)...)
	if len(versions) != 3 || versions[0]["active"] != true || versions[1]["note"] != "second" || versions[2]["createdBy"] != "operator" {
		t.Fatalf("versions = %v", versions)
	}
	out, _, code := runCLI(t, "--data-dir", data, "workflows", "versions", id)
	if code != 0 || !strings.Contains(out, "second") || !strings.Contains(out, "*") {
		t.Fatalf("versions table: %s", out)
	}
	if out, _, _ := runCLI(t, "--data-dir", data, "workflows", "export", id, "--version", "2"); !strings.Contains(out, "return 'two'") {
		t.Fatalf("export --version 2: %s", out)
	}
	if _, errOut, code := runCLI(t, "--data-dir", data, "workflows", "deploy", id, "--version", "9"); code == 0 || !strings.Contains(errOut, "version 9 not found") {
		t.Fatalf("deploy --version 9: %d %s", code, errOut)
	}
	if _, _, code := runCLI(t, "--data-dir", data, "workflows", "import", "--replace", id, "--workspace", "Ops", "x.json"); code != 2 {
		t.Fatalf("import --replace with --workspace: exit %d, want 2", code)
	}
}
