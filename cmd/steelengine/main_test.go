package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store/postgres"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// binPath is the steelengine binary built once for the process-level tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "steelengine-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "steelengine")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build steelengine: %v\n%s", err, out)
		os.Exit(1)
	}
	pgtest.Template(postgres.Migrate) // the databases pgtest gives come migrated
	code := pgtest.Main(m)            // the replica tests' throwaway PostgreSQL stops with the tests
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs the binary and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCLIEnv(t, nil, args...)
}

// runCLIEnv is runCLI with extra environment variables.
func runCLIEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return runCLIIn(t, "", env, args...)
}

// runCLIIn is runCLIEnv in working directory dir ("" for the test's).
func runCLIIn(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// newDataDir is an empty data directory: admin commands refuse one that does not exist.
func newDataDir(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	return data
}

func cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, errOut, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v: decode %q: %v", args, out, err)
	}
}

var listenRE = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
var passwordRE = regexp.MustCompile(`with password (\S+)`)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeLifecycle(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(binPath, "--data-dir", data, "serve", "--addr", "127.0.0.1:0")
	var stdout syncBuffer
	cmd.Stdout = &stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	url := waitListen(t, stderr)

	if code, body := get(t, url+"/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz = %d %s", code, body)
	}
	if code, _ := get(t, url+"/readyz"); code != 200 {
		t.Errorf("readyz = %d", code)
	}
	if m := passwordRE.FindStringSubmatch(stdout.String()); m == nil || len(m[1]) < 16 {
		t.Errorf("first start should print a one-time admin password; stdout: %q", stdout.String())
	}

	// A second server on the same directory fails fast with the lock message.
	start := time.Now()
	_, errOut, code := runCLI(t, "--data-dir", data, "serve", "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "in use by another steelengine process") || !strings.Contains(errOut, data) {
		t.Errorf("second serve: exit %d, stderr %q", code, errOut)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("second serve took %v to fail", el)
	}
	// An admin command goes through the operator socket instead, as the operator.
	var live []map[string]any
	cliJSON(t, &live, "--data-dir", data, "users", "list", "--json")
	if len(live) != 1 || live[0]["email"] != "admin@localhost" {
		t.Errorf("users list while serving = %v", live)
	}
	// The first start's credentials are also in a 0600 file, and the output says where.
	creds := filepath.Join(data, "initial-admin.txt")
	st, err := os.Stat(creds)
	if err != nil || st.Mode().Perm() != 0o600 || !strings.Contains(stdout.String(), creds) {
		t.Errorf("initial-admin.txt: %v %v; stdout %q", st, err, stdout.String())
	}
	if b, _ := os.ReadFile(creds); passwordRE.FindStringSubmatch(stdout.String()) == nil ||
		!strings.Contains(string(b), passwordRE.FindStringSubmatch(stdout.String())[1]) {
		t.Errorf("initial-admin.txt lacks the password: %q", b)
	}
	if st, err := os.Stat(filepath.Join(data, "operator.sock")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("operator socket: %v %v", st, err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM exit: %v", err)
	}

	// Restart keeps data, and the password is not printed again.
	var users []map[string]any
	cliJSON(t, &users, "--data-dir", data, "--json", "users", "list")
	if len(users) != 1 || users[0]["email"] != "admin@localhost" || users[0]["passwordHash"] != nil {
		t.Fatalf("users after restart = %v", users)
	}
	cmd2 := exec.Command(binPath, "--data-dir", data, "serve", "--addr", "127.0.0.1:0")
	var stdout2 syncBuffer
	cmd2.Stdout = &stdout2
	stderr2, _ := cmd2.StderrPipe()
	if err := cmd2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd2.Process.Kill() })
	waitListen(t, stderr2)
	cmd2.Process.Signal(syscall.SIGTERM)
	if err := cmd2.Wait(); err != nil {
		t.Fatalf("second SIGTERM exit: %v", err)
	}
	if strings.Contains(stdout2.String(), "password") {
		t.Errorf("restart printed a password again: %q", stdout2.String())
	}
}

