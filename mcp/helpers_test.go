package mcp_test

import (
	"os"
	"path/filepath"

	"github.com/steelengine/steelengine/internal/testenv"
)

// noLogDB reports whether store/logs.go (the execution log store) is still missing.
func noLogDB() bool {
	_, err := os.Stat(filepath.Join(testenv.Root(), "store", "logs.go"))
	return err != nil
}
