package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// Replicas on one PostgreSQL database (issue 17): real binaries, each with its own data
// directory, sharing the database and the master key.

var defaultOrgRE = regexp.MustCompile(`Default organization (\S+),`)

// cluster is replicas of one database.
type cluster struct {
	t        *testing.T
	url, key string // database URL, master key
	extra    []string
}

func newCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	return &cluster{t: t, url: pgtest.URL(t), key: base64.StdEncoding.EncodeToString(b), extra: extra}
}

// start runs one more replica with a data directory of its own.
func (c *cluster) start() *server {
	c.t.Helper()
	args := append([]string{"--database-url", c.url, "--master-key", c.key}, c.extra...)
	return startServer(c.t, filepath.Join(c.t.TempDir(), "data"), args...)
}

// first starts the first replica and seeds the crash world (greet, wait workflows) in it.
func (c *cluster) first(waitSeconds string) (*server, *crashWorld, string) {
	c.t.Helper()
	args := append([]string{"--database-url", c.url, "--master-key", c.key}, c.extra...)
	srv, w, _ := freshInstanceIn(c.t, filepath.Join(c.t.TempDir(), "data"), waitSeconds, args...)
	return srv, w, srv.stdoutMatch(defaultOrgRE)
}

// within polls cond every 10 ms for up to d and returns how long it took to hold.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// A key revoked through replica A is refused by replica B within a second (and by A at
// once), though B had it cached as valid.
func TestReplicasRevokedKeyRefusedEverywhereWithinASecond(t *testing.T) {
	cl := newCluster(t)
	a, w, _ := cl.first("1")
	b := cl.start()
	client := &http.Client{Timeout: 10 * time.Second}

	code, out, err := call(client, "POST", a.url+"/api/users/me/api-keys", w.session, map[string]any{"name": "replicated"})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create key on A: %d %v %v", code, out, err)
	}
	k := out["key"].(map[string]any)
	plain, id := k["key"].(string), k["id"].(string)
	hdr := map[string]string{"X-API-Key": plain}
	for _, s := range []*server{a, b} { // warm both replicas' caches
		if code, out, _ := call(client, "GET", s.url+"/api/v1/workflows/"+w.greet, hdr, nil); code != 200 {
			t.Fatalf("read with the new key on %s: %d %v", s.url, code, out)
		}
	}
	if code, out, _ := call(client, "DELETE", a.url+"/api/users/me/api-keys/"+id, w.session, nil); code/100 != 2 {
		t.Fatalf("revoke on A: %d %v", code, out)
	}
	if code, _, _ := call(client, "GET", a.url+"/api/v1/workflows/"+w.greet, hdr, nil); code != http.StatusUnauthorized {
		t.Fatalf("A still takes the key it revoked: %d", code)
	}
	took := within(t, time.Second, "B refuses the revoked key", func() bool {
		code, _, _ := call(client, "GET", b.url+"/api/v1/workflows/"+w.greet, hdr, nil)
		return code == http.StatusUnauthorized
	})
	t.Logf("revocation on A reached B in %v", took.Round(time.Millisecond))
}

// A workspace leaving its organization on replica A cuts the organization's key on B.
func TestReplicasWorkspaceLeavingOrgCutsOrgKeyElsewhere(t *testing.T) {
	cl := newCluster(t)
	a, w, orgID := cl.first("1")
	b := cl.start()
	client := &http.Client{Timeout: 10 * time.Second}

	code, out, err := call(client, "POST", a.url+"/api/organizations/"+orgID+"/api-keys", w.session, map[string]any{"name": "org",
		"grants": []map[string]any{{"workspaceId": w.wsID, "level": "write"}}})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create org key on A: %d %v %v", code, out, err)
	}
	hdr := map[string]string{"X-API-Key": out["key"].(map[string]any)["key"].(string)}
	if code, out, _ := call(client, "GET", b.url+"/api/v1/workflows/"+w.greet, hdr, nil); code != 200 {
		t.Fatalf("org key on B before the move: %d %v", code, out)
	}
	if code, out, _ := call(client, "PATCH", a.url+"/api/workspaces/"+w.wsID, w.session, map[string]any{"organizationId": nil}); code != 200 {
		t.Fatalf("workspace leaves its org on A: %d %v", code, out)
	}
	took := within(t, time.Second, "B cuts the org key", func() bool {
		code, _, _ := call(client, "GET", b.url+"/api/v1/workflows/"+w.greet, hdr, nil)
		return code == http.StatusForbidden || code == http.StatusNotFound || code == http.StatusUnauthorized
	})
	t.Logf("org move on A cut the key on B in %v", took.Round(time.Millisecond))
}

