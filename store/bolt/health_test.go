package bolt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func TestMarkIsWrittenWithoutWaiting(t *testing.T) {
	ctx := context.Background()
	l, path := openLogs(t, LogOptions{})
	e := newExec("ws", "wf", logBase, store.StatusRunning)
	if err := l.Mark(ctx, e); err != nil {
		t.Fatal(err)
	}
	// Close waits for everything queued: the marker is on disk after it.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := OpenLogDB(path, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	got, err := l2.Unfinished(ctx)
	if err != nil || len(got) != 1 || got[0].ID != e.ID {
		t.Fatalf("unfinished after reopen = %v, %v", got, err)
	}
}

func TestDeletedDataDirRefusesWrites(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(ctx, dir, Options{HealthInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Health(); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckHealth(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("health after rm -rf = %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("ping = %v", err)
	}
	err = s.CreateUser(ctx, &store.User{Email: "a@b.c", Name: "A"})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write into a deleted directory = %v, want ErrUnavailable", err)
	}
	err = s.Logs().Put(ctx, newExec("ws", "wf", logBase, store.StatusCompleted))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("log write into a deleted directory = %v, want ErrUnavailable", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the store recreated the deleted directory: %v", err)
	}
}

func TestReplacedFileDetected(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{HealthInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	core := filepath.Join(dir, "core.db")
	if err := os.Rename(core, core+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(core, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Health() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Health(); !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "replaced") {
		t.Fatalf("periodic check after replacing core.db = %v", err)
	}
	// Put back: the same file again, writes resume.
	if err := os.Rename(core+".old", core); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckHealth(ctx); err != nil {
		t.Fatalf("after restoring the file: %v", err)
	}
}

func TestCorruptFileRefusedWithRecoveryCommand(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
		damage           func(b []byte)
	}{
		{"logs freelist", "logs.db", "--reset-logs", func(b []byte) { garbage(b[2*4096:]) }},
		{"logs meta pages", "logs.db", "--reset-logs", func(b []byte) { garbage(b[:2*4096]) }},
		{"core meta pages", "core.db", "steelengine check", func(b []byte) { garbage(b[:2*4096]) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s, err := Open(ctx, dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Logs().Put(ctx, newExec("ws", "wf", logBase, store.StatusCompleted)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			path := filepath.Join(dir, tc.file)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tc.damage(b)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err = Open(ctx, dir, Options{})
			if err == nil {
				s.Close()
				t.Fatal("opened a damaged file")
			}
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v; want ErrCorrupt naming %s and %q", err, path, tc.want)
			}
		})
	}
}

func garbage(b []byte) {
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
}

func TestWriteAfterDeleteIsNotAcknowledged(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(ctx, dir, Options{HealthInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	// No periodic check has run: the commit itself must notice.
	if err := s.CreateUser(ctx, &store.User{Email: "a@b.c", Name: "A"}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("first write after rm -rf = %v, want ErrUnavailable", err)
	}
	s2, _ := Open(ctx, filepath.Join(t.TempDir(), "other"), Options{HealthInterval: time.Hour})
	defer s2.Close()
	os.RemoveAll(s2.Dir())
	if err := s2.Logs().Put(ctx, newExec("ws", "wf", logBase, store.StatusCompleted)); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("first log write after rm -rf = %v, want ErrUnavailable", err)
	}
}
