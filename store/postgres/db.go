// Package postgres is the PostgreSQL storage backend: several SteelEngine replicas share one
// database (see DESIGN §6). This file opens the pool, runs the schema migrations and starts
// the epoch listener; the domain stores live beside it.
package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tunes a DB; the zero value is what production uses.
type Options struct {
	// MaxConns caps the pool (0: pgxpool's default, the larger of 4 and the CPU count).
	// The epoch listener holds one more connection of its own.
	MaxConns int32
	// PollInterval is how often epochs are re-read from the table while the notification
	// connection is down, and how long that connection may stay silent before it is pinged
	// (0: 500 ms). A change made on another replica is seen within about two intervals.
	PollInterval time.Duration
	// ReconnectMin and ReconnectMax bound the listener's reconnect backoff, which doubles
	// from Min to Max while reconnecting keeps failing (0: 100 ms and 5 s).
	ReconnectMin, ReconnectMax time.Duration
	// Logger receives listener failures (nil: slog.Default()).
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.PollInterval <= 0 {
		o.PollInterval = 500 * time.Millisecond
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 100 * time.Millisecond
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = max(5*time.Second, o.ReconnectMin)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// DB is one replica's handle on the shared database.
type DB struct {
	pool pgPool // errors classified (unavailable.go)
	opts Options
	ep   epochs

	listener listenerState
	// onCancel is told of runs another replica asked this one to cancel (OnCancel).
	onCancel atomic.Pointer[func(execID string)]
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closed   sync.Once
}

// Open connects to url (postgres://…), migrates the schema to this binary's version and
// loads the epochs. Several replicas may open the same database at once: migrations run
// once, under an advisory lock.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	opts.defaults()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err) // pgx's message names no password
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	db := &DB{pool: pgPool{pool}, opts: opts}
	if err := db.start(ctx, cfg.ConnConfig); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) start(ctx context.Context, connCfg *pgx.ConnConfig) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, db.pool.Pool, migrationFS); err != nil {
		return err
	}
	if err := db.ep.refresh(ctx, db.pool); err != nil {
		return err
	}
	listenCfg := connCfg.Copy()
	listenCfg.RuntimeParams["application_name"] = listenerAppName
	bg, cancel := context.WithCancel(context.Background())
	db.cancel = cancel
	db.listener.started = time.Now()
	db.wg.Add(2)
	go func() { defer db.wg.Done(); db.listen(bg, listenCfg) }()
	go func() { defer db.wg.Done(); db.poll(bg) }()
	return nil
}

// Close stops the listener and closes every connection.
func (db *DB) Close() {
	db.closed.Do(func() {
		db.cancel()
		db.wg.Wait()
		db.pool.Close()
	})
}

// Pool is the connection pool the domain stores query through.
func (db *DB) Pool() *pgxpool.Pool { return db.pool.Pool }

// InTx runs fn in one transaction and commits it when fn returns nil. Epochs bumped in it
// with BumpEpoch move on this replica as soon as the commit returns, before InTx does, so
// the replica that made a change never serves a decision cached before it; other replicas
// follow through NOTIFY.
func (db *DB) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	inner, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	tx := &epochTx{Tx: inner}
	// After a commit this does nothing; otherwise the error that matters is fn's (or a
	// panic), and a failed rollback only means the connection is gone, which the pool
	// then discards.
	defer func() { _ = inner.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := inner.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	for name, v := range tx.bumped {
		db.ep.observe(name, v)
	}
	return nil
}
