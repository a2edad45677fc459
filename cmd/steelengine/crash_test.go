package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
)

// server is one steelengine serve process of a process-level test.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
}

// startServer runs `serve` on data (extra: serve flags) and waits until it listens.
func startServer(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	return startServerBin(t, binPath, data, extra...)
}

// startServerBin is startServer with another steelengine binary (the load test's
// comparison with an older build).
func startServerBin(t *testing.T, bin, data string, extra ...string) *server {
	t.Helper()
	args := append([]string{"--data-dir", data, "--rate-limit", "1000000", "serve", "--addr", "127.0.0.1:0"}, extra...)
	s := launch(t, bin, nil, args...)
	s.waitListening()
	return s
}

// launch starts bin with args without waiting for it to listen, so several replicas may
// start together. env, when not nil, is the process's whole environment. The process is
// killed when the test ends.
func launch(t *testing.T, bin string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	s := &server{t: t, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return s
}

// waitListening waits until the server logs the address it listens on and keeps it in url.
func (s *server) waitListening() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listenRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[1]
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("server did not listen; stderr:\n%s", s.stderr.String())
}

// waitLog waits until the server's log contains want (its output is copied
// asynchronously) and reports whether it did.
func (s *server) waitLog(want string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(s.stderr.String(), want) {
			return true
		}
	}
	return false
}

// stdoutMatch waits until the server's standard output matches re (it is written on
// another pipe than the log, so "listening" in the log does not mean it has arrived)
// and returns the first submatch.
func (s *server) stdoutMatch(re *regexp.Regexp) string {
	s.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(s.stdout.String()); m != nil {
			return m[1]
		}
	}
	s.t.Fatalf("server output never matched %s; stdout:\n%s", re, s.stdout.String())
	return ""
}

// call sends a JSON request and decodes a JSON answer.
func call(client *http.Client, method, url string, hdr map[string]string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

var (
	adminKeyRE  = regexp.MustCompile(`Admin API key \(shown once\): (\S+)`)
	defaultWSRE = regexp.MustCompile(`default workspace (\S+)`)
)

// crashWorld is what the crash test knows about its instance.
type crashWorld struct {
	password, key, wsID string
	greet, wait         string // workflow ids
	session             map[string]string
}

func (w *crashWorld) login(t *testing.T, url string) {
	t.Helper()
	w.loginAs(t, url, "admin@localhost")
}

func (w *crashWorld) loginAs(t *testing.T, url, email string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": w.password})
	resp, err := http.Post(url+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %v", resp.StatusCode, out)
	}
	var cookie string
	for _, c := range resp.Cookies() {
		cookie = c.Name + "=" + c.Value
	}
	w.session = map[string]string{"Cookie": cookie, "X-CSRF-Token": out["csrfToken"].(string)}
}

func (w *crashWorld) importDeploy(client *http.Client, url string, def json.RawMessage) (string, error) {
	code, out, err := call(client, "POST", url+"/api/v1/workflows/import", w.session, map[string]any{"workspaceId": w.wsID, "workflow": def})
	if err != nil || code != http.StatusCreated {
		return "", fmt.Errorf("import: %d %v %v", code, out, err)
	}
	id := out["data"].(map[string]any)["id"].(string)
	code, out, err = call(client, "POST", url+"/api/v1/workflows/"+id+"/deploy", w.session, map[string]any{})
	if err != nil || code/100 != 2 {
		return id, fmt.Errorf("deploy %s: %d %v %v", id, code, out, err)
	}
	return id, nil
}

// acked is every write the server acknowledged.
type acked struct {
	mu      sync.Mutex
	syncs   []string // execution ids
	jobs    []string // async job ids
	keys    []string // plaintext keys
	deploys []string // workflow ids imported and deployed
}

func (a *acked) add(list *[]string, v string) {
	a.mu.Lock()
	*list = append(*list, v)
	a.mu.Unlock()
}

func (a *acked) total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.syncs) + len(a.jobs) + len(a.keys) + len(a.deploys)
}

