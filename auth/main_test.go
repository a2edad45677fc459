package auth

import (
	"os"
	"testing"

	"github.com/steelengine/steelengine/store/postgres"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster (started only by a test that asks
// pgtest for a database) when the tests end; the databases pgtest gives come migrated.
func TestMain(m *testing.M) {
	pgtest.Template(postgres.Migrate)
	os.Exit(pgtest.Main(m))
}
