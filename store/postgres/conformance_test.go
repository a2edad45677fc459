package postgres

import (
	"testing"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
	"github.com/steelengine/steelengine/store/storetest"
)

// Parallel: the suite runs while TestHeartbeatKeepsLongJobFromRescue waits out River's
// rescuer (each has databases of its own), not after it.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := OpenStore(t.Context(), pgtest.URL(t), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
