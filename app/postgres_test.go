package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

func openPG(dir, url, masterKey string) (*App, error) {
	return Open(context.Background(), Config{DataDir: dir, DatabaseURL: url, MasterKey: masterKey, InProcessSandbox: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func newMasterKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// Replicas share one master key through the database's check value: a second replica with
// the same key starts, one with another key or with none at all refuses with a clear error
// and creates nothing in its data directory.
func TestPostgresReplicasShareOneMasterKey(t *testing.T) {
	url := pgtest.URL(t)
	key := newMasterKey(t)

	a, err := openPG(t.TempDir(), url, key)
	if err != nil {
		t.Fatalf("first replica: %v", err)
	}
	defer a.Close(context.Background())
	if _, ok := a.Store.(auth.CheckStore); !ok {
		t.Fatal("the postgres store keeps no master-key check")
	}

	b, err := openPG(t.TempDir(), url, key)
	if err != nil {
		t.Fatalf("second replica, same key: %v", err)
	}
	b.Close(context.Background())

	_, err = openPG(t.TempDir(), url, newMasterKey(t))
	if !errors.Is(err, auth.ErrWrongMasterKey) {
		t.Fatalf("replica with another key: err = %v, want ErrWrongMasterKey", err)
	}
	t.Logf("another key: %v", err)

	dir := t.TempDir()
	_, err = openPG(dir, url, "")
	if !errors.Is(err, auth.ErrNoSharedMasterKey) {
		t.Fatalf("replica without a key: err = %v, want ErrNoSharedMasterKey", err)
	}
	if _, err := os.Stat(filepath.Join(dir, auth.MasterKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a replica refused for lack of a key still wrote %s (err %v)", auth.MasterKeyFile, err)
	}

	// The key file of the data directory counts as a key too.
	if err := os.WriteFile(filepath.Join(dir, auth.MasterKeyFile), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := openPG(dir, url, "")
	if err != nil {
		t.Fatalf("replica with the shared key in its key file: %v", err)
	}
	c.Close(context.Background())
}

// The first replica on an empty database without STEELENGINE_MASTER_KEY creates the key in
// its data directory, as a bbolt start does; no check file goes there (it is in the database).
func TestPostgresFirstStartCreatesTheKeyFile(t *testing.T) {
	url := pgtest.URL(t)
	dir := filepath.Join(t.TempDir(), "data")
	a, err := openPG(dir, url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	if _, err := os.Stat(filepath.Join(dir, auth.MasterKeyFile)); err != nil {
		t.Fatalf("no key file after first start: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, auth.CheckFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("check file written to the data directory on postgres (err %v)", err)
	}
	// Backups are the database's own tools' job.
	_, err = a.Service.Backup(context.Background(), auth.Operator(), &bytes.Buffer{}, core.BackupOptions{})
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Status != 501 || ce.Code != "backup_unsupported" {
		t.Fatalf("backup on postgres: err = %v, want 501 backup_unsupported", err)
	}
}

// On PostgreSQL /metrics adds the scale-out series: the shared queue's jobs by queue and
// state, the replicas serving, the epoch listener and the runs in flight.
func TestPostgresMetrics(t *testing.T) {
	ctx := context.Background()
	a, err := openPG(t.TempDir(), pgtest.URL(t), newMasterKey(t))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	scrape := func() string {
		rec := httptest.NewRecorder()
		a.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	// Not started: the job waits.
	if err := a.jobs.Enqueue(ctx, store.Job{ExecutionID: "e1", ContextID: "w"}, nil); err != nil {
		t.Fatal(err)
	}
	body := scrape()
	for _, want := range []string{`steelengine_jobs{queue="resume",state="available"} 1`, "steelengine_runs_in_flight 0"} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		body = scrape()
		if strings.Contains(body, "steelengine_replicas 1\n") && strings.Contains(body, "steelengine_epoch_listener_up 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after start, want one replica and the listener up:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
