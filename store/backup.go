package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// BackupCore writes a consistent copy of core.db to w from one read transaction, while
// the store keeps serving (bbolt's Tx.WriteTo).
func (s *Store) BackupCore(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.core.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup core.db: %w", err)
	}
	return n, nil
}

// Backup writes consistent copies of core.db and logs.db into dir (created 0700), each
// through a temporary file renamed into place so a crash never leaves half a backup
// under the final name.
func (s *Store) Backup(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create backup directory: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "core.db"), func(w io.Writer) error {
		_, err := s.BackupCore(ctx, w)
		return err
	}); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "logs.db"), func(w io.Writer) error {
		_, err := s.logs.Backup(ctx, w)
		return err
	})
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

// Restore copies a backup directory's core.db and logs.db into dataDir, which must not
// be in use. Existing files are replaced atomically, one at a time.
func Restore(ctx context.Context, backupDir, dataDir string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	// Holding the lock on the target proves no server is using it.
	if _, err := os.Stat(filepath.Join(dataDir, "core.db")); err == nil {
		db, err := openBolt(filepath.Join(dataDir, "core.db"), dataDir, defaultLockTimeout)
		if err != nil {
			return err
		}
		defer db.Close()
	}
	for _, name := range []string{"core.db", "logs.db"} {
		if err := ctx.Err(); err != nil {
			return err
		}
		src, err := os.Open(filepath.Join(backupDir, name))
		if err != nil {
			return fmt.Errorf("open backup: %w", err)
		}
		err = writeFileAtomic(filepath.Join(dataDir, name), func(w io.Writer) error {
			_, err := io.Copy(w, src)
			return err
		})
		src.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
