package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/bolt"
)

// firstStart starts a fresh instance, logs in and deploys greet and a wait workflow
// (waitSeconds long) over HTTP.
func freshInstance(t *testing.T, waitSeconds string, extra ...string) (*server, *crashWorld, string) {
	t.Helper()
	return freshInstanceIn(t, filepath.Join(t.TempDir(), "data"), waitSeconds, extra...)
}

func freshInstanceIn(t *testing.T, data, waitSeconds string, extra ...string) (*server, *crashWorld, string) {
	t.Helper()
	return freshInstanceBin(t, binPath, data, waitSeconds, extra...)
}

// freshInstanceBin is freshInstanceIn with the binary bin (another build).
func freshInstanceBin(t *testing.T, bin, data, waitSeconds string, extra ...string) (*server, *crashWorld, string) {
	t.Helper()
	srv := startServerBin(t, bin, data, extra...)
	w := &crashWorld{}
	w.password = srv.stdoutMatch(passwordRE)
	w.key = srv.stdoutMatch(adminKeyRE)
	w.wsID = srv.stdoutMatch(defaultWSRE)
	w.login(t, srv.url)
	client := &http.Client{Timeout: 20 * time.Second}
	var err error
	if w.greet, err = w.importDeploy(client, srv.url, testenv.Workflow(t, "greet.json")); err != nil {
		t.Fatal(err)
	}
	waitDef := bytes.Replace(testenv.Workflow(t, "wait.json"), []byte(`"value": "30"`), []byte(`"value": "`+waitSeconds+`"`), 1)
	if w.wait, err = w.importDeploy(client, srv.url, waitDef); err != nil {
		t.Fatal(err)
	}
	return srv, w, data
}

func stopServer(t *testing.T, s *server) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v; stderr:\n%s", err, s.stderr.String())
	}
}

