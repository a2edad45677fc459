package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
)

var credsKeyRE = regexp.MustCompile(`admin API key:\s+(\S+)`)

// served is a `steelengine serve` process on a data directory.
type served struct {
	cmd    *exec.Cmd
	url    string
	data   string
	stdout *syncBuffer
	key    string // the first start's admin key
	ws     string // the default workspace
}

// startServe runs serve on data with extra environment and waits until it listens.
func startServe(t *testing.T, data string, env []string) *served {
	t.Helper()
	cmd := exec.Command(binPath, "serve", "--data-dir", data, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), env...)
	s := &served{cmd: cmd, data: data, stdout: &syncBuffer{}}
	cmd.Stdout = s.stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s.url = waitListen(t, stderr)
	// The first start's credentials file is complete before the server listens (its
	// stdout may still be in the pipe).
	creds, _ := os.ReadFile(filepath.Join(data, "initial-admin.txt"))
	if m := credsKeyRE.FindSubmatch(creds); m != nil {
		s.key = string(m[1])
	}
	if m := rmDefaultWSRE.FindSubmatch(creds); m != nil {
		s.ws = strings.TrimRight(string(m[1]), ".,")
	}
	return s
}

func (s *served) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("serve exit: %v", err)
	}
}

// execute runs workflow wf over HTTP with key and returns the status and body.
func (s *served) execute(t *testing.T, key, wf, name string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/workflows/"+wf+"/execute", strings.NewReader(`{"input":{"name":"`+name+`"}}`))
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func greetFile() string { return filepath.Join(testenv.Root(), "test", "workflows", "greet.json") }

// TestAdminCommandsWhileServing: with serve holding the data directory, admin commands
// reach it through the operator socket, and the server sees each change on the next
// request; the same commands work from elsewhere with --url/--key where a key may.
func TestAdminCommandsWhileServing(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, data, nil)
	d := []string{"--data-dir", data, "--json"}

	var wf, dep, key, personal map[string]any
	cliJSON(t, &wf, append(d, "workflows", "import", "--workspace", "Default", greetFile())...)
	id, _ := wf["id"].(string)
	cliJSON(t, &dep, append(d, "workflows", "deploy", id)...)
	if id == "" || fmt.Sprint(dep["version"]) != "1" {
		t.Fatalf("import/deploy through the socket: %v %v", wf, dep)
	}
	cliJSON(t, &key, append(d, "keys", "create", "--type", "workspace", "--workspace", "Default", "--name", "live", "--level", "write")...)
	if code, body := s.execute(t, key["key"].(string), id, "Socket"); code != 200 || !strings.Contains(body, "Hello Socket!") {
		t.Fatalf("new key on the next request: %d %s", code, body)
	}
	// Recovery: a personal key for a named user, and a new password.
	cliJSON(t, &personal, append(d, "keys", "create", "--type", "personal", "--user", "admin@localhost", "--name", "recovery")...)
	if code, body := s.execute(t, personal["key"].(string), id, "Admin"); code != 200 {
		t.Fatalf("personal key from the CLI: %d %s", code, body)
	}
	var reset map[string]any
	cliJSON(t, &reset, append(d, "users", "reset-password", "admin@localhost")...)
	login, _ := json.Marshal(map[string]string{"email": "admin@localhost", "password": reset["password"].(string)})
	resp, err := http.Post(s.url+"/api/auth/login", "application/json", strings.NewReader(string(login)))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login with the reset password: %v %v", resp, err)
	}
	resp.Body.Close()
	// Same output as offline: human tables and JSON lists.
	out, errOut, code := runCLI(t, "keys", "list", "--workspace", "Default", "--data-dir", data)
	if code != 0 || !strings.Contains(out, "live") || !strings.Contains(out, "sk-steelengine-…") || strings.Contains(out, key["key"].(string)) {
		t.Fatalf("keys list through the socket: %d %s %s", code, out, errOut)
	}
	// Revocation through the socket takes effect on the next request.
	cliJSON(t, &map[string]any{}, append(d, "keys", "revoke", key["id"].(string))...)
	if code, _ := s.execute(t, key["key"].(string), id, "x"); code != 401 {
		t.Fatalf("revoked key answered %d", code)
	}
	// Backup while serving.
	archive := filepath.Join(t.TempDir(), "live.tar")
	if _, errOut, code := runCLI(t, "--data-dir", data, "backup", "--out", archive); code != 0 {
		t.Fatalf("backup through the socket: %s", errOut)
	}

	// From another directory, with a URL and the admin's key: import and deploy.
	elsewhere := t.TempDir()
	remote := []string{"--url", s.url, "--key", s.key, "--json"}
	out, errOut, code = runCLIIn(t, elsewhere, nil, append([]string{"workflows", "import", "--workspace", "Default", greetFile()}, remote...)...)
	var wf2 map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &wf2) != nil {
		t.Fatalf("remote import: %d %s %s", code, out, errOut)
	}
	id2 := wf2["id"].(string)
	if _, errOut, code := runCLIIn(t, elsewhere, nil, append([]string{"workflows", "deploy", id2}, remote...)...); code != 0 {
		t.Fatalf("remote deploy: %s", errOut)
	}
	if code, body := s.execute(t, s.key, id2, "Remote"); code != 200 || !strings.Contains(body, "Hello Remote!") {
		t.Fatalf("run after remote deploy: %d %s", code, body)
	}
	out, _, code = runCLIIn(t, elsewhere, nil, append([]string{"workflows", "list"}, remote...)...)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, id2) {
		t.Fatalf("remote list: %d %s", code, out)
	}
	// Environment variables and in-place updates, through the socket and with the key:
	// the running server uses each on the next run.
	var ewf map[string]any
	cliJSON(t, &ewf, append(d, "workflows", "import", "--workspace", "Default", simFile(t, "envtok", "return 'v1:' + '{{LIVE_TOKEN}}'.slice(-4)"))...)
	eid := ewf["id"].(string)
	cliJSON(t, &map[string]any{}, append(d, "env", "set", "--workspace", "Default", "LIVE_TOKEN", "secret-ABCD")...)
	cliJSON(t, &map[string]any{}, append(d, "workflows", "deploy", eid)...)
	if code, body := s.execute(t, s.key, eid, "x"); code != 200 || !strings.Contains(body, "v1:ABCD") {
		t.Fatalf("env set through the socket: %d %s", code, body)
	}
	if _, errOut, code := runCLIIn(t, elsewhere, nil, append([]string{"env", "set", "--workspace", "Default", "LIVE_TOKEN", "secret-WXYZ"}, remote...)...); code != 0 {
		t.Fatalf("remote env set: %s", errOut)
	}
	if _, errOut, code := runCLIIn(t, elsewhere, nil, append([]string{"workflows", "update", eid, simFile(t, "envtok2", "return 'v2:' + '{{LIVE_TOKEN}}'.slice(-4)")}, remote...)...); code != 0 {
		t.Fatalf("remote update: %s", errOut)
	}
	if _, errOut, code := runCLIIn(t, elsewhere, nil, append([]string{"workflows", "deploy", eid, "--note", "v2"}, remote...)...); code != 0 {
		t.Fatalf("remote deploy of the update: %s", errOut)
	}
	if code, body := s.execute(t, s.key, eid, "x"); code != 200 || !strings.Contains(body, "v2:WXYZ") {
		t.Fatalf("after remote env set and update: %d %s", code, body)
	}
	// Model providers through the socket; the key is read from the environment and
	// never shown.
	out, errOut, code = runCLIEnv(t, []string{"LOCAL_LLM_KEY=sk-local-provider-secret"}, "--data-dir", data, "--json", "providers", "add",
		"--workspace", "Default", "--name", "local", "--base-url", "http://127.0.0.1:1/v1", "--api-key-env", "LOCAL_LLM_KEY", "--default")
	if code != 0 || !strings.Contains(out, `"hasApiKey": true`) || strings.Contains(out, "provider-secret") {
		t.Fatalf("providers add: %d %s %s", code, out, errOut)
	}
	out, _, code = runCLI(t, "--data-dir", data, "providers", "list", "--workspace", "Default")
	if code != 0 || !strings.Contains(out, "local") || !strings.Contains(out, "set") || strings.Contains(out, "provider-secret") {
		t.Fatalf("providers list: %d %s", code, out)
	}
	if _, errOut, code := runCLI(t, "--data-dir", data, "providers", "remove", "--workspace", "Default", "local"); code != 0 {
		t.Fatalf("providers remove: %s", errOut)
	}
	// A key does not administer the instance: no backups with one.
	if _, errOut, code := runCLIIn(t, elsewhere, nil, append([]string{"backup", "--out", "x.tar"}, remote...)...); code == 0 || !strings.Contains(errOut, `"code":"forbidden"`) {
		t.Fatalf("backup with a key: exit %d, %q", code, errOut)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("remote commands wrote into the working directory: %v", entries)
	}
	// The container health check: the binary asks /readyz.
	if out, errOut, code := runCLI(t, "health", "--url", s.url); code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("health: %d %s %s", code, out, errOut)
	}
	s.stop(t)
	if _, errOut, code := runCLI(t, "health", "--url", s.url, "--timeout", "2s"); code != 1 || !strings.Contains(errOut, "not healthy") {
		t.Fatalf("health of a stopped server: %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(data, "operator.sock")); !os.IsNotExist(err) {
		t.Errorf("operator socket left behind after shutdown (%v)", err)
	}
}

func TestAdminCommandsRefuseMissingDataDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	for _, args := range [][]string{
		{"users", "list"},
		{"keys", "list"},
		{"backup", "--out", filepath.Join(t.TempDir(), "x.tar")},
		{"mcp", "--key", "sk-steelengine-x"},
	} {
		_, errOut, code := runCLI(t, append([]string{"--data-dir", missing}, args...)...)
		if code == 0 || !strings.Contains(errOut, "does not exist") || !strings.Contains(errOut, missing) {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a command created the missing data directory (%v)", err)
	}
}

// TestMCPStdioBridgesToRunningServer: `steelengine mcp --key K` while serve holds the
// data directory relays stdio to the server, from the data directory's socket or --url.
func TestMCPStdioBridgesToRunningServer(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, data, nil)
	var wf, key map[string]any
	cliJSON(t, &wf, "--data-dir", data, "--json", "workflows", "import", "--workspace", "Default", greetFile())
	cliJSON(t, &map[string]any{}, "--data-dir", data, "--json", "workflows", "deploy", wf["id"].(string))
	cliJSON(t, &key, "--data-dir", data, "--json", "keys", "create", "--type", "workspace", "--workspace", "Default", "--name", "mcp")
	k := key["key"].(string)

	for name, args := range map[string][]string{
		"socket": {"--data-dir", data, "mcp", "--key", k},
		"url":    {"mcp", "--url", s.url, "--key", k},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(binPath, args...)
			cmd.Dir = t.TempDir()
			driveMCPStdio(t, cmd, "Bridge")
		})
	}
	// A bad key fails at once, as it does offline.
	if _, errOut, code := runCLI(t, "--data-dir", data, "mcp", "--key", "sk-steelengine-nope"); code == 0 || !strings.Contains(errOut, "401") {
		t.Fatalf("mcp with a bad key: exit %d, %q", code, errOut)
	}
}

