package postgres

import (
	"os"
	"testing"

	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// The databases pgtest gives come migrated (a copy of a template set up once per test
// binary); the migration tests ask for an empty one with pgtest.EmptyURL.
func TestMain(m *testing.M) {
	pgtest.Template(Migrate)
	os.Exit(pgtest.Main(m))
}