func TestStartSettlesJobsLeftByAKilledServer(t *testing.T) {
	srv, w, data := freshInstance(t, "1")
	stopServer(t, srv)

	// What a killed server leaves: a queued job it acknowledged and a run it had started.
	ctx := context.Background()
	st, err := bolt.Open(ctx, data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	queued := &store.Execution{ID: store.NewID(), WorkflowID: w.greet, WorkspaceID: w.wsID, Version: 1,
		Trigger: store.TriggerAPI, Status: store.StatusQueued, Level: "info", StartedAt: now, Input: json.RawMessage(`{"name":"later"}`)}
	running := &store.Execution{ID: store.NewID(), WorkflowID: w.wait, WorkspaceID: w.wsID, Version: 1,
		Trigger: store.TriggerAPI, Status: store.StatusRunning, Level: "info", StartedAt: now}
	for _, e := range []*store.Execution{queued, running} {
		if err := st.Logs().Put(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	srv = startServer(t, data)
	client := &http.Client{Timeout: 10 * time.Second}
	key := map[string]string{"X-API-Key": w.key}
	var out map[string]any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, out, _ = call(client, "GET", srv.url+"/api/jobs/"+queued.ID, key, nil)
		if out["status"] == "completed" {
			break
		}
	}
	if out["status"] != "completed" {
		t.Fatalf("queued job after restart: %v", out)
	}
	_, out, _ = call(client, "GET", srv.url+"/api/jobs/"+running.ID, key, nil)
	if out["status"] != "failed" || !strings.Contains(out["error"].(string), "interrupted") {
		t.Fatalf("run in flight at the crash: %v, want failed/interrupted", out)
	}
	code, out, _ := call(client, "POST", srv.url+"/api/workflows/"+w.wait+"/executions/"+running.ID+"/cancel", key, nil)
	if code != http.StatusConflict {
		t.Fatalf("cancel of an interrupted run: %d %v, want 409", code, out)
	}
	if !srv.waitLog("resumed_jobs=1") || !srv.waitLog("interrupted=1") {
		t.Errorf("start did not log what it settled:\n%s", srv.stderr.String())
	}
	stopServer(t, srv)
}

func TestDeletedDataDirIsReportedNotRecreated(t *testing.T) {
	srv, w, data := freshInstance(t, "1")
	client := &http.Client{Timeout: 10 * time.Second}
	key := map[string]string{"X-API-Key": w.key}
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	// The very next write is refused, not acknowledged into unlinked files.
	code, out, err := call(client, "POST", srv.url+"/api/workflows/"+w.greet+"/execute", key, map[string]any{"name": "x"})
	if err != nil || code != http.StatusServiceUnavailable || out["code"] != "storage_unavailable" {
		t.Fatalf("run after rm -rf: %d %v %v, want 503 storage_unavailable", code, out, err)
	}
	code, out, _ = call(client, "POST", srv.url+"/api/users/me/api-keys", w.session, map[string]any{"name": "after-rm"})
	if code != http.StatusServiceUnavailable {
		t.Fatalf("key creation after rm -rf: %d %v, want 503", code, out)
	}
	if code, out, _ = call(client, "GET", srv.url+"/readyz", nil, nil); code != http.StatusServiceUnavailable || out["code"] != "storage_unavailable" {
		t.Fatalf("readyz after rm -rf: %d %v", code, out)
	}
	if !srv.waitLog("storage unavailable") {
		t.Errorf("not logged:\n%s", srv.stderr.String())
	}
	// Shutdown cannot record last-used times either: it says so and exits non-zero.
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv.cmd.Wait(); err == nil {
		t.Error("shutdown with unsaved state exited 0")
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("the server recreated the deleted data directory (%v)", err)
	}
}

func TestCorruptLogsRefusedThenResetKeepsCore(t *testing.T) {
	srv, w, data := freshInstance(t, "1")
	stopServer(t, srv)
	path := filepath.Join(data, "logs.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2 * 4096; i < len(b); i++ {
		b[i] = byte(i*7 + 3)
	}
	os.WriteFile(path, b, 0o600)

	_, errOut, code := runCLI(t, "--data-dir", data, "serve", "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, path) || !strings.Contains(errOut, "steelengine check") || !strings.Contains(errOut, "--reset-logs") || strings.Contains(errOut, "goroutine ") {
		t.Fatalf("serve on a damaged logs.db: exit %d\n%s", code, errOut)
	}
	out, errOut, code := runCLI(t, "--data-dir", data, "check")
	if code != 1 || !strings.Contains(out+errOut, "DAMAGED") || !strings.Contains(out+errOut, "--reset-logs") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code = runCLI(t, "--data-dir", data, "check", "--reset-logs"); code != 0 || !strings.Contains(out, "moved to") {
		t.Fatalf("check --reset-logs: exit %d\n%s%s", code, out, errOut)
	}
	srv = startServer(t, data)
	client := &http.Client{Timeout: 10 * time.Second}
	code, resp, _ := call(client, "POST", srv.url+"/api/workflows/"+w.greet+"/execute", map[string]string{"X-API-Key": w.key}, map[string]any{"name": "x"})
	if code != 200 {
		t.Fatalf("run after reset (key and workflow kept in core.db): %d %v", code, resp)
	}
	stopServer(t, srv)
	if out, errOut, code := runCLI(t, "--data-dir", data, "check"); code != 0 {
		t.Fatalf("check after reset: %d %s%s", code, out, errOut)
	}
}

func TestShutdownDeadlineCancelsAndRecordsRuns(t *testing.T) {
	srv, w, data := freshInstance(t, "30", "--shutdown-timeout", "3s")
	_ = data
	type result struct {
		code int
		out  map[string]any
		err  error
	}
	res := make(chan result, 1)
	go func() {
		c := &http.Client{Timeout: 30 * time.Second}
		code, out, err := call(c, "POST", srv.url+"/api/workflows/"+w.wait+"/execute", map[string]string{"X-API-Key": w.key}, map[string]any{})
		res <- result{code, out, err}
	}()
	time.Sleep(500 * time.Millisecond) // the run is waiting in its wait block
	start := time.Now()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	err := srv.cmd.Wait()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("exit after the shutdown deadline: %v (want 0)\n%s", err, srv.stderr.String())
	}
	if took > 6*time.Second {
		t.Errorf("shutdown took %v with --shutdown-timeout 3s", took)
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("the client of the cancelled run got no answer: %v", r.err)
	}
	id, _ := r.out["executionId"].(string)
	if id == "" {
		t.Fatalf("answer to the cancelled run: %d %v", r.code, r.out)
	}
	srv = startServer(t, data)
	_, out, _ := call(&http.Client{Timeout: 10 * time.Second}, "GET", srv.url+"/api/jobs/"+id, map[string]string{"X-API-Key": w.key}, nil)
	if out["status"] != "cancelled" {
		t.Fatalf("run in flight at the deadline recorded as %v, want cancelled", out)
	}
	// The key's last use (buffered, flushed every 30 s) was written at shutdown although
	// the deadline had passed.
	w.login(t, srv.url)
	_, keys, _ := call(&http.Client{Timeout: 10 * time.Second}, "GET", srv.url+"/api/users/me/api-keys", w.session, nil)
	list, _ := keys["keys"].([]any)
	if len(list) == 0 || list[0].(map[string]any)["lastUsed"] == nil {
		t.Fatalf("last-used time lost at shutdown: %v", keys)
	}
	stopServer(t, srv)
}

func TestServerPrunesLogsByRetention(t *testing.T) {
	srv, w, data := freshInstance(t, "1")
	client := &http.Client{Timeout: 10 * time.Second}
	for range 5 {
		if code, out, _ := call(client, "POST", srv.url+"/api/workflows/"+w.greet+"/execute", map[string]string{"X-API-Key": w.key}, map[string]any{"name": "x"}); code != 200 {
			t.Fatalf("run: %d %v", code, out)
		}
	}
	stopServer(t, srv)
	srv = startServer(t, data, "--retention-count", "2", "--retention-age", "30d")
	var items []any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, out, _ := call(client, "GET", srv.url+"/api/v1/logs?workspaceId="+w.wsID+"&limit=100", map[string]string{"X-API-Key": w.key}, nil)
		items, _ = out["data"].([]any)
		if len(items) == 2 {
			break
		}
	}
	if len(items) != 2 {
		t.Fatalf("logs kept with --retention-count 2: %d", len(items))
	}
	if !srv.waitLog("pruned execution logs") {
		t.Errorf("pruning not logged:\n%s", srv.stderr.String())
	}
	stopServer(t, srv)
}

