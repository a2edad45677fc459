package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
// with the same master key answers the same API key; a second copy is refused.
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
	stopServer(t, srv)

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
	want := map[string]int{"users": 1, "organizations": 1, "workspaces": 1, "workflows": 2, "deployed versions": 2, "API keys": 2, "executions": 1}
	for _, c := range dry.Counts {
		if n, ok := want[c.Kind]; ok && (c.Source != n || c.Copied != 0) {
			t.Errorf("dry run %s: %d to copy, %d copied; want %d and 0", c.Kind, c.Source, c.Copied, n)
		}
	}

	stdout, stderr, exit = runCLI(t, "--data-dir", data, "migrate-store", "--to", url)
	if exit != 0 || !strings.Contains(stdout, "done") {
		t.Fatalf("migrate-store: exit %d\n%s%s", exit, stdout, stderr)
	}
	t.Logf("migrate-store:\n%s", stdout)
	if _, stderr, exit = runCLI(t, "--data-dir", data, "migrate-store", "--to", url); exit == 0 || !strings.Contains(stderr, "not empty") {
		t.Fatalf("second migrate-store into the same database: exit %d %s", exit, stderr)
	}

	// A replica on the database, with the data directory's master key file.
	pg := startServer(t, t.TempDir(), "--database-url", url, "--master-key", readMasterKey(t, data))
	if code, out, _ := call(client, "GET", pg.url+"/api/v1/workflows/"+w.greet, key, nil); code != 200 {
		t.Fatalf("the admin key on PostgreSQL: %d %v", code, out)
	}
	if code, _, _ := call(client, "GET", pg.url+"/api/v1/workflows/"+w.greet, map[string]string{"X-API-Key": revoked["key"].(string)}, nil); code != http.StatusUnauthorized {
		t.Fatalf("a key revoked before the move works after it: %d", code)
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
