package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// DataFileNames are the files of a data directory, in the order tools report them.
var DataFileNames = []string{"core.db", "logs.db"}

// FileCheck is the result of checking one data file.
type FileCheck struct {
	File     string   `json:"file"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
	Size     int64    `json:"size"`
}

// maxReportedProblems bounds what Check collects per file.
const maxReportedProblems = 20

// Check runs bbolt's consistency check (Tx.Check: page references, freelist, tree
// order) over both files of dir, which no server may be using. A missing file is a
// problem; a damaged one is reported, not a panic.
func Check(ctx context.Context, dir string) ([]FileCheck, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	var out []FileCheck
	for _, name := range DataFileNames {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		path := filepath.Join(dir, name)
		fc := FileCheck{File: path}
		fi, err := os.Stat(path)
		if err != nil {
			fc.Problems = []string{err.Error()}
			out = append(out, fc)
			continue
		}
		fc.Size = fi.Size()
		db, err := openBoltWith(path, dir, &bbolt.Options{Timeout: defaultLockTimeout, ReadOnly: true})
		if errors.Is(err, store.ErrLocked) {
			return nil, err
		}
		if err != nil {
			fc.Problems = []string{err.Error()}
			out = append(out, fc)
			continue
		}
		err = safely(func() error {
			return db.View(func(tx *bbolt.Tx) error {
				for cerr := range tx.Check() {
					if len(fc.Problems) < maxReportedProblems {
						fc.Problems = append(fc.Problems, cerr.Error())
					}
				}
				return nil
			})
		})
		if err != nil {
			fc.Problems = append(fc.Problems, err.Error())
		}
		db.Close()
		fc.OK = len(fc.Problems) == 0
		out = append(out, fc)
	}
	return out, nil
}

// ResetLogs moves dir's logs.db aside (to logs.db.damaged-TIMESTAMP) so that the next
// start creates an empty one and keeps core.db. No server may be using dir.
func ResetLogs(ctx context.Context, dir string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	// Holding core.db's lock proves no server is running on dir.
	core, err := openBolt(filepath.Join(dir, "core.db"), dir, defaultLockTimeout)
	if errors.Is(err, store.ErrLocked) {
		return "", err
	}
	if err == nil {
		defer core.Close()
	}
	path := filepath.Join(dir, "logs.db")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("logs.db: %w", err)
	}
	aside := fmt.Sprintf("%s.damaged-%s", path, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("move logs.db aside: %w", err)
	}
	return aside, syncDir(dir)
}

// CompactResult is one file's size before and after Compact.
type CompactResult struct {
	File   string `json:"file"`
	Before int64  `json:"before"`
	After  int64  `json:"after"`
}

// compactTxMaxSize bounds each copy transaction of Compact.
const compactTxMaxSize = 64 << 20

// Compact rewrites both files of dir without free pages (bbolt's Compact into a new
// file, fsync, atomic rename over the old one, fsync of the directory). No server may
// be using dir: the source is opened with a lock a server would need. A crash leaves
// either the old or the new file in place, never a mix.
func Compact(ctx context.Context, dir string) ([]CompactResult, error) {
	var out []CompactResult
	for _, name := range DataFileNames {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		r, err := compactFile(dir, name)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func compactFile(dir, name string) (CompactResult, error) {
	path := filepath.Join(dir, name)
	r := CompactResult{File: path}
	fi, err := os.Stat(path)
	if err != nil {
		return r, fmt.Errorf("compact: %w", err)
	}
	r.Before = fi.Size()
	src, err := openBoltWith(path, dir, &bbolt.Options{Timeout: defaultLockTimeout, ReadOnly: true})
	if err != nil {
		return r, err
	}
	defer src.Close()
	tmp := path + ".compact"
	os.Remove(tmp) // left by an interrupted run
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: defaultLockTimeout, NoSync: true})
	if err != nil {
		return r, fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := safely(func() error { return bbolt.Compact(dst, src, compactTxMaxSize) }); err != nil {
		dst.Close()
		os.Remove(tmp)
		return r, fmt.Errorf("compact %s: %w (run `steelengine check`)", path, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return r, fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return r, fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return r, fmt.Errorf("replace %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return r, err
	}
	if fi, err := os.Stat(path); err == nil {
		r.After = fi.Size()
	}
	return r, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