func TestUnauthenticatedSlowBodyIsCutAtOnce(t *testing.T) {
	srv, w, _ := freshInstance(t, "1")
	for _, tc := range []struct{ path, key string }{
		{"/api/workflows/" + w.greet + "/execute", "sk-steelengine-invalid"},
		{"/api/workflows/" + w.greet + "/execute", ""},
		{"/api/v2/workflows/" + w.greet + "/execute", "sk-steelengine-invalid"},
		{"/mcp", "sk-steelengine-invalid"},
	} {
		key := tc.key
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		hdr := "POST " + tc.path + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(srv.url, "http://") + "\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 100000\r\n"
		if key != "" {
			hdr += "X-API-Key: " + key + "\r\n"
		}
		conn.Write([]byte(hdr + "\r\n{\"a\":"))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s key %q: no answer: %v", tc.path, key, err)
		}
		if resp.StatusCode != 401 || !resp.Close {
			t.Fatalf("%s key %q: %d close=%v, want 401 and Connection: close", tc.path, key, resp.StatusCode, resp.Close)
		}
		resp.Body.Close()
		var buf [1]byte
		if _, err := conn.Read(buf[:]); err == nil {
			t.Fatalf("%s key %q: connection still open after 401", tc.path, key)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s key %q: connection held open after 401 (read timed out)", tc.path, key)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("%s key %q: connection closed after %v", tc.path, key, el)
		}
		conn.Close()
	}
	// The access log has the request line fields and never a key.
	log := srv.stderr.String()
	if !strings.Contains(log, `msg="http request" method=POST route="POST /api/workflows/{id}/execute" status=401`) {
		t.Errorf("access log line missing:\n%s", log)
	}
	if strings.Contains(log, w.key) || strings.Contains(log, "sk-steelengine-invalid") {
		t.Errorf("a key reached the log")
	}
	stopServer(t, srv)
}

