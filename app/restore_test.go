package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

func openTestApp(t *testing.T, dir, masterKey string) *App {
	t.Helper()
	a, err := Open(context.Background(), Config{DataDir: dir, MasterKey: masterKey, InProcessSandbox: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// seedKey creates a user and a personal key and returns the key.
func seedKey(t *testing.T, a *App) string {
	t.Helper()
	ctx := context.Background()
	u := &store.User{Email: "a@example.com", Name: "A"}
	if err := a.Store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	plain, _, err := a.Resolver.CreateKey(ctx, auth.Operator(), auth.CreateKeyRequest{Type: store.KeyPersonal, UserID: u.ID, Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

func TestRestoreNeedsTheMasterKeyThatOpensTheKeys(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	a := openTestApp(t, src, "")
	plain := seedKey(t, a)
	var plainArchive, keyArchive bytes.Buffer
	if _, err := a.Service.Backup(ctx, auth.Operator(), &plainArchive, core.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Service.Backup(ctx, auth.Operator(), &keyArchive, core.BackupOptions{IncludeMasterKey: true}); err != nil {
		t.Fatal(err)
	}
	a.Close(ctx)
	mk, _ := os.ReadFile(filepath.Join(src, auth.MasterKeyFile))
	master := strings.TrimSpace(string(mk))

	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := Restore(ctx, bytes.NewReader(plainArchive.Bytes()), dst, ""); !errors.Is(err, ErrMasterKeyNeeded) {
		t.Fatalf("no key: %v", err)
	}
	wrong := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	if _, err := Restore(ctx, bytes.NewReader(plainArchive.Bytes()), dst, wrong); !errors.Is(err, ErrMasterKeyMismatch) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "core.db")); !os.IsNotExist(err) {
		t.Fatal("a refused restore wrote core.db")
	}
	if _, err := Restore(ctx, bytes.NewReader(plainArchive.Bytes()), dst, master); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, auth.MasterKeyFile)); !os.IsNotExist(err) {
		t.Fatal("a key given by flag was written into the data directory")
	}
	// Without the key the restored directory is refused, not given a new one.
	if _, err := Open(ctx, Config{DataDir: dst, InProcessSandbox: true}); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("open without the key: %v", err)
	}
	b := openTestApp(t, dst, master)
	if _, err := b.Resolver.Resolve(ctx, plain, "", auth.TransportHTTP); err != nil {
		t.Fatalf("restored key: %v", err)
	}
	b.Close(ctx)

	// An archive that carries the key restores alone and installs it.
	dst2 := filepath.Join(t.TempDir(), "dst2")
	if _, err := Restore(ctx, bytes.NewReader(keyArchive.Bytes()), dst2, ""); err != nil {
		t.Fatal(err)
	}
	c := openTestApp(t, dst2, "")
	if _, err := c.Resolver.Resolve(ctx, plain, "", auth.TransportHTTP); err != nil {
		t.Fatalf("restored key (key in archive): %v", err)
	}
	c.Close(ctx)
}

func TestOpenRefusesKeysWithoutAMasterKey(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	a := openTestApp(t, src, "")
	seedKey(t, a)
	a.Close(ctx)
	// core.db copied without master.key and master.check: a new key would be made.
	dst := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(src, "core.db"))
	os.WriteFile(filepath.Join(dst, "core.db"), b, 0o600)
	if _, err := Open(ctx, Config{DataDir: dst, InProcessSandbox: true}); err == nil || !strings.Contains(err.Error(), "no master key") {
		t.Fatalf("open = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, auth.MasterKeyFile)); !os.IsNotExist(err) {
		t.Fatal("a new master key was written")
	}
}

func TestOperatorSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "se-op") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := openTestApp(t, dir, "")
	defer a.Close(context.Background())
	seedKey(t, a)
	// A stale socket file from a crashed server is replaced.
	os.WriteFile(filepath.Join(dir, OperatorSocket), nil, 0o600)
	stop, err := a.ServeOperator()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, OperatorSocket)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket: %v %v", st, err)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	resp, err := c.Get("http://localhost/api/api-keys")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"personal"`) {
		t.Fatalf("operator list: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("socket left after stop")
	}
}
