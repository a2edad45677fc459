package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/bolt"
	"github.com/steelengine/steelengine/store/postgres"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// Commands that work on bbolt files refuse a PostgreSQL store by name instead of opening
// the data directory's (absent) files.
func TestBoltOnlyCommandsRefuseDatabaseURL(t *testing.T) {
	data := newDataDir(t)
	for _, args := range [][]string{
		{"compact"},
		{"check"},
		{"restore", "archive.tar"},
	} {
		t.Run(args[0], func(t *testing.T) {
			_, stderr, code := runCLIEnv(t, []string{"STEELENGINE_DATABASE_URL=postgres://nobody@127.0.0.1:1/none"},
				append([]string{"--data-dir", data}, args...)...)
			if code != 2 || !strings.Contains(stderr, "bbolt files") {
				t.Fatalf("%v with a database URL: exit %d, stderr %q; want 2 naming the bbolt files", args, code, stderr)
			}
		})
	}
}

// migrate-store moves a bbolt data directory into an empty PostgreSQL database: a dry run
// counts and writes nothing, the copy verifies its counts, and a replica on the database
// with the same master key answers the same API key, resumes a run paused for approval,
// accepts a pending invitation, lists the key audit trail and keeps the schedule's fire
// state; a second copy is refused.
func TestMigrateStoreKeepsKeysWorking(t *testing.T) {
	srv, w, data := freshInstance(t, "1")
	client := &http.Client{Timeout: 20 * time.Second}
	key := map[string]string{"X-API-Key": w.key}
	if code, out, _ := call(client, "POST", srv.url+"/api/workflows/"+w.greet+"/execute", key, map[string]any{"name": "before"}); code != 200 {
		t.Fatalf("run before the move: %d %v", code, out)
	}
	code, out, _ := call(client, "POST", srv.url+"/api/users/me/api-keys", w.session, map[string]any{"name": "revoked-before"})
	if code != http.StatusCreated {
		t.Fatalf("create key: %d %v", code, out)
	}
	revoked := out["key"].(map[string]any)
	call(client, "DELETE", srv.url+"/api/users/me/api-keys/"+revoked["id"].(string), w.session, nil)

	// A run waiting for approval, an invitation nobody has answered, a deployed schedule.
	approval, err := w.importDeploy(client, srv.url, testenv.Workflow(t, "approval.json"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = call(client, "POST", srv.url+"/api/workflows/"+approval+"/execute", key, map[string]any{"amount": 4})
	if code != 200 || out["status"] != "paused" {
		t.Fatalf("execute approval: %d %v", code, out)
	}
	pausedID := out["executionId"].(string)
	code, out, _ = call(client, "POST", srv.url+"/api/workspaces/"+w.wsID+"/invitations", w.session, map[string]any{"email": "bob@example.com", "permission": "write"})
	if code != http.StatusAccepted {
		t.Fatalf("invite: %d %v", code, out)
	}
	invID := out["invitation"].(map[string]any)["id"].(string)
	sched, err := w.importDeploy(client, srv.url, testenv.Workflow(t, "schedule-every-minute.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Listing the triggers arms the schedule (stores its fire state).
	if code, out, _ := call(client, "GET", srv.url+"/api/v1/triggers", key, nil); code != 200 || len(objs(out["data"].(map[string]any), "schedules")) != 1 {
		t.Fatalf("triggers before the move: %d %v", code, out)
	}
	stopServer(t, srv)
	if _, stderr, exit := runCLI(t, "--data-dir", data, "users", "create", "--email", "bob@example.com", "--password", "bob-password-123"); exit != 0 {
		t.Fatalf("create bob: %s", stderr)
	}
	// Fire state a rebuild from the deployed version could not produce.
	nextFire, lastFire := time.Date(2031, 1, 2, 3, 4, 0, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	ctx := context.Background()
	bst, err := bolt.Open(ctx, data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	scheds, err := bst.Schedules(ctx)
	if err != nil || len(scheds) != 1 || scheds[0].WorkflowID != sched {
		t.Fatalf("bbolt schedules: %v %v", scheds, err)
	}
	err = bst.SyncSchedules(ctx, scheds, func(old, _ *store.Schedule) *store.Schedule {
		old.NextRunAt, old.LastRunAt, old.LastExecutionID = nextFire, &lastFire, "exec-before-the-move"
		return old
	})
	if cerr := bst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	url := pgtest.URL(t)
	stdout, stderr, exit := runCLI(t, "--data-dir", data, "--json", "migrate-store", "--to", url, "--dry-run")
	if exit != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", exit, stdout, stderr)
	}
	var dry struct {
		Counts []struct {
			Kind                   string
			Source, Copied, Target int
		}
	}
	if err := json.Unmarshal([]byte(stdout), &dry); err != nil {
		t.Fatalf("dry run output: %v\n%s", err, stdout)
	}
	want := map[string]int{"users": 2, "organizations": 1, "workspaces": 1, "workflows": 4, "deployed versions": 4, "API keys": 2,
		"pending invitations": 1, "paused runs": 1, "schedules": 1}
	for _, c := range dry.Counts {
		if n, ok := want[c.Kind]; ok && (c.Source != n || c.Copied != 0) {
			t.Errorf("dry run %s: %d to copy, %d copied; want %d and 0", c.Kind, c.Source, c.Copied, n)
		}
		delete(want, c.Kind)
		// The schedule may fire before the server stops: at least the two runs.
		if c.Kind == "executions" && c.Source < 2 {
			t.Errorf("dry run: %d executions to copy; want the greeting and the paused run at least", c.Source)
		}
		if c.Kind == "audit events" && c.Source < 2 {
			t.Errorf("dry run: %d audit events to copy; want the key's creation and revocation at least", c.Source)
		}
	}
	if len(want) > 0 {
		t.Errorf("dry run does not count %v", want)
	}

	stdout, stderr, exit = runCLI(t, "--data-dir", data, "migrate-store", "--to", url)
	if exit != 0 || !strings.Contains(stdout, "done") {
		t.Fatalf("migrate-store: exit %d\n%s%s", exit, stdout, stderr)
	}
	t.Logf("migrate-store:\n%s", stdout)
	if _, stderr, exit = runCLI(t, "--data-dir", data, "migrate-store", "--to", url); exit == 0 || !strings.Contains(stderr, "not empty") {
		t.Fatalf("second migrate-store into the same database: exit %d %s", exit, stderr)
	}

	// The schedule's fire state, read straight from the database before a server's
	// trigger sync could touch it.
	pst, err := postgres.OpenStore(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	scheds, err = pst.Schedules(ctx)
	pst.Close()
	if err != nil || len(scheds) != 1 || !scheds[0].NextRunAt.Equal(nextFire) || scheds[0].LastRunAt == nil ||
		!scheds[0].LastRunAt.Equal(lastFire) || scheds[0].LastExecutionID != "exec-before-the-move" {
		t.Fatalf("schedules on PostgreSQL: %+v %v", scheds, err)
	}

	// A replica on the database, with the data directory's master key file.
	pg := startServer(t, t.TempDir(), "--database-url", url, "--master-key", readMasterKey(t, data))
	if code, out, _ := call(client, "GET", pg.url+"/api/v1/workflows/"+w.greet, key, nil); code != 200 {
		t.Fatalf("the admin key on PostgreSQL: %d %v", code, out)
	}
	if code, _, _ := call(client, "GET", pg.url+"/api/v1/workflows/"+w.greet, map[string]string{"X-API-Key": revoked["key"].(string)}, nil); code != http.StatusUnauthorized {
		t.Fatalf("a key revoked before the move works after it: %d", code)
	}
	// The revoked key's audit trail came along.
	code, out, _ = call(client, "GET", pg.url+"/api/api-keys/"+revoked["id"].(string)+"/audit", key, nil)
	if evs, _ := out["events"].([]any); code != 200 || len(evs) < 2 {
		t.Fatalf("audit of the revoked key on PostgreSQL: %d %v", code, out)
	}
	// The trigger sync at start keeps the copied fire state.
	code, out, _ = call(client, "GET", pg.url+"/api/v1/triggers", key, nil)
	if s := objs(out["data"].(map[string]any), "schedules"); code != 200 || len(s) != 1 || !strings.HasPrefix(str(s[0], "nextRunAt"), "2031-01-02T03:04") {
		t.Fatalf("triggers on PostgreSQL: %d %v", code, out)
	}
	// The run paused before the move resumes by its id after it.
	code, out, _ = call(client, "POST", pg.url+"/api/resume/"+approval+"/"+pausedID+"/approval", key,
		map[string]any{"input": map[string]any{"approved": true, "comment": "after the move"}})
	if code != 200 || out["status"] != "completed" {
		t.Fatalf("resume on PostgreSQL: %d %v", code, out)
	}
	if got := out["output"].(map[string]any)["result"]; got != "approved 8: after the move" {
		t.Fatalf("resumed result %v", got)
	}
	// The invitation is still there for bob to accept.
	bob := &crashWorld{password: "bob-password-123"}
	bob.loginAs(t, pg.url, "bob@example.com")
	if code, out, _ := call(client, "POST", pg.url+"/api/invitations/"+invID+"/accept", bob.session, nil); code != 200 {
		t.Fatalf("accept the invitation on PostgreSQL: %d %v", code, out)
	}
	if code, out, _ := call(client, "GET", pg.url+"/api/v1/workflows/"+w.greet, bob.session, nil); code != 200 {
		t.Fatalf("bob reads the workspace after accepting: %d %v", code, out)
	}
	stopServer(t, pg)
	// Another master key is refused by the database's check.
	_, stderr, exit = runCLI(t, "--data-dir", t.TempDir(), "--database-url", url, "--master-key", base64.StdEncoding.EncodeToString(make([]byte, 32)), "keys", "list")
	if exit == 0 || !strings.Contains(stderr, "another master key") {
		t.Fatalf("another master key on the migrated database: exit %d %s", exit, stderr)
	}
}

func readMasterKey(t *testing.T, data string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
