package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

// seedWorld creates a user, an org and a workspace in it through the CLI.
func seedWorld(t *testing.T) (data string, d []string, wsID string) {
	data = newDataDir(t)
	d = []string{"--data-dir", data, "--json"}
	cliJSON(t, &map[string]any{}, append(d, "users", "create", "--email", "ann@example.com", "--name", "Ann")...)
	cliJSON(t, &map[string]any{}, append(d, "orgs", "create", "--name", "Acme", "--owner", "ann@example.com")...)
	var ws map[string]any
	cliJSON(t, &ws, append(d, "workspaces", "create", "--name", "Ops", "--owner", "ann@example.com", "--org", "Acme")...)
	return data, d, ws["id"].(string)
}

func TestKeysLifecycleCLI(t *testing.T) {
	data, d, wsID := seedWorld(t)
	var personal, wsKey, orgKey map[string]any
	cliJSON(t, &personal, append(d, "keys", "create", "--type", "personal", "--user", "ann@example.com", "--name", "laptop", "--expires-in", "720h")...)
	cliJSON(t, &wsKey, append(d, "keys", "create", "--type", "workspace", "--workspace", "Ops", "--name", "ci", "--level", "admin")...)
	cliJSON(t, &orgKey, append(d, "keys", "create", "--type", "organization", "--org", "Acme", "--name", "reporting", "--grant", "workspace:"+wsID+":read")...)
	for _, k := range []map[string]any{personal, wsKey, orgKey} {
		plain, _ := k["key"].(string)
		if k["id"] == "" || !strings.HasPrefix(plain, "sk-steelengine-") || k["type"] == "" {
			t.Fatalf("created key = %v", k)
		}
	}

	// Lists show the display form only; the plaintext is nowhere in the output.
	out, _, code := runCLI(t, append(d, "keys", "list", "--workspace", "Ops")...)
	if code != 0 || strings.Contains(out, wsKey["key"].(string)) || !strings.Contains(out, "sk-steelengine-…") {
		t.Fatalf("keys list: %d %s", code, out)
	}

	// Duplicate name for the same owner: refused, non-zero exit.
	if _, errOut, code := runCLI(t, append(d, "keys", "create", "--type", "workspace", "--workspace", "Ops", "--name", "ci")...); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("duplicate name: %d %s", code, errOut)
	}
	// Bad grant syntax is a usage error.
	if _, _, code := runCLI(t, append(d, "keys", "create", "--type", "organization", "--org", "Acme", "--name", "x", "--grant", "workspace:"+wsID)...); code != 2 {
		t.Fatalf("bad grant exit %d, want 2", code)
	}

	var rotated map[string]any
	cliJSON(t, &rotated, append(d, "keys", "rotate", wsKey["id"].(string), "--grace", "1h")...)
	if rotated["key"] == wsKey["key"] || !strings.HasPrefix(rotated["key"].(string), "sk-steelengine-") {
		t.Fatalf("rotate = %v", rotated)
	}
	cliJSON(t, &map[string]any{}, append(d, "keys", "revoke", orgKey["id"].(string))...)
	var audit []map[string]any
	cliJSON(t, &audit, append(d, "keys", "audit", orgKey["id"].(string))...)
	var actions []string
	for _, ev := range audit {
		actions = append(actions, ev["action"].(string))
	}
	if !strings.Contains(strings.Join(actions, ","), "revoked") || !strings.Contains(strings.Join(actions, ","), "created") {
		t.Fatalf("audit = %v", actions)
	}

	// The key material is nowhere in the data directory's files.
	files, _ := filepath.Glob(filepath.Join(data, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, k := range []map[string]any{personal, wsKey, orgKey, rotated} {
			if strings.Contains(string(b), k["key"].(string)[len("sk-steelengine-"):]) {
				t.Fatalf("%s holds a key in plaintext", filepath.Base(f))
			}
		}
	}
}

