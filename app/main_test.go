package app

import (
	"os"
	"testing"

	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster the postgres tests start (pgtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
