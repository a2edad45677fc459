// Package store persists SteelEngine's state in two bbolt files inside one data
// directory: core.db (users, organizations, workspaces, workflows, keys, audit) and
// logs.db (executions and their indexes), so that log churn never blocks key lookups.
//
// It is the only package that imports bbolt. Callers never see a transaction: every
// multi-step change is one method, and reads that must be consistent go through View.
package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Options tune how the store opens its files.
type Options struct {
	// LockTimeout bounds the wait for another process's file lock (default 2 s).
	LockTimeout time.Duration
	// Logs configures logs.db.
	Logs LogOptions
	// NoSync skips fsync on core.db commits. Only for tests and throwaway stores: a
	// crash can lose acknowledged writes.
	NoSync bool
	// Logger receives storage health changes (default: discarded).
	Logger *slog.Logger
	// HealthInterval is how often the files' identity is re-checked (default 5 s).
	HealthInterval time.Duration
}

// defaultLockTimeout is how long opening waits for another process's lock.
const defaultLockTimeout = 2 * time.Second

var _ store.Store = (*Store)(nil)

// Store is the bbolt-backed implementation of SteelEngine's persistence.
type Store struct {
	dir    string
	core   *bbolt.DB
	logs   *LogDB
	health *health

	authEpoch     atomic.Uint64
	workflowEpoch atomic.Uint64
	configEpoch   atomic.Uint64
}

// Open opens (creating if needed) the data directory dir and both of its files, and
// runs pending migrations. A directory held by another process fails within
// LockTimeout with an error wrapping ErrLocked.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = defaultLockTimeout
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = defaultHealthInterval
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	core, err := openBolt(filepath.Join(dir, "core.db"), dir, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	core.NoSync = opts.NoSync
	s := &Store{dir: dir, core: core, health: newHealth(dir, opts.Logger)}
	if err := safely(func() error { return s.migrate(ctx) }); err != nil {
		core.Close()
		return nil, corruptHint(filepath.Join(dir, "core.db"), dir, err)
	}
	if err := core.View(func(tx *bbolt.Tx) error {
		s.authEpoch.Store(readUint64(tx.Bucket(bMeta).Get(kAuthEpoch)))
		return nil
	}); err != nil {
		core.Close()
		return nil, fmt.Errorf("read auth epoch: %w", err)
	}
	if opts.Logs.LockTimeout <= 0 {
		opts.Logs.LockTimeout = opts.LockTimeout
	}
	opts.Logs.dir = dir
	logs, err := OpenLogDB(filepath.Join(dir, "logs.db"), opts.Logs)
	if err != nil {
		core.Close()
		return nil, err
	}
	s.logs = logs
	logs.health = s.health
	for _, p := range dataFiles(dir) {
		if err := s.health.track(p); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.health.probes = func() error {
		if err := probe(s.core); err != nil {
			return err
		}
		return probe(s.logs.db)
	}
	s.health.start(opts.HealthInterval)
	return s, nil
}

func openBolt(path, dir string, timeout time.Duration) (*bbolt.DB, error) {
	return openBoltWith(path, dir, &bbolt.Options{Timeout: timeout})
}

// openBoltWith opens one bbolt file. bbolt panics on some damaged pages (a bad
// freelist); that panic becomes an error naming the file and the way out.
func openBoltWith(path, dir string, opts *bbolt.Options) (db *bbolt.DB, err error) {
	defer func() {
		if v := recover(); v != nil {
			db, err = nil, corruptHint(path, dir, fmt.Errorf("%w: %v", store.ErrCorrupt, v))
		}
	}()
	db, err = bbolt.Open(path, 0o600, opts)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: data directory %s is %w", path, dir, store.ErrLocked)
	}
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
		err = fmt.Errorf("%w: %w", store.ErrCorrupt, err)
	}
	if err != nil {
		return nil, corruptHint(path, dir, err)
	}
	return db, nil
}