func waitListen(t *testing.T, stderr io.Reader) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(20 * time.Second):
		t.Fatal("server did not log its listen URL")
		return ""
	}
}

func TestAdminCommandsRoundTripJSON(t *testing.T) {
	data := newDataDir(t)
	d := []string{"--data-dir", data, "--json"}
	var u map[string]any
	cliJSON(t, &u, append(d, "users", "create", "--email", "Ann@Example.com", "--name", "Ann")...)
	if u["id"] == "" || u["password"] == "" || u["passwordHash"] != nil {
		t.Fatalf("created user = %v", u)
	}
	cliJSON(t, &map[string]any{}, append(d, "users", "create", "--email", "bob@example.com", "--password", "pw-123456")...)
	var org map[string]any
	cliJSON(t, &org, append(d, "orgs", "create", "--name", "Acme", "--owner", "ann@example.com")...)
	cliJSON(t, &map[string]any{}, append(d, "orgs", "add-member", "--org", "Acme", "--email", "bob@example.com", "--role", "admin")...)
	var ws map[string]any
	cliJSON(t, &ws, append(d, "workspaces", "create", "--name", "Ops", "--owner", "ann@example.com", "--org", "Acme")...)
	cliJSON(t, &map[string]any{}, append(d, "workspaces", "add-member", "--workspace", "Ops", "--email", "bob@example.com", "--permission", "write")...)
	cliJSON(t, &map[string]any{}, append(d, "workspaces", "set", "--workspace", ws["id"].(string), "--allow-personal-keys=false", "--no-org")...)

	var users []map[string]any
	cliJSON(t, &users, append(d, "users", "list")...)
	if len(users) != 2 || users[0]["email"] != "Ann@Example.com" {
		t.Errorf("users list = %v", users)
	}
	var orgs []map[string]any
	cliJSON(t, &orgs, append(d, "orgs", "list")...)
	if len(orgs) != 1 || orgs[0]["id"] != org["id"] || len(orgs[0]["members"].([]any)) != 2 {
		t.Errorf("orgs list = %v", orgs)
	}
	var wss []map[string]any
	cliJSON(t, &wss, append(d, "workspaces", "list")...)
	if len(wss) != 1 || wss[0]["id"] != ws["id"] || wss[0]["allowPersonalApiKeys"] != false || wss[0]["organizationId"] != nil {
		t.Errorf("workspaces list = %v", wss)
	}
	if got := len(wss[0]["members"].([]any)); got != 2 {
		t.Errorf("workspace members = %d, want 2", got)
	}
}

func TestBadFlagsExit2AndWriteNothing(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"workspaces", "add-member", "--workspace", "x", "--email", "a@b.c", "--permission", "owner"}, "--permission"},
		{[]string{"orgs", "add-member", "--org", "x", "--email", "a@b.c", "--role", "boss"}, "--role"},
		{[]string{"workspaces", "set", "--workspace", "x", "--allow-personal-keys", "maybe"}, "--allow-personal-keys"},
		{[]string{"--log-format", "xml", "version"}, "--log-format"},
		{[]string{"users", "create", "--bogus"}, "bogus"},
		{[]string{"serve", "--addr", "nonsense"}, "--addr"},
	}
	for _, tc := range cases {
		_, errOut, code := runCLI(t, append([]string{"--data-dir", data}, tc.args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, errOut)
		}
		if !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: stderr %q should name %s", tc.args, errOut, tc.want)
		}
		if lines := strings.Count(strings.TrimSpace(errOut), "\n"); lines > 0 {
			t.Errorf("%v: error should be one line, got %q", tc.args, errOut)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("bad flags created the data directory (err %v)", err)
	}
}

func TestVersion(t *testing.T) {
	var v map[string]any
	cliJSON(t, &v, "--json", "version")
	if v["version"] == "" || !strings.HasPrefix(v["go"].(string), "go") {
		t.Errorf("version = %v", v)
	}
}

// syncBuffer is written by exec's copying goroutine while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
