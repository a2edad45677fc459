package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steelengine/steelengine/store"
)

// Errors that mean the database could not be reached (refused, reset, restarting,
// failing over, out of connections) are marked store.ErrUnavailable as they leave the
// pool, so the front doors answer 503 storage_unavailable with Retry-After, as they do
// when bbolt's disk fails, rather than 500; and /readyz says the same meanwhile. Every
// query goes through pgPool, and every transaction and batch through what it returns.

// unavailable marks err as store.ErrUnavailable when it is a lost or refused connection.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || !connectionLost(err) {
		return err
	}
	return &unavailableError{err}
}

type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{store.ErrUnavailable, e.err} }

func connectionLost(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller left; nothing is wrong with the database
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01–03: shutting down, crashed, starting;
		// 53300: too many connections.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "53300"
	}
	var ne *net.OpError
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err)
}

// pgPool is the connection pool with its errors classified (unavailable).
type pgPool struct{ *pgxpool.Pool }

func (p pgPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := p.Pool.Exec(ctx, sql, args...)
	return tag, unavailable(err)
}

func (p pgPool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rs, err := p.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, unavailable(err)
	}
	return rows{rs}, nil
}

func (p pgPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return row{p.Pool.QueryRow(ctx, sql, args...)}
}

func (p pgPool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return batchResults{p.Pool.SendBatch(ctx, b)}
}

func (p pgPool) Begin(ctx context.Context) (pgx.Tx, error) {
	t, err := p.Pool.Begin(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	return tx{t}, nil
}

func (p pgPool) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	t, err := p.Pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, unavailable(err)
	}
	return tx{t}, nil
}

func (p pgPool) Ping(ctx context.Context) error { return unavailable(p.Pool.Ping(ctx)) }

// tx is a transaction with its errors classified.
type tx struct{ pgx.Tx }

func (t tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := t.Tx.Exec(ctx, sql, args...)
	return tag, unavailable(err)
}

func (t tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rs, err := t.Tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, unavailable(err)
	}
	return rows{rs}, nil
}

func (t tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return row{t.Tx.QueryRow(ctx, sql, args...)}
}

func (t tx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return batchResults{t.Tx.SendBatch(ctx, b)}
}

func (t tx) Commit(ctx context.Context) error { return unavailable(t.Tx.Commit(ctx)) }

type rows struct{ pgx.Rows }

func (r rows) Err() error             { return unavailable(r.Rows.Err()) }
func (r rows) Scan(dest ...any) error { return unavailable(r.Rows.Scan(dest...)) }
func (r rows) Values() ([]any, error) { v, err := r.Rows.Values(); return v, unavailable(err) }

type row struct{ pgx.Row }

func (r row) Scan(dest ...any) error { return unavailable(r.Row.Scan(dest...)) }

type batchResults struct{ pgx.BatchResults }

func (b batchResults) Exec() (pgconn.CommandTag, error) {
	tag, err := b.BatchResults.Exec()
	return tag, unavailable(err)
}

func (b batchResults) Query() (pgx.Rows, error) {
	rs, err := b.BatchResults.Query()
	if err != nil {
		return nil, unavailable(err)
	}
	return rows{rs}, nil
}

func (b batchResults) QueryRow() pgx.Row { return row{b.BatchResults.QueryRow()} }
func (b batchResults) Close() error      { return unavailable(b.BatchResults.Close()) }