// driveMCPStdio speaks MCP to cmd over stdio: initialize, tools/list, tools/call greet.
func driveMCPStdio(t *testing.T, cmd *exec.Cmd, name string) {
	t.Helper()
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	send := func(msg string) { io.WriteString(stdin, msg+"\n") }
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	answer := func(id string) string {
		for lines.Scan() {
			if strings.Contains(lines.Text(), `"id":`+id+`,`) {
				return lines.Text()
			}
		}
		t.Fatalf("no answer to request %s; stderr %q", id, stderr.String())
		return ""
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	answer("1")
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if got := answer("2"); !strings.Contains(got, `"name":"greet"`) {
		t.Fatalf("tools/list: %s", got)
	}
	send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"greet","arguments":{"name":"` + name + `"}}}`)
	if got := answer("3"); !strings.Contains(got, "Hello "+name+"!") {
		t.Fatalf("tools/call: %s", got)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("mcp exit: %v; stderr %q", err, stderr.String())
	}
}

// TestBackupUnderLoadRestoresElsewhere: a backup taken while runs and key changes go
// on restores on a "new machine" (another working directory, the master key supplied)
// and answers the same keys; without the master key restore refuses and names it.
func TestBackupUnderLoadRestoresElsewhere(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, data, nil)
	d := []string{"--data-dir", data, "--json"}
	var wf, key map[string]any
	cliJSON(t, &wf, append(d, "workflows", "import", "--workspace", "Default", greetFile())...)
	id := wf["id"].(string)
	cliJSON(t, &map[string]any{}, append(d, "workflows", "deploy", id)...)
	cliJSON(t, &key, append(d, "keys", "create", "--type", "workspace", "--workspace", "Default", "--name", "kept")...)
	k := key["key"].(string)

	// Load: runs (log writes) and key creation (core writes) while the backup streams.
	var stop atomic.Bool
	var runs atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if code, _ := s.execute(t, k, id, "Load"); code == 200 {
					runs.Add(1)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load() && i < 5; i++ {
			runCLI(t, append(d, "keys", "create", "--type", "workspace", "--workspace", "Default", "--name", fmt.Sprintf("load-%d", i))...)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	backups := t.TempDir()
	var b map[string]any
	cliJSON(t, &b, "--data-dir", data, "--json", "backup", backups)
	var bk map[string]any
	cliJSON(t, &bk, "--data-dir", data, "--json", "backup", "--include-master-key", "--out", filepath.Join(backups, "with-key.tar"))
	stop.Store(true)
	wg.Wait()
	if runs.Load() == 0 {
		t.Fatal("no runs under load")
	}
	archive, _ := b["backup"].(string)
	if !strings.HasPrefix(archive, backups) || b["includesMasterKey"] != false {
		t.Fatalf("backup = %v", b)
	}
	mk, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	s.stop(t)

	// The new machine: another working directory, a relative data directory.
	machine := t.TempDir()
	_, errOut, code := runCLIIn(t, machine, nil, "--data-dir", "data", "restore", archive)
	if code == 0 || !strings.Contains(errOut, "master key") {
		t.Fatalf("restore without the master key: exit %d, %q", code, errOut)
	}
	env := []string{"STEELENGINE_MASTER_KEY=" + strings.TrimSpace(string(mk))}
	if _, errOut, code := runCLIIn(t, machine, env, "--data-dir", "data", "restore", archive); code != 0 {
		t.Fatalf("restore: %s", errOut)
	}
	// Started without the key, the restored directory refuses instead of making a new one.
	if _, errOut, code := runCLIIn(t, machine, nil, "serve", "--data-dir", "data", "--addr", "127.0.0.1:0"); code == 0 || !strings.Contains(errOut, "master key") {
		t.Fatalf("serve without the master key: exit %d, %q", code, errOut)
	}
	r := startServe(t, filepath.Join(machine, "data"), env)
	for _, kk := range []string{k, s.key} {
		if code, body := r.execute(t, kk, id, "Restored"); code != 200 || !strings.Contains(body, "Hello Restored!") {
			out, errOut, _ := runCLIEnv(t, env, "--data-dir", filepath.Join(machine, "data"), "keys", "list", "--all")
			t.Fatalf("restored instance: %s: %d %s\n%s%s\n%v", kk, code, body, out, errOut, key)
		}
	}
	r.stop(t)

	// An archive that carries the master key restores with nothing else.
	other := t.TempDir()
	if _, errOut, code := runCLIIn(t, other, nil, "--data-dir", "data", "restore", bk["backup"].(string)); code != 0 {
		t.Fatalf("restore with the key in the archive: %s", errOut)
	}
	r2 := startServe(t, filepath.Join(other, "data"), nil)
	if code, body := r2.execute(t, k, id, "Again"); code != 200 {
		t.Fatalf("instance restored with its key: %d %s", code, body)
	}
	r2.stop(t)
}

// TestMCPStdioTypeScriptSDK: the official MCP TypeScript SDK's stdio client launches
// `steelengine mcp --key K` while serve runs, lists and calls the tools. Skipped unless
// test/mcp has its npm packages (npm ci), like the other Node tests.
func TestMCPStdioTypeScriptSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("node tests skipped in -short mode")
	}
	dir := filepath.Join(testenv.Root(), "test", "mcp")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		t.Skip("test/mcp/node_modules missing (run npm ci in test/mcp)")
	}
	path := filepath.Join(dir, "node_modules", ".bin") + string(os.PathListSeparator) + os.Getenv("PATH")
	if _, err := exec.LookPath("node"); err != nil {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "node")); err != nil {
			t.Skip("node not installed")
		}
	}
	data := filepath.Join(t.TempDir(), "data")
	startServe(t, data, nil)
	var wf, key map[string]any
	cliJSON(t, &wf, "--data-dir", data, "--json", "workflows", "import", "--workspace", "Default", greetFile())
	cliJSON(t, &map[string]any{}, "--data-dir", data, "--json", "workflows", "deploy", wf["id"].(string))
	cliJSON(t, &key, "--data-dir", data, "--json", "keys", "create", "--type", "workspace", "--workspace", "Default", "--name", "ts")

	cmd := exec.Command("node", "stdio-client.mjs", "greet", `{"name":"TypeScript"}`, binPath, "--data-dir", data, "mcp", "--key", key["key"].(string))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+path)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.Output(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("stdio-client.mjs timed out; stderr %q", stderr.String())
	}
	if err != nil {
		t.Fatalf("stdio-client.mjs: %v\n%s\n%s", err, out, stderr.String())
	}
	var sum struct {
		Tools []string `json:"tools"`
		Text  string   `json:"text"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(out))), &sum); err != nil {
		t.Fatalf("stdio-client.mjs output %q: %v", out, err)
	}
	if strings.Join(sum.Tools, ",") != "greet" || !strings.Contains(string(out), "Hello TypeScript!") {
		t.Fatalf("stdio-client.mjs: %s", out)
	}
}

