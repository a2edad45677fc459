package postgres

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

func open(t *testing.T, url string, opts Options) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

func TestLoadMigrations(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name  string
		files []string
		err   string
	}{
		{"ordered", []string{"0002_b.sql", "0001_a.sql"}, ""},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "expected number 0002"},
		{"repeat", []string{"0001_a.sql", "0001_b.sql"}, "expected number 0002"},
		{"not from one", []string{"0002_b.sql"}, "expected number 0001"},
		{"bad name", []string{"0001_a.sql", "2_b.sql"}, "not named NNNN_name.sql"},
		{"upper case", []string{"0001_Users.sql"}, "not named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys["migrations/"+f] = sql
			}
			ms, err := loadMigrations(fsys)
			if tt.err == "" {
				if err != nil || len(ms) != len(tt.files) || ms[0].version != 1 {
					t.Fatalf("got %v, %v", ms, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want one containing %q", err, tt.err)
			}
		})
	}
}

func TestEmbeddedMigrationsAreNumbered(t *testing.T) {
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].name != "0001_epochs.sql" {
		t.Fatalf("migrations = %v", ms)
	}
}

type applied struct {
	version int
	name    string
	at      time.Time
}

func schemaMigrations(t *testing.T, db *DB) []applied {
	t.Helper()
	rows, err := db.Pool().Query(context.Background(), "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []applied
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.version, &a.name, &a.at); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Replicas starting together: every Open succeeds and each migration is applied once.
func TestMigrateConcurrentOpens(t *testing.T) {
	url := pgtest.EmptyURL(t)
	const n = 8
	dbs := make([]*DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dbs[i], errs[i] = Open(ctx, url, Options{MaxConns: 2})
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		t.Cleanup(dbs[i].Close)
	}
	ms, _ := loadMigrations(migrationFS)
	got := schemaMigrations(t, dbs[0])
	if len(got) != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want %d: %v", len(got), len(ms), got)
	}
	for i, a := range got {
		if a.version != ms[i].version || a.name != ms[i].name {
			t.Fatalf("row %d = %+v, want %d %s", i, a, ms[i].version, ms[i].name)
		}
	}

	// Re-opening is a no-op: nothing re-applied, the seeded epochs untouched.
	if _, err := dbs[0].Pool().Exec(context.Background(), "UPDATE epochs SET value = 7 WHERE name = 'auth'"); err != nil {
		t.Fatal(err)
	}
	again := open(t, url, Options{})
	if after := schemaMigrations(t, again); len(after) != len(got) || !after[0].at.Equal(got[0].at) {
		t.Fatalf("re-open changed schema_migrations: %v → %v", got, after)
	}
	if e := again.AuthEpoch(); e != 7 {
		t.Fatalf("re-opened AuthEpoch = %d, want 7 (read from the table, not re-seeded)", e)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	url := pgtest.URL(t)
	db := open(t, url, Options{})
	if _, err := db.Pool().Exec(context.Background(),
		"INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), url, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open on a newer schema: err = %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := Open(ctx, "mysql://nope", Options{}); err == nil || !strings.HasPrefix(err.Error(), "postgres:") {
		t.Fatalf("err = %v", err)
	}
	// A reachable-looking URL whose server is not there fails at Open, not later.
	if _, err := Open(ctx, "postgres://u:secret@/db?host=/nonexistent-dir&connect_timeout=1", Options{}); err == nil {
		t.Fatal("Open with no server succeeded")
	} else if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error shows the password: %v", err)
	}
}

// A migration must not break the previous release's replicas still serving during a
// rolling upgrade: no drops, renames or column rewrites, and no new NOT NULL column
// without a default, unless the file declares itself a contraction ("-- contract:").
func TestMigrationsOnlyAdd(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want int
	}{
		{"ALTER TABLE replicas ADD COLUMN runs text[] NOT NULL DEFAULT '{}';", 0},
		{"CREATE TABLE t (id text PRIMARY KEY NOT NULL); CREATE INDEX i ON t (id);", 0},
		{"-- we never DROP TABLE here\nSELECT 1;", 0},
		{"-- contract: nothing since 0.9 reads t\nDROP TABLE t;", 0},
		{"ALTER TABLE t DROP COLUMN c;", 1},
		{"ALTER TABLE t RENAME TO u;", 1},
		{"ALTER TABLE t ALTER COLUMN c TYPE bigint;", 1},
		{"ALTER TABLE t ADD COLUMN c text NOT NULL;", 1},
		{"DROP INDEX i; TRUNCATE t;", 2},
	} {
		if got := breaking(c.sql); len(got) != c.want {
			t.Errorf("%q: %v, want %d findings", c.sql, got, c.want)
		}
	}
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for _, f := range breaking(m.sql) {
			t.Errorf("%s: %q breaks the previous release's replicas during a rolling upgrade", m.name, f)
		}
	}
}

var (
	breakingSQL = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\bDROP\s+(TABLE|COLUMN|INDEX|CONSTRAINT|TYPE|FUNCTION|VIEW|SCHEMA)\b`),
		regexp.MustCompile(`(?i)\bRENAME\b`),
		regexp.MustCompile(`(?i)\bALTER\s+COLUMN\b`),
		regexp.MustCompile(`(?i)\bTRUNCATE\b`),
	}
	notNullColumn = regexp.MustCompile(`(?i)\bADD\s+COLUMN\b.*\bNOT\s+NULL\b`)
	defaulted     = regexp.MustCompile(`(?i)\bDEFAULT\b`)
)

// breaking returns the statements of a migration an older binary could trip over.
func breaking(sql string) []string {
	if strings.HasPrefix(sql, "-- contract:") || strings.Contains(sql, "\n-- contract:") {
		return nil
	}
	var out []string
	for _, stmt := range strings.Split(stripComments(sql), ";") {
		stmt = strings.TrimSpace(stmt)
		for _, re := range breakingSQL {
			if re.MatchString(stmt) {
				out = append(out, stmt)
			}
		}
		if notNullColumn.MatchString(stmt) && !defaulted.MatchString(stmt) {
			out = append(out, stmt)
		}
	}
	return out
}

// stripComments drops SQL line comments.
func stripComments(sql string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(sql, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// Migrate prepares an empty database whole (our tables and River's); running it again, as
// Open does after it, changes nothing.
func TestMigrate(t *testing.T) {
	url := pgtest.EmptyURL(t)
	for range 2 {
		if err := Migrate(t.Context(), url); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	db := open(t, url, Options{})
	ms, _ := loadMigrations(migrationFS)
	if got := schemaMigrations(t, db); len(got) != len(ms) {
		t.Fatalf("schema_migrations has %d rows, want %d: %v", len(got), len(ms), got)
	}
	var river bool
	if err := db.Pool().QueryRow(t.Context(), "SELECT to_regclass('river_job') IS NOT NULL").Scan(&river); err != nil || !river {
		t.Fatalf("River's tables after Migrate: %v, %v", river, err)
	}
}
