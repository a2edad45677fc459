package pgtest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func dbName(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func exists(t *testing.T, name string) bool {
	t.Helper()
	var n int
	if err := srv.admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// Each test gets its own empty database, gone when the test ends even with a connection
// still open on it.
func TestURL(t *testing.T) {
	var first string
	t.Run("a", func(t *testing.T) {
		u := URL(t)
		first = dbName(t, u)
		conn, err := pgx.Connect(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		var tables int
		if err := conn.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Fatalf("new database has %d tables", tables)
		}
		if _, err := conn.Exec(context.Background(), "CREATE TABLE t (x int)"); err != nil {
			t.Fatal(err)
		}
		// conn left open on purpose
	})
	if first == "" {
		t.Skip("no server") // "a" skipped
	}
	if exists(t, first) {
		t.Fatalf("database %s outlived its test", first)
	}
	second := dbName(t, URL(t))
	if second == first || !exists(t, second) {
		t.Fatalf("second database %q (first %q) missing or reused", second, first)
	}
}
