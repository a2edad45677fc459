package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Schema migrations are the files migrations/NNNN_what.sql, applied in order of NNNN.
// To add one, add the next number (the highest existing plus one, four digits, no gaps)
// with a short snake_case name, e.g. migrations/0002_users.sql; never edit or renumber a
// file that has reached main, since databases already record it as applied. A file runs
// inside the migration transaction, so it must not use statements that refuse one
// (CREATE INDEX CONCURRENTLY, ALTER TYPE … ADD VALUE before PostgreSQL 12, VACUUM).
//
// Replicas of the previous release keep serving while the first replica of the next one
// migrates (a rolling upgrade), so a migration only adds: tables, columns that have a
// default or may be null, indexes, functions. Removing or renaming what an older binary
// reads waits for a later release, in a file that says so on a line starting
// "-- contract:" (TestMigrationsOnlyAdd holds every other file to this).
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open when the database was migrated by a newer binary:
// guessing at a schema it does not know could corrupt it, so an older binary refuses.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this binary")

// migrationLockKey names the advisory lock the migrating replica holds; advisory locks are
// per database, so unrelated databases on one server never wait on each other.
const migrationLockKey int64 = 0x5354_4545_4c4d_4947 // "STEELMIG"

type migration struct {
	version int
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// loadMigrations reads and checks the migration files: numbered from 1 without gaps, so a
// merge that gives two files one number fails every test instead of one database.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("postgres: migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, "migrations/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("postgres: read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: expected number %04d (numbers start at 1 without gaps or repeats)", m.name, i+1)
		}
	}
	return ms, nil
}

// Migrate brings the database at url up to this binary's schema, River's tables included,
// and closes its connections before it returns. Open and OpenQueue migrate on their own;
// Migrate prepares a database ahead of them (tests set up their template database with it).
func Migrate(ctx context.Context, url string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("postgres: open pool: %w", err)
	}
	defer pool.Close()
	if err := migrate(ctx, pool, migrationFS); err != nil {
		return err
	}
	return migrateRiver(ctx, pool)
}

// migrate brings the schema up to date in one transaction under a transaction-scoped
// advisory lock: replicas starting together queue on the lock, and each one after the
// first finds nothing left to do. A failed migration rolls back whole, lock included.
func migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > len(ms) {
			return fmt.Errorf("%w: database at migration %d, binary knows %d", ErrSchemaTooNew, current, len(ms))
		}
		for _, m := range ms[current:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrSchemaTooNew) {
			return err
		}
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}