// safely turns a bbolt panic (a damaged page met while reading) into ErrCorrupt.
func safely(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %v", store.ErrCorrupt, v)
		}
	}()
	return fn()
}

// corruptHint names the damaged file and the recovery commands.
func corruptHint(path, dir string, err error) error {
	if !errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("open %s: %w", path, err)
	}
	hint := fmt.Sprintf("run `steelengine check --data-dir %s` for details", dir)
	if filepath.Base(path) == "logs.db" {
		hint += fmt.Sprintf("; `steelengine check --data-dir %s --reset-logs` moves the damaged logs.db aside so the server starts with empty execution logs and keeps core.db (users, keys, workflows)", dir)
	} else {
		hint += "; restore core.db from a backup (`steelengine restore`)"
	}
	return fmt.Errorf("open %s: %w (%s)", path, err, hint)
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Logs returns the execution log store.
func (s *Store) Logs() store.Logs { return s.logs }

// LogDB returns logs.db itself, for what only bbolt has (raw backups).
func (s *Store) LogDB() *LogDB { return s.logs }

// Close flushes pending log writes and closes both files.
func (s *Store) Close() error {
	var errs []error
	s.health.close()
	if s.logs != nil {
		if err := s.logs.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close logs.db: %w", err))
		}
	}
	if err := s.core.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close core.db: %w", err))
	}
	return errors.Join(errs...)
}

// Ping answers whether the core file can serve a read transaction and takes writes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.health.err(); err != nil {
		return err
	}
	return s.core.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bMeta) == nil {
			return errors.New("meta bucket missing")
		}
		return nil
	})
}

// AuthEpoch is a counter bumped, after commit, by every write that can change an access
// decision. A cached decision stamped with an older epoch is stale.
func (s *Store) AuthEpoch() uint64 { return s.authEpoch.Load() }

// WorkflowEpoch is bumped by every change to workflows and deployments (tool lists,
// plan caches).
func (s *Store) WorkflowEpoch() uint64 { return s.workflowEpoch.Load() }

// ConfigEpoch is bumped by every change to environment variables, model providers and
// external MCP servers.
func (s *Store) ConfigEpoch() uint64 { return s.configEpoch.Load() }

// View runs fn in one read transaction.
func (s *Store) View(ctx context.Context, fn func(r store.Reader) error) error {
	return s.view(ctx, func(r *Reader) error { return fn(r) })
}