func TestAccessLogNamesKeyIDNotKey(t *testing.T) {
	srv, w, _ := freshInstance(t, "1")
	code, out, _ := call(&http.Client{Timeout: 10 * time.Second}, "POST", srv.url+"/api/workflows/"+w.greet+"/execute", map[string]string{"X-API-Key": w.key}, map[string]any{"name": "secret-input"})
	if code != 200 {
		t.Fatalf("run: %d %v", code, out)
	}
	// MCP resolves keys itself; its line names the key id too.
	code, out, _ = call(&http.Client{Timeout: 10 * time.Second}, "POST", srv.url+"/mcp",
		map[string]string{"X-API-Key": w.key, "Accept": "application/json, text/event-stream"},
		map[string]any{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": map[string]any{
			"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "t", "version": "1"}}})
	if code != 200 {
		t.Fatalf("mcp initialize: %d %v", code, out)
	}
	stopServer(t, srv)
	mcpLogged := false
	for _, l := range strings.Split(srv.stderr.String(), "\n") {
		if strings.Contains(l, `msg="http request" method=POST route=/mcp status=200`) && strings.Contains(l, "key_id=") {
			mcpLogged = true
		}
	}
	if !mcpLogged {
		t.Errorf("no access log line with the key id for the MCP request:\n%s", srv.stderr.String())
	}
	var line string
	for _, l := range strings.Split(srv.stderr.String(), "\n") {
		if strings.Contains(l, `route="POST /api/workflows/{id}/execute" status=200`) {
			line = l
		}
	}
	if line == "" || !strings.Contains(line, "key_id=") || !strings.Contains(line, "duration_ms=") || !strings.Contains(line, "client=127.0.0.1") {
		t.Fatalf("access log line for the run = %q\n%s", line, srv.stderr.String())
	}
	if strings.Contains(srv.stderr.String(), w.key) || strings.Contains(srv.stderr.String(), "secret-input") {
		t.Fatal("the key or the body reached the log")
	}
}

func TestConnectionCapKeepsHealthChecks(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data, "--max-connections", "2")
	addr := strings.TrimPrefix(srv.url, "http://")
	// Two idle connections take the whole cap.
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	time.Sleep(300 * time.Millisecond)
	noKeepAlive := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	code, out, err := call(noKeepAlive, "GET", srv.url+"/api/v1/workflows", nil, nil)
	if err != nil || code != http.StatusServiceUnavailable || out["code"] != "too_many_connections" {
		t.Fatalf("request over the cap: %d %v %v, want 503 too_many_connections", code, out, err)
	}
	if code, out, err := call(noKeepAlive, "GET", srv.url+"/readyz", nil, nil); err != nil || code != 200 {
		t.Fatalf("health check over the cap: %d %v %v, want 200 from the reserve", code, out, err)
	}
	stopServer(t, srv)
}

func TestPruneCompactCheckCLI(t *testing.T) {
	srv, w, data := freshInstance(t, "1")
	client := &http.Client{Timeout: 10 * time.Second}
	for range 5 {
		if code, out, _ := call(client, "POST", srv.url+"/api/workflows/"+w.greet+"/execute", map[string]string{"X-API-Key": w.key}, map[string]any{"name": "x"}); code != 200 {
			t.Fatalf("run: %d %v", code, out)
		}
	}
	stopServer(t, srv)
	var pr map[string]int
	cliJSON(t, &pr, "--data-dir", data, "--json", "logs", "prune", "--retention-count", "2")
	if pr["deleted"] != 3 {
		t.Fatalf("prune --retention-count 2 deleted %v, want 3", pr)
	}
	var cr map[string][]bolt.CompactResult
	cliJSON(t, &cr, "--data-dir", data, "--json", "compact")
	if len(cr["files"]) != 2 || cr["files"][0].After == 0 {
		t.Fatalf("compact = %v", cr)
	}
	if out, errOut, code := runCLI(t, "--data-dir", data, "check"); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("check after compact: %d %s%s", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, "--data-dir", data, "logs", "prune"); code != 2 || !strings.Contains(errOut, "--retention") {
		t.Fatalf("prune without limits: %d %s", code, errOut)
	}
}

// TestFullDiskAnswers507AndRecovers fills a small tmpfs under a running server (root
// only: it mounts one; skipped elsewhere).
func TestFullDiskAnswers507AndRecovers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	srv, w, _ := freshInstanceIn(t, filepath.Join(mnt, "data"), "1")
	client := &http.Client{Timeout: 10 * time.Second}
	key := map[string]string{"X-API-Key": w.key}
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	got507 := false
	big := strings.Repeat("x", 200<<10)
	for i := 0; i < 300 && !got507; i++ {
		code, out, err := call(client, "POST", srv.url+"/api/workflows/"+w.greet+"/execute", key, map[string]any{"name": big})
		switch {
		case err != nil:
			t.Fatalf("run on a full disk: %v", err)
		case code == http.StatusInsufficientStorage:
			if out["code"] != "insufficient_storage" {
				t.Fatalf("507 body = %v", out)
			}
			got507 = true
		case code >= 500:
			t.Fatalf("run on a full disk: %d %v, want 507 insufficient_storage", code, out)
		}
	}
	if !got507 {
		t.Fatal("300 runs with 200 KiB inputs on a full disk never answered 507")
	}
	if code, out, _ := call(client, "GET", srv.url+"/readyz", nil, nil); code != http.StatusServiceUnavailable || out["code"] != "insufficient_storage" {
		t.Fatalf("readyz on a full disk: %d %v", code, out)
	}
	if !srv.waitLog("storage write failed") {
		t.Errorf("the failure was not logged:\n%s", srv.stderr.String())
	}

	os.Remove(filler)
	ready := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(200 * time.Millisecond) {
		code, _, _ := call(client, "GET", srv.url+"/readyz", nil, nil)
		ready = code == 200
	}
	if !ready {
		t.Fatalf("not ready again after space was freed:\n%s", srv.stderr.String())
	}
	if code, out, _ := call(client, "POST", srv.url+"/api/workflows/"+w.greet+"/execute", key, map[string]any{"name": "x"}); code != 200 {
		t.Fatalf("run after recovery: %d %v", code, out)
	}
	stopServer(t, srv)
}

