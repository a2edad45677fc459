package postgres

import (
	"os"
	"testing"

	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
