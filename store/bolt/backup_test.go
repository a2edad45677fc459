package bolt

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/steelengine/steelengine/store"
)

func TestArchiveRoundTripAndTampering(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	u := &store.User{Email: "a@example.com", Name: "A"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := s.WriteArchive(ctx, &buf, "v9", map[string][]byte{"master.check": []byte("sealed")})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "v9" || m.SchemaVersion != CoreSchemaVersion() || !m.Has("core.db") || !m.Has("logs.db") || !m.Has("master.check") {
		t.Fatalf("manifest = %+v", m)
	}
	dir := t.TempDir()
	got, err := ExtractArchive(ctx, bytes.NewReader(buf.Bytes()), dir)
	if err != nil || got.Files["core.db"] != m.Files["core.db"] {
		t.Fatalf("extract = %+v, %v", got, err)
	}
	c, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetUserByEmail(ctx, "a@example.com"); err != nil {
		t.Errorf("restored copy lacks the user: %v", err)
	}
	c.Close()

	if _, err := s.WriteArchive(ctx, io.Discard, "", map[string][]byte{"../evil": nil}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("extra file outside the backup's names: %v", err)
	}

	// Every kind of damage is refused before anything counts as restored.
	flip := append([]byte(nil), buf.Bytes()...)
	flip[2048] ^= 0xff // inside core.db's content
	truncated := buf.Bytes()[:buf.Len()/2]
	var extra bytes.Buffer
	tw := tar.NewWriter(&extra)
	tw.WriteHeader(&tar.Header{Name: "../../etc/passwd", Mode: 0o600, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	for name, data := range map[string][]byte{"flipped byte": flip, "truncated": truncated, "foreign entry": extra.Bytes(), "empty": nil} {
		if _, err := VerifyArchive(ctx, bytes.NewReader(data)); !errors.Is(err, store.ErrBadArchive) {
			t.Errorf("%s: %v, want ErrBadArchive", name, err)
		}
	}
}

func TestRestoreArchiveChecksFirstAndRefusesAHeldDirectory(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	var buf bytes.Buffer
	if _, err := s.WriteArchive(ctx, &buf, "v1", nil); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "data")
	refuse := errors.New("no")
	if _, err := RestoreArchive(ctx, bytes.NewReader(buf.Bytes()), target, func(string, *store.Manifest) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("refused check: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "core.db")); !os.IsNotExist(err) {
		t.Fatalf("a refused restore left core.db (%v)", err)
	}
	ok := func(string, *store.Manifest) error { return nil }
	if _, err := RestoreArchive(ctx, bytes.NewReader(buf.Bytes()), target, ok); err != nil {
		t.Fatal(err)
	}
	// The source store holds its own directory: restoring into it is refused.
	if _, err := RestoreArchive(ctx, bytes.NewReader(buf.Bytes()), s.Dir(), ok); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("restore into a held directory: %v", err)
	}
	entries, _ := os.ReadDir(target)
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Errorf("staging left behind: %s", e.Name())
		}
	}
}