// A key's per-minute limit holds across two replicas (within 10%): each replica grants its
// share, the replicas counting each other through their heartbeats. Without sharing, two
// replicas would grant twice the limit.
func TestReplicasShareAKeyRateLimit(t *testing.T) {
	cl := newCluster(t)
	a, w, _ := cl.first("1")
	b := cl.start()
	client := &http.Client{Timeout: 10 * time.Second}
	const limit = 120
	code, out, err := call(client, "POST", a.url+"/api/users/me/api-keys", w.session, map[string]any{"name": "limited", "rateLimit": limit})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create key: %d %v %v", code, out, err)
	}
	hdr := map[string]string{"X-API-Key": out["key"].(map[string]any)["key"].(string)}
	for _, s := range []*server{a, b} {
		within(t, 15*time.Second, "both replicas count two", func() bool { return strings.Contains(s.stderr.String(), "count=2") })
	}
	ok, limited := 0, 0
	start := time.Now()
	for i := range 3 * limit {
		s := a
		if i%2 == 1 {
			s = b
		}
		code, out, err := call(client, "GET", s.url+"/api/v1/workflows/"+w.greet, hdr, nil)
		switch {
		case err != nil:
			t.Fatal(err)
		case code == http.StatusOK:
			ok++
		case code == http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("request %d: %d %v", i, code, out)
		}
	}
	t.Logf("%d requests in %v over two replicas: %d served, %d limited (limit %d/min)", 3*limit, time.Since(start).Round(time.Millisecond), ok, limited, limit)
	if ok < limit*9/10 || ok > limit*11/10 {
		t.Fatalf("served %d with a limit of %d/min across two replicas, want within 10%%", ok, limit)
	}
}

// An async job accepted by A and running there completes on B after A is killed with
// SIGKILL: B's queue rescues it once A's heartbeat lapses.
func TestReplicasJobOfKilledReplicaCompletesElsewhere(t *testing.T) {
	cl := newCluster(t, "--job-rescue-after", "3s")
	a, w, _ := cl.first("4")
	client := &http.Client{Timeout: 10 * time.Second}
	hdr := map[string]string{"X-API-Key": w.key, "X-Execution-Mode": "async"}
	code, out, err := call(client, "POST", a.url+"/api/workflows/"+w.wait+"/execute", hdr, map[string]any{})
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("async run on A: %d %v %v", code, out, err)
	}
	job := out["jobId"].(string)
	key := map[string]string{"X-API-Key": w.key}
	within(t, 10*time.Second, "A starts the job", func() bool {
		_, out, _ := call(client, "GET", a.url+"/api/jobs/"+job, key, nil)
		return out["status"] == "running" || out["status"] == "processing"
	})
	a.cmd.Process.Kill()
	a.cmd.Wait()
	killed := time.Now()

	b := cl.start()
	var last map[string]any
	deadline := time.Now().Add(120 * time.Second)
	for {
		_, last, _ = call(client, "GET", b.url+"/api/jobs/"+job, key, nil)
		if last["status"] == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B did not complete A's job within 2 minutes: %v\nB's log:\n%s", last, b.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("job of the killed replica completed on B %v after the kill", time.Since(killed).Round(100*time.Millisecond))
}

// A schedule due every minute fires once per minute with three replicas running.
func TestReplicasScheduleFiresOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a cron minute")
	}
	cl := newCluster(t)
	a, w, _ := cl.first("1")
	cl.start()
	cl.start()
	client := &http.Client{Timeout: 10 * time.Second}
	id, err := w.importDeploy(client, a.url, testenv.Workflow(t, "schedule-every-minute.json"))
	if err != nil {
		t.Fatal(err)
	}
	key := map[string]string{"X-API-Key": w.key}
	count := func() int {
		_, out, _ := call(client, "GET", a.url+"/api/v1/logs?workspaceId="+w.wsID+"&workflowIds="+id+"&triggers=schedule", key, nil)
		items, _ := out["data"].([]any)
		return len(items)
	}
	within(t, 80*time.Second, "the schedule fires", func() bool { return count() > 0 })
	time.Sleep(8 * time.Second) // more than a scheduler interval on every replica
	if n := count(); n != 1 {
		t.Fatalf("%d schedule runs in the minute, want 1", n)
	}
}

