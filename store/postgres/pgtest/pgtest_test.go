package pgtest

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

// setups counts the runs of the template function.
var setups atomic.Int32

func TestMain(m *testing.M) {
	Template(func(ctx context.Context, url string) error {
		setups.Add(1)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE from_template (x int)")
		return err
	})
	os.Exit(Main(m))
}

// tables lists the tables of the database at u.
func tables(t *testing.T, u string) []string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(context.Background(), "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

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

// Each test gets its own copy of the template, gone when the test ends even with a
// connection still open on it; the template is set up once.
func TestURL(t *testing.T) {
	var first string
	t.Run("a", func(t *testing.T) {
		u := URL(t)
		first = dbName(t, u)
		if got := tables(t, u); len(got) != 1 || got[0] != "from_template" {
			t.Fatalf("new database has tables %v, want [from_template]", got)
		}
		conn, err := pgx.Connect(context.Background(), u)
		if err != nil {
			t.Fatal(err)
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
	u := URL(t)
	second := dbName(t, u)
	if second == first || !exists(t, second) {
		t.Fatalf("second database %q (first %q) missing or reused", second, first)
	}
	if got := tables(t, u); len(got) != 1 {
		t.Fatalf("second database has tables %v: the first's leaked into the template", got)
	}
	if n := setups.Load(); n != 1 {
		t.Fatalf("template function ran %d times, want once", n)
	}
}

func TestEmptyURL(t *testing.T) {
	u := EmptyURL(t)
	if got := tables(t, u); len(got) != 0 {
		t.Fatalf("EmptyURL's database has tables %v", got)
	}
}

// Where the template cannot be copied, each database is set up on its own: same schema.
func TestURLWithoutTemplate(t *testing.T) {
	URL(t) // the template is built
	if tplName == "" {
		t.Fatalf("no template: %v", tplFailure)
	}
	saved := copies
	failed := make(chan copied, 1)
	failed <- copied{err: errors.New("copy refused")}
	copies = failed
	defer func() { copies = saved }()
	before := setups.Load()
	u := URL(t)
	if got := tables(t, u); len(got) != 1 || got[0] != "from_template" {
		t.Fatalf("database set up on its own has tables %v, want [from_template]", got)
	}
	if n := setups.Load() - before; n != 1 {
		t.Fatalf("template function ran %d times for the fallback, want once", n)
	}
	close(failed) // copying has stopped: every later database is set up on its own too
	if got := tables(t, URL(t)); len(got) != 1 || got[0] != "from_template" {
		t.Fatalf("database set up on its own has tables %v, want [from_template]", got)
	}
}