// A sync run writes no start marker while it is short (its final record is its one
// write), but one that outlives core's markAfter (500 ms) has one: killed then, it is
// found at the next start and marked interrupted.
func TestLongSyncRunKilledIsMarkedInterrupted(t *testing.T) {
	srv, w, data := freshInstance(t, "30")
	client := &http.Client{Timeout: 40 * time.Second}
	go call(client, "POST", srv.url+"/api/workflows/"+w.wait+"/execute", map[string]string{"X-API-Key": w.key}, map[string]any{})
	time.Sleep(1500 * time.Millisecond)
	srv.cmd.Process.Signal(syscall.SIGKILL)
	srv.cmd.Wait()

	ctx := context.Background()
	st, err := bolt.Open(ctx, data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	open, err := st.Logs().Unfinished(ctx)
	st.Close()
	if err != nil || len(open) != 1 || open[0].WorkflowID != w.wait || open[0].Status != store.StatusRunning {
		t.Fatalf("unfinished after the kill = %+v, %v; want the wait run, running", open, err)
	}
	srv = startServer(t, data)
	_, out, _ := call(client, "GET", srv.url+"/api/workflows/"+w.wait+"/executions/"+open[0].ID, map[string]string{"X-API-Key": w.key}, nil)
	if msg, _ := out["error"].(string); out["status"] != "failed" || !strings.Contains(msg, "interrupted") {
		t.Fatalf("sync run in flight at the kill: %v, want failed/interrupted", out)
	}
	stopServer(t, srv)
}