// view is View for the store's own methods, with the concrete reader.
func (s *Store) view(ctx context.Context, fn func(r *Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.core.View(func(tx *bbolt.Tx) error { return fn(&Reader{tx: tx}) })
}

// update runs fn in one write transaction.
func (s *Store) update(ctx context.Context, fn func(w *writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.health.refuse(); err != nil {
		return err
	}
	var fnErr error
	err := s.core.Update(func(tx *bbolt.Tx) error {
		fnErr = fn(&writer{Reader: Reader{tx: tx}, s: s})
		return fnErr
	})
	switch {
	case err != nil && fnErr == nil:
		return s.health.failed("core.db", err) // the commit itself failed
	case err == nil:
		return s.health.committed()
	}
	return err
}

// writer is a Reader that may also write; its changes commit together.
type writer struct {
	Reader
	s          *Store
	authBumped bool
	wfBumped   bool
	cfgBumped  bool
	rotating   bool // createKey is creating a rotated successor
}

// bumpAuth marks the transaction as one that changes access decisions.
func (w *writer) bumpAuth() error {
	if w.authBumped {
		return nil
	}
	w.authBumped = true
	meta := w.tx.Bucket(bMeta)
	next := readUint64(meta.Get(kAuthEpoch)) + 1
	if err := meta.Put(kAuthEpoch, uint64Bytes(next)); err != nil {
		return fmt.Errorf("bump auth epoch: %w", err)
	}
	w.tx.OnCommit(func() { w.s.authEpoch.Store(next) })
	return nil
}

// bumpWorkflows marks the transaction as one that changes workflows or deployments.
func (w *writer) bumpWorkflows() {
	if w.wfBumped {
		return
	}
	w.wfBumped = true
	w.tx.OnCommit(func() { w.s.workflowEpoch.Add(1) })
}

// bumpConfig marks the transaction as one that changes what a run reads before it
// starts (environment, providers, external MCP servers).
func (w *writer) bumpConfig() {
	if w.cfgBumped {
		return
	}
	w.cfgBumped = true
	w.tx.OnCommit(func() { w.s.configEpoch.Add(1) })
}

// Reader reads core state inside one transaction.
type Reader struct{ tx *bbolt.Tx }

var (
	bMeta         = []byte("meta")
	bUsers        = []byte("users")
	bUsersByEmail = []byte("users_by_email")
	bOrgs         = []byte("orgs")
	bOrgMembers   = []byte("org_members")
	bUserOrgs     = []byte("user_orgs")
	bWorkspaces   = []byte("workspaces")
	bWsMembers    = []byte("ws_members")
	bUserWs       = []byte("user_ws")
	bWsByOrg      = []byte("ws_by_org")
	bWorkflows    = []byte("workflows")
	bWfByWs       = []byte("wf_by_ws")
	bDeployments  = []byte("deployments")
	bKeys         = []byte("keys")
	bKeysByDigest = []byte("keys_by_digest")
	bKeysByOwner  = []byte("keys_by_owner")
	bGrants       = []byte("grants")
	bGrantsByTgt  = []byte("grants_by_target")
	bAudit        = []byte("audit")
	bAuditByKey   = []byte("audit_by_key")
	bSessions     = []byte("sessions")
	bMCPServers   = []byte("mcp_servers")
	bMCPByWs      = []byte("mcp_by_ws")
	bEnv          = []byte("env")
	bInvites      = []byte("invitations")
	bInvByEmail   = []byte("invitations_by_email")
	bInvByTarget  = []byte("invitations_by_target")
	bUserEnv      = []byte("user_env")
	bProviders    = []byte("model_providers") // workspace id, provider id → ModelProvider
	bMemory       = []byte("agent_memory")    // workspace id, conversation id → Conversation
	bExternalMCP  = []byte("external_mcp")    // workspace id, server id → ExternalMCPServer
	bSchedules    = []byte("schedules")
	bPaused       = []byte("paused_runs") // execution id → PausedRun
	bPausedDue    = []byte("paused_due")  // resume time (8 bytes, big endian ns), execution id → nil

	kSchema    = []byte("schema")
	kAuthEpoch = []byte("auth_epoch")
)

// sep joins the parts of composite keys; ids never contain a zero byte.
const sep = 0x00

func ckey(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, sep)
		}
		b = append(b, p...)
	}
	return b
}

// scanPrefix calls fn with the suffix after prefix+sep for every key under it.
func scanPrefix(b *bbolt.Bucket, prefix string, fn func(suffix []byte, v []byte) error) error {
	p := append([]byte(prefix), sep)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && strings.HasPrefix(string(k), string(p)); k, v = c.Next() {
		if err := fn(k[len(p):], v); err != nil {
			return err
		}
	}
	return nil
}

func getJSON[T any](b *bbolt.Bucket, key []byte) (*T, error) {
	v := b.Get(key)
	if v == nil {
		return nil, store.ErrNotFound
	}
	t := new(T)
	if err := json.Unmarshal(v, t); err != nil {
		return nil, fmt.Errorf("decode %s record %q: %w", b.Tx().DB().Path(), key, err)
	}
	return t, nil
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	return b.Put(key, data)
}

func readUint64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func uint64Bytes(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func now() time.Time { return time.Now().UTC() }

func notFound(kind, id string) error { return fmt.Errorf("%s %q: %w", kind, id, store.ErrNotFound) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), store.ErrInvalid)
}
