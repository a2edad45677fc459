package bolt

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// A backup is one tar archive: core.db and logs.db (each a consistent copy from one
// read transaction, written while the store keeps serving), optional extra files the
// caller adds (the sealed master-key check, the master key when asked for), and last a
// manifest with the schema version and each file's size and SHA-256.

// manifestName is the archive's last entry.
const manifestName = "manifest.json"

// archiveNames are the entries an archive may hold; restore refuses anything else.
var archiveNames = []string{"core.db", "logs.db", "master.check", "master.key"}

// WriteArchive writes a backup archive of the store to w. extra adds small files by
// name (only names restore accepts: master.check, master.key); version is the
// appliance's version, recorded in the manifest.
func (s *Store) WriteArchive(ctx context.Context, w io.Writer, version string, extra map[string][]byte) (*store.Manifest, error) {
	m := &store.Manifest{Format: store.ArchiveFormat, FormatVersion: 1, SchemaVersion: CoreSchemaVersion(),
		CreatedAt: time.Now().UTC(), Version: version, Files: map[string]store.ArchiveFile{}}
	tw := tar.NewWriter(w)
	for _, db := range []struct {
		name string
		db   *bbolt.DB
	}{{"core.db", s.core}, {"logs.db", s.logs.db}} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := db.db.View(func(tx *bbolt.Tx) error {
			if err := tw.WriteHeader(fileHeader(db.name, tx.Size(), m.CreatedAt)); err != nil {
				return err
			}
			h := sha256.New()
			n, err := tx.WriteTo(io.MultiWriter(tw, h))
			if err != nil {
				return err
			}
			m.Files[db.name] = store.ArchiveFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("back up %s: %w", db.name, err)
		}
	}
	names := make([]string, 0, len(extra))
	for name := range extra {
		if !slices.Contains(archiveNames, name) || name == "core.db" || name == "logs.db" {
			return nil, fmt.Errorf("back up: %q is not a backup file: %w", name, store.ErrInvalid)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		b := extra[name]
		if err := tw.WriteHeader(fileHeader(name, int64(len(b)), m.CreatedAt)); err != nil {
			return nil, fmt.Errorf("back up %s: %w", name, err)
		}
		if _, err := tw.Write(b); err != nil {
			return nil, fmt.Errorf("back up %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		m.Files[name] = store.ArchiveFile{Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(fileHeader(manifestName, int64(len(mb)), m.CreatedAt)); err != nil {
		return nil, fmt.Errorf("back up manifest: %w", err)
	}
	if _, err := tw.Write(mb); err != nil {
		return nil, fmt.Errorf("back up manifest: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("back up: %w", err)
	}
	return m, nil
}

func fileHeader(name string, size int64, t time.Time) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: t, Format: tar.FormatPAX}
}

// ExtractArchive reads a backup archive from r into dir (created 0700; files 0600) and
// checks every file against the manifest. Nothing outside dir is written, entries other
// than a backup's files are refused, and a missing or mismatching file is an error
// wrapping ErrBadArchive.
func ExtractArchive(ctx context.Context, r io.Reader, dir string) (*store.Manifest, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	return readArchive(ctx, r, dir)
}

// VerifyArchive reads a whole backup archive and checks it against its manifest
// without writing anything.
func VerifyArchive(ctx context.Context, r io.Reader) (*store.Manifest, error) {
	return readArchive(ctx, r, "")
}

// readArchive checks an archive and, unless dir is "", extracts it there.
func readArchive(ctx context.Context, r io.Reader, dir string) (*store.Manifest, error) {
	tr := tar.NewReader(r)
	got := map[string]store.ArchiveFile{}
	var m *store.Manifest
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w (%w)", err, store.ErrBadArchive)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("archive entry %q is not a regular file: %w", hdr.Name, store.ErrBadArchive)
		}
		if hdr.Name == manifestName {
			m = &store.Manifest{}
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(m); err != nil {
				return nil, fmt.Errorf("read manifest: %w (%w)", err, store.ErrBadArchive)
			}
			continue
		}
		if !slices.Contains(archiveNames, hdr.Name) {
			return nil, fmt.Errorf("archive entry %q is not a backup file: %w", hdr.Name, store.ErrBadArchive)
		}
		h := sha256.New()
		var n int64
		if dir == "" {
			n, err = io.Copy(h, tr)
		} else {
			err = writeFileAtomic(filepath.Join(dir, hdr.Name), func(w io.Writer) error {
				var err error
				n, err = io.Copy(io.MultiWriter(w, h), tr)
				return err
			})
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s is truncated: %w", hdr.Name, store.ErrBadArchive)
		}
		if err != nil {
			return nil, fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
		got[hdr.Name] = store.ArchiveFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	if m == nil || m.Format != store.ArchiveFormat {
		return nil, fmt.Errorf("no manifest: %w", store.ErrBadArchive)
	}
	if m.FormatVersion > 1 || m.SchemaVersion > CoreSchemaVersion() {
		return nil, fmt.Errorf("archive has format %d, schema %d; this build reads up to format 1, schema %d: %w",
			m.FormatVersion, m.SchemaVersion, CoreSchemaVersion(), store.ErrNewerSchema)
	}
	for _, name := range []string{"core.db", "logs.db"} {
		if !m.Has(name) {
			return nil, fmt.Errorf("manifest lists no %s: %w", name, store.ErrBadArchive)
		}
	}
	for name, want := range m.Files {
		if got[name] != want {
			return nil, fmt.Errorf("%s does not match the manifest (size or SHA-256): %w", name, store.ErrBadArchive)
		}
	}
	for name := range got {
		if !m.Has(name) {
			return nil, fmt.Errorf("%s is not in the manifest: %w", name, store.ErrBadArchive)
		}
	}
	return m, nil
}

// RestoreArchive extracts a backup archive into a staging directory inside dataDir,
// lets check inspect it (the caller proves the master key opens its secrets), and only
// then moves its files into dataDir. The data directory must not be in use: its lock
// is held throughout.
func RestoreArchive(ctx context.Context, r io.Reader, dataDir string, check func(staging string, m *store.Manifest) error) (*store.Manifest, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "core.db")); err == nil {
		db, err := openBolt(filepath.Join(dataDir, "core.db"), dataDir, defaultLockTimeout)
		if err != nil {
			return nil, err
		}
		defer db.Close()
	}
	staging, err := os.MkdirTemp(dataDir, ".restore-*")
	if err != nil {
		return nil, fmt.Errorf("create staging directory: %w", err)
	}
	defer os.RemoveAll(staging)
	m, err := ExtractArchive(ctx, r, staging)
	if err != nil {
		return nil, err
	}
	if err := check(staging, m); err != nil {
		return nil, err
	}
	// The check file and the master key are replaced only when staged (the archive or
	// check provided them).
	for _, name := range archiveNames {
		src := filepath.Join(staging, name)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if err := os.Rename(src, filepath.Join(dataDir, name)); err != nil {
			return nil, fmt.Errorf("restore %s: %w", name, err)
		}
	}
	return m, nil
}

// writeFileAtomic writes path via a synced temporary file in the same directory.
func writeFileAtomic(path string, fill func(w io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return nil
}

// HasKeys reports whether core.db holds any API key (sealed under the master key).
func (s *Store) HasKeys(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var any bool
	err := s.core.View(func(tx *bbolt.Tx) error {
		k, _ := tx.Bucket(bKeys).Cursor().First()
		any = k != nil
		return nil
	})
	return any, err
}