func TestWorkflowsOfflineAndBackupCLI(t *testing.T) {
	data, d, _ := seedWorld(t)
	file := filepath.Join(testenv.Root(), "test", "workflows", "greet.json")
	var wf map[string]any
	cliJSON(t, &wf, append(d, "workflows", "import", "--workspace", "Ops", file)...)
	id, _ := wf["id"].(string)
	if id == "" {
		t.Fatalf("import = %v", wf)
	}
	cliJSON(t, &map[string]any{}, append(d, "workflows", "deploy", id)...)
	var res map[string]any
	cliJSON(t, &res, append(d, "workflows", "run", id, "--deployed", "--input", `{"name":"CLI"}`)...)
	if out, _ := json.Marshal(res); !strings.Contains(string(out), "Hello CLI!") {
		t.Fatalf("run = %s", out)
	}
	out, _, code := runCLI(t, "--data-dir", data, "workflows", "export", id)
	if code != 0 || !strings.Contains(out, `"blocks"`) {
		t.Fatalf("export: %d %s", code, out)
	}

	archive := filepath.Join(t.TempDir(), "b.tar")
	if _, errOut, code := runCLI(t, "--data-dir", data, "backup", "--out", archive); code != 0 {
		t.Fatalf("backup: %s", errOut)
	}
	if st, err := os.Stat(archive); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("archive: %v %v", st, err)
	}
	// The master key does not travel unless asked: restore needs it.
	restored := filepath.Join(t.TempDir(), "restored")
	if _, errOut, code := runCLI(t, "--data-dir", restored, "restore", archive); code == 0 || !strings.Contains(errOut, "master key") {
		t.Fatalf("restore without the master key: exit %d, %q", code, errOut)
	}
	other := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if _, errOut, code := runCLI(t, "--data-dir", restored, "--master-key", other, "restore", archive); code == 0 || !strings.Contains(errOut, "master key") {
		t.Fatalf("restore with a wrong master key: exit %d, %q", code, errOut)
	}
	mk, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"STEELENGINE_MASTER_KEY=" + strings.TrimSpace(string(mk))}
	if _, errOut, code := runCLIEnv(t, env, "--data-dir", restored, "restore", "--from", archive); code != 0 {
		t.Fatalf("restore: %s", errOut)
	}
	out, errOut, code := runCLIEnv(t, env, "--data-dir", restored, "--json", "workflows", "list")
	var wfs []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &wfs) != nil || len(wfs) != 1 || wfs[0]["id"] != id {
		t.Fatalf("restored workflows: %d %s %s", code, out, errOut)
	}
	// Without the key the restored directory refuses to start rather than make a new one.
	if _, errOut, code := runCLI(t, "--data-dir", restored, "workflows", "list"); code == 0 || !strings.Contains(errOut, "master key") {
		t.Fatalf("restored dir without its master key: exit %d, %q", code, errOut)
	}
}

func TestMCPStdioCommand(t *testing.T) {
	data, d, _ := seedWorld(t)
	file := filepath.Join(testenv.Root(), "test", "workflows", "greet.json")
	var wf, key map[string]any
	cliJSON(t, &wf, append(d, "workflows", "import", "--workspace", "Ops", file)...)
	cliJSON(t, &map[string]any{}, append(d, "workflows", "deploy", wf["id"].(string))...)
	cliJSON(t, &key, append(d, "keys", "create", "--type", "workspace", "--workspace", "Ops", "--name", "mcp")...)

	cmd := exec.Command(binPath, "--data-dir", data, "mcp", "--key", key["key"].(string))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Requests are answered concurrently; stdin stays open until the last answer, as a
	// real client keeps it.
	send := func(msg string) { io.WriteString(stdin, msg+"\n") }
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	answer := func(id string) string {
		for lines.Scan() {
			if strings.Contains(lines.Text(), `"id":`+id+`,`) {
				return lines.Text()
			}
		}
		t.Fatalf("no answer to request %s", id)
		return ""
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	answer("1")
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if got := answer("2"); !strings.Contains(got, `"name":"greet"`) {
		t.Fatalf("tools/list: %s", got)
	}
	send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"greet","arguments":{"name":"Stdio"}}}`)
	if got := answer("3"); !strings.Contains(got, "Hello Stdio!") {
		t.Fatalf("tools/call: %s", got)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("mcp exit: %v", err)
	}
	// A bad key never gets a session.
	if _, _, code := runCLI(t, "--data-dir", data, "mcp", "--key", "sk-steelengine-nope"); code == 0 {
		t.Fatal("mcp with a bad key exited 0")
	}
}
