package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

var _ store.Store = (*Store)(nil)

// Store is store.Store on PostgreSQL: one replica's view of the shared database. Every
// write is one transaction that bumps the epochs it invalidates (BumpEpoch), so caches on
// every replica follow.
type Store struct {
	*DB
	logs *logs
}

// OpenStore connects to url, migrates the schema and returns the store.
func OpenStore(ctx context.Context, url string, opts Options) (*Store, error) {
	db, err := Open(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	return &Store{DB: db, logs: newLogs(db)}, nil
}

// Close stops the log writer and closes the database handle.
func (s *Store) Close() error {
	err := s.logs.close()
	s.DB.Close()
	return err
}

// Logs returns the execution log.
func (s *Store) Logs() store.Logs { return s.logs }

// Ping answers whether the database serves a query.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w: %w", store.ErrUnavailable, err)
	}
	return nil
}

// HasKeys reports whether any API key is stored.
func (s *Store) HasKeys(ctx context.Context) (bool, error) {
	var has bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys)`).Scan(&has)
	if err != nil {
		return false, fmt.Errorf("postgres: has keys: %w", err)
	}
	return has, nil
}

// View runs fn in one read-only, repeatable-read transaction: every read sees the same
// snapshot, as a bbolt read transaction does.
func (s *Store) View(ctx context.Context, fn func(r store.Reader) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: begin read: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return fn(&reader{ctx: ctx, tx: tx})
}

// reader is store.Reader over one read transaction. Reader methods take no context (the
// interface is shaped by bbolt's cheap reads); the View's context bounds them.
type reader struct {
	ctx context.Context
	tx  pgx.Tx
}
