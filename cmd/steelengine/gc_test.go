package main

import (
	"runtime/debug"
	"testing"
)

// serve collects less often than the Go default unless GOGC / GOMEMLIMIT say otherwise.
func TestTuneGC(t *testing.T) {
	prevPct, prevLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(prevPct); debug.SetMemoryLimit(prevLimit) })

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	tuneGC()
	if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); pct != 400 || limit != gcSoftLimit {
		t.Errorf("defaults: GOGC %d, limit %d; want 400, %d", pct, limit, gcSoftLimit)
	}

	t.Setenv("GOGC", "50")
	t.Setenv("GOMEMLIMIT", "200MiB")
	debug.SetGCPercent(50)
	debug.SetMemoryLimit(200 << 20)
	tuneGC()
	if pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); pct != 50 || limit != 200<<20 {
		t.Errorf("operator's settings: GOGC %d, limit %d; want 50, %d", pct, limit, 200<<20)
	}
}