// TestCrashRecovery kills the real server with SIGKILL at random moments under mixed
// load (sync and async runs, key creation through a dashboard session, import and
// deploy) and checks after each restart that every acknowledged write is there, no
// job stays pending, no sandbox worker outlives its server and both files pass
// `steelengine check`. STEELENGINE_CRASH_CYCLES sets the number of cycles (default 5;
// the documented long run is 50).
func TestCrashRecovery(t *testing.T) {
	cycles := 5
	if v := os.Getenv("STEELENGINE_CRASH_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STEELENGINE_CRASH_CYCLES=%q: want a positive number", v)
		}
		cycles = n
	}
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data)
	w := &crashWorld{password: srv.stdoutMatch(passwordRE), key: srv.stdoutMatch(adminKeyRE), wsID: srv.stdoutMatch(defaultWSRE)}
	w.login(t, srv.url)
	client := &http.Client{Timeout: 20 * time.Second}
	greetDef := json.RawMessage(testenv.Workflow(t, "greet.json"))
	waitDef := json.RawMessage(bytes.Replace(testenv.Workflow(t, "wait.json"), []byte(`"value": "30"`), []byte(`"value": "1"`), 1))
	var err error
	if w.greet, err = w.importDeploy(client, srv.url, greetDef); err != nil {
		t.Fatal(err)
	}
	if w.wait, err = w.importDeploy(client, srv.url, waitDef); err != nil {
		t.Fatal(err)
	}

	ack := &acked{}
	orphans := 0
	for cycle := range cycles {
		if cycle > 0 {
			srv = startServer(t, data)
			w.login(t, srv.url)
		}
		url, keyHdr := srv.url, map[string]string{"X-API-Key": w.key}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &http.Client{Timeout: 20 * time.Second}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					switch (g + i) % 6 {
					case 0, 1:
						code, out, err := call(c, "POST", url+"/api/workflows/"+w.greet+"/execute", keyHdr, map[string]any{"name": "crash"})
						if err == nil && code == 200 && out["executionId"] != nil {
							ack.add(&ack.syncs, out["executionId"].(string))
						}
					case 2, 3:
						hdr := map[string]string{"X-API-Key": w.key, "X-Execution-Mode": "async"}
						wf := w.greet
						if i%2 == 0 {
							wf = w.wait
						}
						code, out, err := call(c, "POST", url+"/api/workflows/"+wf+"/execute", hdr, map[string]any{})
						if err == nil && code == http.StatusAccepted && out["jobId"] != nil {
							ack.add(&ack.jobs, out["jobId"].(string))
						}
					case 4:
						code, out, err := call(c, "POST", url+"/api/users/me/api-keys", w.session, map[string]any{"name": fmt.Sprintf("crash-%d-%d-%d", cycle, g, i)})
						if err == nil && code == http.StatusCreated {
							ack.add(&ack.keys, out["key"].(map[string]any)["key"].(string))
						}
					case 5:
						if id, err := w.importDeploy(c, url, greetDef); err == nil {
							ack.add(&ack.deploys, id)
						}
					}
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		workers := childPIDs(srv.cmd.Process.Pid)
		srv.cmd.Process.Signal(syscall.SIGKILL)
		srv.cmd.Wait()
		close(stop)
		wg.Wait()
		orphans += waitGone(workers, 5*time.Second)
	}

	// Final start: everything acknowledged is there, queued jobs run, nothing pending.
	srv = startServer(t, data)
	w.login(t, srv.url)
	keyHdr := map[string]string{"X-API-Key": w.key}
	found := 0
	for _, id := range ack.syncs {
		code, out, err := call(client, "GET", srv.url+"/api/workflows/"+w.greet+"/executions/"+id, keyHdr, nil)
		if err == nil && code == 200 {
			found++
		} else {
			t.Errorf("acknowledged sync run %s: %d %v %v", id, code, out, err)
		}
	}
	pending := 0
	for _, id := range ack.jobs {
		status := ""
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			code, out, err := call(client, "GET", srv.url+"/api/jobs/"+id, keyHdr, nil)
			if err != nil || code != 200 {
				t.Errorf("acknowledged job %s: %d %v %v", id, code, out, err)
				break
			}
			status, _ = out["status"].(string)
			if status == "completed" || status == "failed" || status == "cancelled" {
				break
			}
		}
		switch status {
		case "completed", "failed", "cancelled":
			found++
		case "":
		default:
			pending++
			t.Errorf("job %s still %s after restart", id, status)
		}
	}
	for _, k := range ack.keys {
		code, _, err := call(client, "GET", srv.url+"/api/v1/workflows?workspaceId="+w.wsID, map[string]string{"X-API-Key": k}, nil)
		if err == nil && code == 200 {
			found++
		} else {
			t.Errorf("acknowledged key %s…: %d %v", k[:20], code, err)
		}
	}
	for _, id := range ack.deploys {
		code, out, err := call(client, "GET", srv.url+"/api/v1/workflows/"+id, keyHdr, nil)
		data, _ := out["data"].(map[string]any)
		if err == nil && code == 200 && data["isDeployed"] == true {
			found++
		} else {
			t.Errorf("acknowledged deploy %s: %d %v %v", id, code, out, err)
		}
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv.cmd.Wait(); err != nil {
		t.Errorf("final SIGTERM: %v; stderr:\n%s", err, srv.stderr.String())
	}
	checkOut, checkErr, code := runCLI(t, "--data-dir", data, "check")
	check := "ok"
	if code != 0 {
		check = "FAILED"
		t.Errorf("steelengine check: exit %d\n%s%s", code, checkOut, checkErr)
	}
	if orphans > 0 {
		t.Errorf("%d sandbox workers outlived their killed server", orphans)
	}
	n := ack.total()
	t.Logf("%d cycles: acknowledged %d, found %d, pending %d, orphans %d, check %s (sync %d, async %d, keys %d, deploys %d)",
		cycles, n, found, pending, orphans, check, len(ack.syncs), len(ack.jobs), len(ack.keys), len(ack.deploys))
	if n == 0 {
		t.Fatal("no write was acknowledged: the load did not run")
	}
}

// childPIDs lists the processes whose parent is pid (sandbox workers).
func childPIDs(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := procPPID(child); ok && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

func procPPID(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || f[0] == "Z" {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// waitGone waits for pids to exit and returns how many are still alive.
func waitGone(pids []int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		alive := 0
		for _, p := range pids {
			if _, ok := procPPID(p); ok {
				alive++
			}
		}
		if alive == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(50 * time.Millisecond)
	}
}
