package bolt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func mustUser(t *testing.T, s *Store, email string) *store.User {
	t.Helper()
	u := &store.User{Email: email, Name: email}
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	_, dir := openTest(t)
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode = %v, want 0700", st.Mode().Perm())
	}
	for _, f := range []string{"core.db", "logs.db"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", f, st.Mode().Perm())
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "d")
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := mustUser(t, s, "A@Example.com")
	ws := store.NewWorkspace("Main", u.ID, "")
	if err := s.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	epoch := s.AuthEpoch()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetUserByEmail(ctx, "a@example.COM")
	if err != nil || got.ID != u.ID {
		t.Fatalf("user after reopen = %v, %v", got, err)
	}
	gws, err := s.GetWorkspace(ctx, ws.ID)
	if err != nil || !gws.AllowPersonalKeys || gws.OwnerID != u.ID {
		t.Fatalf("workspace after reopen = %+v, %v", gws, err)
	}
	if s.AuthEpoch() != epoch {
		t.Errorf("auth epoch after reopen = %d, want %d", s.AuthEpoch(), epoch)
	}
}

func TestSecondOpenFailsFastWithLockMessage(t *testing.T) {
	_, dir := openTest(t)
	start := time.Now()
	_, err := Open(context.Background(), dir, Options{LockTimeout: 300 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open err = %v, want ErrLocked", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("second open took %v", el)
	}
	if want := dir; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "in use by another steelengine process") {
		t.Errorf("error %q should name %s and say it is in use", err, want)
	}
}

func TestMigrationsIdempotentAndNewerRefused(t *testing.T) {
	ctx := context.Background()
	s, dir := openTest(t)
	if err := s.migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if err := s.migrate(ctx); err != nil {
		t.Fatalf("third migrate: %v", err)
	}
	// Pretend a newer build wrote the file.
	if err := s.core.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bMeta).Put(kSchema, []byte{0, 0, 0xff, 0xff})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, dir, Options{})
	if !errors.Is(err, store.ErrNewerSchema) {
		t.Fatalf("open newer file err = %v, want ErrNewerSchema", err)
	}
}

func TestConcurrentReadersDuringWrites(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	u := mustUser(t, s, "o@x.io")
	ws := store.NewWorkspace("W", u.ID, "")
	if err := s.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := s.view(ctx, func(r *Reader) error {
					ids, err := r.WorkspaceWorkflowIDs(ws.ID)
					for _, id := range ids {
						if _, err := r.Workflow(id); err != nil {
							return err
						}
					}
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		if err := s.CreateWorkflow(ctx, &store.Workflow{WorkspaceID: ws.ID, Name: "wf"}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	wfs, _ := s.ListWorkflows(ctx, ws.ID)
	if len(wfs) != 50 {
		t.Fatalf("workflows = %d, want 50", len(wfs))
	}
}