func TestInitPreparesADataDirectory(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	out, errOut, code := runCLI(t, "init", "--data-dir", data, "--admin-email", "ops@example.com")
	if code != 0 || !strings.Contains(out, "ops@example.com") || !strings.Contains(out, "initial-admin.txt") {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	var users []map[string]any
	cliJSON(t, &users, "--data-dir", data, "--json", "users", "list")
	if len(users) != 1 || users[0]["email"] != "ops@example.com" || users[0]["instanceAdmin"] != true {
		t.Fatalf("users = %v", users)
	}
	if out, _, code := runCLI(t, "init", "--data-dir", data); code != 0 || !strings.Contains(out, "already initialized") {
		t.Fatalf("second init: %d %s", code, out)
	}
}

// A first start whose port is taken fails before it creates the admin, so the next
// start still prints (and writes) the credentials.
func TestFirstStartOnABusyPortCreatesNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	data := filepath.Join(t.TempDir(), "data")
	out, errOut, code := runCLI(t, "serve", "--data-dir", data, "--addr", busy.Addr().String())
	if code == 0 || !strings.Contains(errOut, "listen on") || strings.Contains(out, "password") {
		t.Fatalf("serve on a busy port: %d %q %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(data, "initial-admin.txt")); !os.IsNotExist(err) {
		t.Fatalf("credentials written by a start that could not listen (%v)", err)
	}
	s := startServe(t, data, nil)
	if s.key == "" {
		t.Fatal("the next start did not bootstrap (no initial-admin.txt)")
	}
	s.stop(t)
}
