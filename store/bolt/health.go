package bolt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// minFreeBytes is the free space a filesystem needs before a store that ran out of
// space reports itself writable again.
const minFreeBytes = 1 << 20

// defaultHealthInterval is how often the store re-checks its files.
const defaultHealthInterval = 5 * time.Second

// fileID is what identifies an open file on disk: a file replaced or deleted under a
// running process keeps its old identity in the process, not on the path.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, nil
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// health tracks whether the store can still take writes. Two conditions make it
// unhealthy: the data files are no longer the ones opened (deleted or replaced: every
// write is refused, since it would go to unlinked files), and the last write failed
// (full disk, read-only or failing filesystem: writes are tried and fail by themselves
// until one succeeds).
type health struct {
	dir    string
	log    *slog.Logger
	ids    map[string]fileID // path → identity at open
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	probes func() error // a small committed write to each file

	mu       sync.Mutex
	lost     error // files no longer the ones opened
	writeErr error // last failed write, classified
}

func newHealth(dir string, log *slog.Logger) *health {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &health{dir: dir, log: log, ids: map[string]fileID{}, kick: make(chan struct{}, 1)}
}

// track records the identity of path as opened.
func (h *health) track(path string) error {
	id, err := statID(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	h.ids[path] = id
	return nil
}

// start checks every interval, and at once when a write fails.
func (h *health) start(interval time.Duration) {
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
			case <-h.kick:
			}
			h.check()
		}
	}()
}

func (h *health) close() {
	if h.stop != nil {
		close(h.stop)
		<-h.done
		h.stop = nil
	}
}

// check re-reads file identities and, after a failed write, probes for recovery.
func (h *health) check() {
	lost := h.verify()
	h.mu.Lock()
	writeErr := h.writeErr
	h.mu.Unlock()
	if lost != nil || writeErr == nil || h.probes == nil {
		return
	}
	if free, ok := freeBytes(h.dir); ok && free < minFreeBytes {
		return
	}
	if err := h.probes(); err != nil {
		return
	}
	h.recovered()
}

// verify compares the paths' identities with those at open, records the result and
// returns the problem, if any. Writers call it after each commit, before they
// acknowledge: a commit into files no longer reachable from the data directory is lost.
func (h *health) verify() error {
	var lost error
	for path, want := range h.ids {
		got, err := statID(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			lost = fmt.Errorf("%s was deleted while open", path)
		case err != nil:
			lost = fmt.Errorf("stat %s: %w", path, err)
		case got != want:
			lost = fmt.Errorf("%s was replaced by another file while open", path)
		}
		if lost != nil {
			break
		}
	}
	h.mu.Lock()
	was := h.lost
	h.lost = lost
	h.mu.Unlock()
	switch {
	case lost != nil && was == nil:
		h.log.Error("storage unavailable: refusing writes; restore the data directory and restart", "err", lost)
	case lost == nil && was != nil:
		h.log.Warn("storage files are back; accepting writes", "dir", h.dir)
	}
	return lost
}

// committed checks, after a successful commit, that it went to the files of the data
// directory, and clears an earlier write failure.
func (h *health) committed() error {
	if lost := h.verify(); lost != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, lost)
	}
	if h.hadWriteErr() {
		h.recovered()
	}
	return nil
}

// refuse reports why writes must not even be tried.
func (h *health) refuse() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, h.lost)
	}
	return nil
}

// err reports the store's health: nil when writes are expected to work.
func (h *health) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, h.lost)
	}
	return h.writeErr
}

// failed records a failed commit and returns it classified.
func (h *health) failed(file string, err error) error {
	cerr := classify(file, err)
	h.mu.Lock()
	first := h.writeErr == nil
	h.writeErr = cerr
	h.mu.Unlock()
	if first {
		h.log.Error("storage write failed; not ready until writes succeed again", "err", cerr)
	}
	select {
	case h.kick <- struct{}{}:
	default:
	}
	return cerr
}

// recovered clears a write failure after a successful commit.
func (h *health) recovered() {
	h.mu.Lock()
	was := h.writeErr
	h.writeErr = nil
	h.mu.Unlock()
	if was != nil {
		h.log.Warn("storage writes succeed again", "dir", h.dir)
	}
}

func (h *health) hadWriteErr() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.writeErr != nil
}

// classify wraps a failed commit in ErrNoSpace or ErrUnavailable.
func classify(file string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG) {
		return fmt.Errorf("write %s: %w: %w", file, store.ErrNoSpace, err)
	}
	return fmt.Errorf("write %s: %w: %w", file, store.ErrUnavailable, err)
}

func freeBytes(dir string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}

var kProbe = []byte("probe")

// probe commits a tiny write to db's meta bucket.
func probe(db *bbolt.DB) error {
	return db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bMeta).Put(kProbe, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	})
}

// Health reports whether the store takes writes: nil, or an error wrapping
// ErrUnavailable (files gone or failing) or ErrNoSpace.
func (s *Store) Health() error { return s.health.err() }

// CheckHealth re-checks the files now (the store also does it periodically and after
// every failed write) and returns the result.
func (s *Store) CheckHealth(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.health.check()
	return s.health.err()
}

func dataFiles(dir string) []string {
	return []string{dir, filepath.Join(dir, "core.db"), filepath.Join(dir, "logs.db")}
}
