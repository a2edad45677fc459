package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/steelengine/steelengine/store"
)

// dbtx is what the domain queries run on: the pool (single reads), a write transaction
// from InTx, or a View's read transaction. One query function serves all three.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// queryOne runs a query expected to return one row and scans it; no row is
// store.ErrNotFound wrapped as "kind "id": not found", as bolt words it.
func queryOne[T any](ctx context.Context, q dbtx, kind, id string, scan func(pgx.Row) (T, error), sql string, args ...any) (T, error) {
	v, err := scan(q.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, notFound(kind, id)
	}
	if err != nil {
		return v, fmt.Errorf("postgres: read %s %q: %w", kind, id, err)
	}
	return v, nil
}

// queryList runs a query and scans every row; no rows is a nil slice, as bolt returns.
func queryList[T any](ctx context.Context, q dbtx, what string, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s: %w", what, err)
	}
	out, err := pgx.AppendRows([]T(nil), rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s: %w", what, err)
	}
	return out, nil
}

// scanString scans a one-column text row (id lists).
func scanString(r pgx.Row) (s string, err error) { err = r.Scan(&s); return s, err }

func notFound(kind, id string) error { return fmt.Errorf("%s %q: %w", kind, id, store.ErrNotFound) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), store.ErrInvalid)
}

// PostgreSQL error codes the store maps onto its sentinels.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// pgCode returns the SQLSTATE of err, or "" when err is not from the server.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// isUnique reports whether err is a unique violation (store.ErrConflict to callers).
func isUnique(err error) bool { return pgCode(err) == pgUniqueViolation }

// pgTime is t as PostgreSQL stores it: timestamptz keeps microseconds, and truncating
// (the server would round) keeps a record the store returns equal to the one it took.
func pgTime(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// pgTimePtr is pgTime for optional times.
func pgTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := pgTime(*t)
	return &v
}

// utcPtr returns a scanned optional time in UTC (pgx scans into the local zone).
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}
