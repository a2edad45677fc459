package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// previousRelease is the build the rolling-upgrade test runs beside this one: the newest
// commit whose PostgreSQL schema stops at migration 0005 (before the replica run lists and
// run cancels). STEELENGINE_UPGRADE_FROM names another commit.
const previousRelease = "682b6ac58373df86ef6a7ddb597d8fbec1486f34"

// buildAt builds cmd/steelengine as it was at commit rev, or skips when this checkout
// does not hold rev (a shallow clone).
func buildAt(t *testing.T, rev string) string {
	t.Helper()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	repo := strings.TrimSpace(string(root))
	if err := exec.Command("git", "-C", repo, "cat-file", "-e", rev+"^{commit}").Run(); err != nil {
		t.Skipf("commit %s is not in this checkout (shallow clone?): the rolling upgrade is not tested", rev)
	}
	dir := t.TempDir()
	archive := exec.Command("git", "-C", repo, "archive", "--format=tar", rev)
	untar := exec.Command("tar", "-x", "-C", dir)
	var archiveErr, untarErr, stderr bytes.Buffer // one each: the two run at once
	untar.Stdin, _ = archive.StdoutPipe()
	untar.Stderr, archive.Stderr = &untarErr, &archiveErr
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", rev, err, archiveErr.String())
	}
	if err := untar.Wait(); err != nil {
		t.Fatalf("untar %s: %v\n%s", rev, err, untarErr.String())
	}
	bin := filepath.Join(dir, "steelengine-old")
	build := exec.Command("go", "build", "-o", bin, "./cmd/steelengine")
	build.Dir, build.Stderr = dir, &stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build %s: %v\n%s", rev, err, stderr.String())
	}
	return bin
}

// A rolling upgrade on PostgreSQL: a replica of the previous release keeps serving (keys,
// sync and async runs, revocations made on the new replica) while a replica of this
// build migrates the schema beside it; restarted after the migration, the old release
// refuses to start instead of guessing at the newer schema.
func TestRollingUpgradeFromThePreviousRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the previous release")
	}
	rev := previousRelease
	if v := os.Getenv("STEELENGINE_UPGRADE_FROM"); v != "" {
		rev = v
	}
	old := buildAt(t, rev)
	cl := newCluster(t)
	cl.url = pgtest.EmptyURL(t) // the previous release creates its schema; this build migrates it
	args := append([]string{"--database-url", cl.url, "--master-key", cl.key}, cl.extra...)
	oldData := filepath.Join(t.TempDir(), "data")
	a, w, _ := freshInstanceBin(t, old, oldData, "1", args...)
	client := &http.Client{Timeout: 20 * time.Second}
	key := map[string]string{"X-API-Key": w.key}
	greet := func(s *server, who string) {
		t.Helper()
		code, out, err := call(client, "POST", s.url+"/api/workflows/"+w.greet+"/execute", key, map[string]any{"name": who})
		if err != nil || code != 200 || out["success"] != true {
			t.Fatalf("%s: sync run: %d %v %v", who, code, out, err)
		}
	}
	greet(a, "old before")

	b := cl.start() // this build: migrates the schema while A serves
	greet(b, "new")
	greet(a, "old after the migration")

	// An async run accepted by the old replica completes (on either).
	hdr := map[string]string{"X-API-Key": w.key, "X-Execution-Mode": "async"}
	code, out, err := call(client, "POST", a.url+"/api/workflows/"+w.greet+"/execute", hdr, map[string]any{"name": "queued on old"})
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("async run on the old replica: %d %v %v", code, out, err)
	}
	job := out["jobId"].(string)
	within(t, 30*time.Second, "the old replica's async run completes", func() bool {
		_, out, _ := call(client, "GET", b.url+"/api/jobs/"+job, key, nil)
		return out["status"] == "completed"
	})

	// A key made and then revoked on the new replica: the old one honours both.
	code, out, err = call(client, "POST", b.url+"/api/users/me/api-keys", w.session, map[string]any{"name": "rolled"})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create key on the new replica: %d %v %v", code, out, err)
	}
	k := out["key"].(map[string]any)
	plain, id := k["key"].(string), k["id"].(string)
	rolled := map[string]string{"X-API-Key": plain}
	within(t, 2*time.Second, "the old replica accepts the new key", func() bool {
		code, _, _ := call(client, "GET", a.url+"/api/v1/workflows/"+w.greet, rolled, nil)
		return code == http.StatusOK
	})
	if code, out, _ := call(client, "DELETE", b.url+"/api/users/me/api-keys/"+id, w.session, nil); code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("revoke on the new replica: %d %v", code, out)
	}
	within(t, 2*time.Second, "the old replica refuses the revoked key", func() bool {
		code, _, _ := call(client, "GET", a.url+"/api/v1/workflows/"+w.greet, rolled, nil)
		return code == http.StatusUnauthorized
	})

	// Restarted now, the old release refuses the newer schema.
	stopServer(t, a)
	cmd := exec.Command(old, append([]string{"--data-dir", oldData, "serve", "--addr", "127.0.0.1:0"}, args...)...)
	outb, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(outb), "newer than this binary") {
		t.Fatalf("the old release restarted on the migrated database: %v\n%s", err, outb)
	}
}
