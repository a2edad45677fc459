package bolt

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// A core.db written at schema 1 (before invitations and personal variables) gains the personal-variable bucket, and workflow
// counters that disagree with the stored versions are repaired: the next deploy never
// overwrites a stored version, and an active version that is not stored falls back.
func TestMigrationPersonalEnvAndVersionCounters(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "d")
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := mustUser(t, s, "m@x.io")
	ws := store.NewWorkspace("W", u.ID, "")
	if err := s.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	stale := &store.Workflow{WorkspaceID: ws.ID, Name: "stale", Draft: []byte(`{}`)}
	gone := &store.Workflow{WorkspaceID: ws.ID, Name: "gone", Draft: []byte(`{}`)}
	for _, wf := range []*store.Workflow{stale, gone} {
		if err := s.CreateWorkflow(ctx, wf); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Deploy(ctx, stale.ID, []byte(`{"v":1}`), u.ID, ""); err != nil {
		t.Fatal(err)
	}
	// Rewind to schema 1: no personal bucket, counters that lost track.
	if err := s.core.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket(bUserEnv); err != nil {
			return err
		}
		v := make([]byte, 4)
		binary.BigEndian.PutUint32(v, 1)
		if err := tx.Bucket(bMeta).Put(kSchema, v); err != nil {
			return err
		}
		for id, counters := range map[string][2]uint32{stale.ID: {0, 0}, gone.ID: {3, 3}} {
			wf, err := getJSON[store.Workflow](tx.Bucket(bWorkflows), []byte(id))
			if err != nil {
				return err
			}
			wf.LatestVersion, wf.ActiveVersion = counters[0], counters[1]
			if err := putJSON(tx.Bucket(bWorkflows), []byte(id), wf); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetEnvVar(ctx, &store.EnvVar{UserID: u.ID, Name: "P", Ciphertext: []byte("c")}); err != nil {
		t.Fatalf("personal var after migration: %v", err)
	}
	got, _ := s.GetWorkflow(ctx, stale.ID)
	if got.LatestVersion != 1 || got.ActiveVersion != 0 {
		t.Errorf("stale counters = latest %d active %d, want 1 and 0", got.LatestVersion, got.ActiveVersion)
	}
	if d, err := s.Deploy(ctx, stale.ID, []byte(`{"v":2}`), u.ID, "after"); err != nil || d.Version != 2 {
		t.Fatalf("next deploy = %+v, %v (must not overwrite version 1)", d, err)
	}
	if d, _ := s.GetDeployment(ctx, stale.ID, 1); d == nil || string(d.Definition) != `{"v":1}` {
		t.Errorf("version 1 after migration = %+v", d)
	}
	got, _ = s.GetWorkflow(ctx, gone.ID)
	if got.IsDeployed() || got.LatestVersion != 3 {
		t.Errorf("workflow whose active version is not stored = %+v, want undeployed", got)
	}
	var schema uint32
	s.core.View(func(tx *bbolt.Tx) error { schema = binary.BigEndian.Uint32(tx.Bucket(bMeta).Get(kSchema)); return nil })
	if schema != CoreSchemaVersion() || schema < 3 {
		t.Errorf("schema = %d", schema)
	}
}