// Cancelling through replica B an async run that replica A is running reaches A: the run
// stops there and is recorded as cancelled.
func TestReplicasCancelReachesTheReplicaRunningTheJob(t *testing.T) {
	cl := newCluster(t)
	a, w, _ := cl.first("30")
	client := &http.Client{Timeout: 10 * time.Second}
	key := map[string]string{"X-API-Key": w.key}
	code, out, err := call(client, "POST", a.url+"/api/workflows/"+w.wait+"/execute", map[string]string{"X-API-Key": w.key, "X-Execution-Mode": "async"}, map[string]any{})
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("async run on A: %d %v %v", code, out, err)
	}
	job := out["jobId"].(string)
	within(t, 10*time.Second, "A starts the job", func() bool {
		_, out, _ := call(client, "GET", a.url+"/api/jobs/"+job, key, nil)
		return out["status"] == "processing"
	})
	b := cl.start() // started after the job, so A is the one running it
	start := time.Now()
	if code, out, _ := call(client, "POST", b.url+"/api/workflows/"+w.wait+"/executions/"+job+"/cancel", key, nil); code != http.StatusOK {
		t.Fatalf("cancel through B: %d %v", code, out)
	}
	var status string
	took := within(t, 10*time.Second, "the run is recorded cancelled", func() bool {
		_, out, _ := call(client, "GET", b.url+"/api/workflows/"+w.wait+"/executions/"+job, key, nil)
		status, _ = out["status"].(string)
		return status == "cancelled"
	})
	// B only asked: the cancelled record is A's, written when its run stopped.
	t.Logf("cancel through B stopped the run on A in %v (%v after the request)", took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// runsOf lists workflow wfID's executions (id → status) through replica url.
func runsOf(t *testing.T, client *http.Client, url string, w *crashWorld, wfID string) map[string]string {
	t.Helper()
	_, out, err := call(client, "GET", url+"/api/v1/logs?workspaceId="+w.wsID+"&workflowIds="+wfID, map[string]string{"X-API-Key": w.key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]string{}
	items, _ := out["data"].([]any)
	for _, it := range items {
		m := it.(map[string]any)
		runs[m["executionId"].(string)], _ = m["status"].(string)
	}
	return runs
}

// A sync run on a replica killed with SIGKILL is marked interrupted by the others once
// its heartbeat lapses (three beats), while a sync run on a replica that lives is left
// alone; neither is run again.
func TestReplicasSyncRunOfKilledReplicaIsInterrupted(t *testing.T) {
	cl := newCluster(t, "--replica-heartbeat", "300ms")
	a, w, _ := cl.first("30")
	b, c := cl.start(), cl.start()
	client := &http.Client{Timeout: 60 * time.Second}
	hdr := map[string]string{"X-API-Key": w.key}
	for _, s := range []*server{a, c} {
		go call(client, "POST", s.url+"/api/workflows/"+w.wait+"/execute", hdr, map[string]any{})
	}
	var onA, onC string
	within(t, 10*time.Second, "both runs are recorded running", func() bool {
		n := 0
		for _, st := range runsOf(t, client, b.url, w, w.wait) {
			if st == "running" {
				n++
			}
		}
		return n == 2
	})
	// The run that ends after the kill is A's; the other is C's.
	before := runsOf(t, client, b.url, w, w.wait)
	a.cmd.Process.Kill()
	a.cmd.Wait()
	took := within(t, 20*time.Second, "A's run is marked interrupted", func() bool {
		for id, st := range runsOf(t, client, b.url, w, w.wait) {
			if st == "failed" {
				onA = id
			}
		}
		return onA != ""
	})
	for id := range before {
		if id != onA {
			onC = id
		}
	}
	_, out, _ := call(client, "GET", b.url+"/api/workflows/"+w.wait+"/executions/"+onA, hdr, nil)
	if msg, _ := out["error"].(string); !strings.Contains(msg, "interrupted") {
		t.Fatalf("A's run: %v", out)
	}
	t.Logf("the killed replica's sync run was marked interrupted %v after the kill (beat 300 ms)", took.Round(10*time.Millisecond))
	time.Sleep(3 * time.Second) // several more settles on B and C
	if st := runsOf(t, client, b.url, w, w.wait)[onC]; st != "running" {
		t.Fatalf("the run on the live replica C is %q, want running", st)
	}
}

// A resume in flight on a replica killed with SIGKILL is marked interrupted by another,
// its pause state dropped: a second answer is refused as not resumable, and the run never
// continues twice.
func TestReplicasResumeCutOffByKilledReplica(t *testing.T) {
	cl := newCluster(t, "--replica-heartbeat", "300ms")
	a, w, _ := cl.first("1")
	b := cl.start()
	client := &http.Client{Timeout: 60 * time.Second}
	hdr := map[string]string{"X-API-Key": w.key}
	// approval.json with a 30 s wait between the approval and the decision.
	var def map[string]any
	if err := json.Unmarshal(testenv.Workflow(t, "approval.json"), &def); err != nil {
		t.Fatal(err)
	}
	st := def["state"].(map[string]any)
	st["blocks"].(map[string]any)["w"] = map[string]any{"id": "w", "type": "wait", "name": "Wait", "position": map[string]any{"x": 0, "y": 0},
		"enabled": true, "outputs": map[string]any{}, "subBlocks": map[string]any{
			"timeValue": map[string]any{"id": "timeValue", "type": "short-input", "value": "30"},
			"timeUnit":  map[string]any{"id": "timeUnit", "type": "short-input", "value": "seconds"}}}
	st["edges"] = []any{
		map[string]any{"id": "e1", "source": "start", "target": "quote", "sourceHandle": "source", "targetHandle": "target"},
		map[string]any{"id": "e2", "source": "quote", "target": "approval", "sourceHandle": "source", "targetHandle": "target"},
		map[string]any{"id": "e3", "source": "approval", "target": "w", "sourceHandle": "source", "targetHandle": "target"},
		map[string]any{"id": "e4", "source": "w", "target": "decide", "sourceHandle": "source", "targetHandle": "target"},
	}
	raw, _ := json.Marshal(def)
	wfID, err := w.importDeploy(client, a.url, raw)
	if err != nil {
		t.Fatal(err)
	}
	code, out, err := call(client, "POST", a.url+"/api/workflows/"+wfID+"/execute", hdr, map[string]any{"amount": 4})
	if err != nil || code != 200 || out["status"] != "paused" {
		t.Fatalf("execute: %d %v %v", code, out, err)
	}
	execID := out["executionId"].(string)
	path := "/api/resume/" + wfID + "/" + execID + "/approval"
	go call(client, "POST", a.url+path, hdr, map[string]any{"input": map[string]any{"approved": true, "comment": "x"}})
	status := func() map[string]any {
		_, out, _ := call(client, "GET", b.url+"/api/workflows/"+wfID+"/executions/"+execID, hdr, nil)
		return out
	}
	within(t, 10*time.Second, "the resume runs on A", func() bool { return status()["status"] == "running" })
	a.cmd.Process.Kill()
	a.cmd.Wait()
	took := within(t, 20*time.Second, "the cut-off resume is marked interrupted", func() bool { return status()["status"] == "failed" })
	if msg, _ := status()["error"].(string); !strings.Contains(msg, "interrupted") {
		t.Fatalf("after the kill: %v", status())
	}
	t.Logf("the resume cut off by the kill was marked interrupted %v later (beat 300 ms)", took.Round(10*time.Millisecond))
	if code, out, _ := call(client, "POST", b.url+path, hdr, map[string]any{"input": map[string]any{"approved": true}}); code != http.StatusConflict {
		t.Fatalf("answer after the cut-off resume: %d %v, want 409", code, out)
	}
}

// Cancelling through replica B a sync run that replica A runs reaches A: the run stops
// there, is recorded cancelled, and the caller waiting on A gets the cancelled answer.
func TestReplicasCancelReachesASyncRunElsewhere(t *testing.T) {
	cl := newCluster(t, "--replica-heartbeat", "300ms")
	a, w, _ := cl.first("30")
	b := cl.start()
	client := &http.Client{Timeout: 60 * time.Second}
	hdr := map[string]string{"X-API-Key": w.key}
	answer := make(chan map[string]any, 1)
	go func() {
		_, out, _ := call(client, "POST", a.url+"/api/workflows/"+w.wait+"/execute", hdr, map[string]any{})
		answer <- out
	}()
	var id string
	within(t, 10*time.Second, "A's run is recorded running and in A's heartbeat", func() bool {
		for eid, st := range runsOf(t, client, b.url, w, w.wait) {
			if st == "running" {
				id = eid
			}
		}
		return id != ""
	})
	time.Sleep(700 * time.Millisecond) // two beats: A lists it
	start := time.Now()
	if code, out, _ := call(client, "POST", b.url+"/api/workflows/"+w.wait+"/executions/"+id+"/cancel", hdr, nil); code != http.StatusOK {
		t.Fatalf("cancel through B: %d %v", code, out)
	}
	select {
	case out := <-answer:
		t.Logf("the sync caller on A got its answer %v after the cancel through B", time.Since(start).Round(time.Millisecond))
		if out["success"] != false {
			t.Fatalf("sync answer after cancel: %v", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run on A did not stop")
	}
	within(t, 5*time.Second, "the run is recorded cancelled", func() bool {
		return runsOf(t, client, b.url, w, w.wait)[id] == "cancelled"
	})
}

// mcpPost sends one MCP JSON-RPC message over HTTP with a key and, when set, a session.
func mcpPost(t *testing.T, url, key, sid, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	req.Header.Set("X-API-Key", key)
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// An MCP session opened on replica A is good on replica B (a load balancer sends the
// next request anywhere), for its own key only.
func TestReplicasShareMCPSessions(t *testing.T) {
	cl := newCluster(t)
	a, w, _ := cl.first("1")
	b := cl.start()
	resp, body := mcpPost(t, a.url, w.key, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize on A: %d %q %s", resp.StatusCode, sid, body)
	}
	mcpPost(t, b.url, w.key, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	resp, body = mcpPost(t, b.url, w.key, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"tools"`) {
		t.Fatalf("tools/list on B with A's session: %d %s", resp.StatusCode, body)
	}
	// Another key presenting the id finds nothing on either replica.
	client := &http.Client{Timeout: 10 * time.Second}
	code, out, err := call(client, "POST", a.url+"/api/users/me/api-keys", w.session, map[string]any{"name": "other"})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("second key: %d %v %v", code, out, err)
	}
	other := out["key"].(map[string]any)["key"].(string)
	for _, s := range []*server{a, b} {
		if resp, body := mcpPost(t, s.url, other, sid, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("another key with the session: %d %s", resp.StatusCode, body)
		}
	}
}

// An MCP client connecting through OAuth behind a load balancer: the user consents on
// replica A, the client's token request lands on B, which must know the code A issued.
// Presenting the code again, on A, revokes the grant B created: its tokens stop working
// on both replicas.
func TestReplicasShareOAuthCodes(t *testing.T) {
	const public = "http://lb.example"
	cl := newCluster(t, "--public-url", public)
	a, w, _ := cl.first("1")
	b := cl.start()
	// viaLB sends a request to a replica as the load balancer at public does.
	viaLB := func(method, replica, path string, hdr map[string]string, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, replica+path, strings.NewReader(body))
		req.Host = "lb.example"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, string(raw)
	}
	mcpInit := func(replica, token string) int {
		t.Helper()
		resp, _ := viaLB("POST", replica, "/mcp", map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
			"Mcp-Protocol-Version": "2025-11-25", "Authorization": "Bearer " + token},
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
		return resp.StatusCode
	}

	const redirect = "http://127.0.0.1:9/callback"
	reg, _ := json.Marshal(map[string]any{"client_name": "Replicated App", "redirect_uris": []string{redirect}, "token_endpoint_auth_method": "none"})
	resp, body := viaLB("POST", b.url, "/oauth/register", map[string]string{"Content-Type": "application/json"}, string(reg))
	var m map[string]any
	json.Unmarshal([]byte(body), &m)
	clientID, _ := m["client_id"].(string)
	if resp.StatusCode != http.StatusCreated || clientID == "" {
		t.Fatalf("register on B: %d %s", resp.StatusCode, body)
	}

	verifier := "a-perfectly-random-code-verifier-of-enough-length-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	resource := public + "/mcp"
	// The consent form as the browser posts it on A (hidden authorization request
	// fields, the user's choice, the CSRF token of the session).
	resp, body = viaLB("POST", a.url, "/oauth/authorize", map[string]string{"Cookie": w.session["Cookie"]}, url.Values{
		"csrf": {w.session["X-CSRF-Token"]}, "response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"state": {"xyz"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"resource": {resource}, "workspace": {w.wsID}, "workflow_scope": {"all"}, "level": {"write"}, "decision": {"allow"}}.Encode())
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if resp.StatusCode != http.StatusSeeOther || code == "" {
		t.Fatalf("consent on A: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}

	exchange := func(replica string) (int, map[string]any) {
		t.Helper()
		resp, body := viaLB("POST", replica, "/oauth/token", nil, url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID},
			"code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}, "resource": {resource}}.Encode())
		var out map[string]any
		json.Unmarshal([]byte(body), &out)
		return resp.StatusCode, out
	}
	st, tok := exchange(b.url)
	access, _ := tok["access_token"].(string)
	if st != http.StatusOK || access == "" {
		t.Fatalf("token request on B with A's code: %d %v", st, tok)
	}
	for _, s := range []*server{a, b} {
		if st := mcpInit(s.url, access); st != http.StatusOK {
			t.Fatalf("access token on %s: %d", s.url, st)
		}
	}
	if st, out := exchange(a.url); st != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("the code again on A: %d %v; want 400 invalid_grant", st, out)
	}
	for _, s := range []*server{a, b} {
		within(t, time.Second, "the replay revokes the grant on "+s.url, func() bool { return mcpInit(s.url, access) == http.StatusUnauthorized })
	}
}
