package main

import (
	"strings"
	"testing"
)

// Commands that work on bbolt files refuse a PostgreSQL store by name instead of opening
// the data directory's (absent) files.
func TestBoltOnlyCommandsRefuseDatabaseURL(t *testing.T) {
	data := newDataDir(t)
	for _, args := range [][]string{
		{"compact"},
		{"check"},
		{"restore", "archive.tar"},
	} {
		t.Run(args[0], func(t *testing.T) {
			_, stderr, code := runCLIEnv(t, []string{"STEELENGINE_DATABASE_URL=postgres://nobody@127.0.0.1:1/none"},
				append([]string{"--data-dir", data}, args...)...)
			if code != 2 || !strings.Contains(stderr, "bbolt files") {
				t.Fatalf("%v with a database URL: exit %d, stderr %q; want 2 naming the bbolt files", args, code, stderr)
			}
		})
	}
}
