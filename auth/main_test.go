package auth

import (
	"os"
	"testing"

	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster (started only by a test that asks
// pgtest for a database) when the tests end.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
