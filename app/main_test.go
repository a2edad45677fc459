package app

import (
	"os"
	"testing"

	"github.com/steelengine/steelengine/store/postgres"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster the postgres tests start (pgtest); the
// databases pgtest gives come migrated.
func TestMain(m *testing.M) {
	pgtest.Template(postgres.Migrate)
	os.Exit(pgtest.Main(m))
}
