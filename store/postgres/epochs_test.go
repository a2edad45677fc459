package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// eventually waits up to d for cond and reports how long it took.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func bump(t *testing.T, db *DB, names ...string) {
	t.Helper()
	err := db.InTx(context.Background(), func(tx pgx.Tx) error {
		for _, n := range names {
			if err := BumpEpoch(context.Background(), tx, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("bump %v: %v", names, err)
	}
}

func tableEpoch(t *testing.T, db *DB, name string) uint64 {
	t.Helper()
	var v int64
	err := db.Pool().QueryRow(context.Background(), "SELECT coalesce((SELECT value FROM epochs WHERE name = $1), 0)", name).Scan(&v)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(v)
}

// A bump committed on one replica moves that replica before InTx returns and reaches a
// second replica through NOTIFY: its poll interval is far too long to explain the speed.
func TestEpochBumpReachesOtherReplica(t *testing.T) {
	url := pgtest.URL(t)
	a := open(t, url, Options{})
	b := open(t, url, Options{PollInterval: 10 * time.Second})
	eventually(t, 5*time.Second, "b listening", func() bool { return b.listener.up.Load() })

	auth0, wf0 := a.AuthEpoch(), a.WorkflowEpoch()
	bump(t, a, EpochAuth, EpochAuth) // twice in one transaction: one step
	if got := a.AuthEpoch(); got != auth0+1 {
		t.Fatalf("after commit, a.AuthEpoch = %d, want %d at once", got, auth0+1)
	}
	took := eventually(t, time.Second, "b sees the auth bump", func() bool { return b.AuthEpoch() == auth0+1 })
	t.Logf("NOTIFY reached the other replica %v after the commit returned", took)
	if got := tableEpoch(t, a, EpochAuth); got != auth0+1 {
		t.Fatalf("table auth = %d, want %d", got, auth0+1)
	}
	if b.WorkflowEpoch() != wf0 {
		t.Fatalf("workflow epoch moved with auth: %d → %d", wf0, b.WorkflowEpoch())
	}

	bump(t, b, EpochWorkflows, "providers")
	eventually(t, time.Second, "a sees b's bumps", func() bool {
		return a.WorkflowEpoch() == wf0+1 && a.Epoch("providers") == 1
	})
}

// A bump in a transaction InTx did not start still reaches every replica, this one included.
func TestEpochBumpOutsideInTx(t *testing.T) {
	url := pgtest.URL(t)
	a := open(t, url, Options{})
	b := open(t, url, Options{})
	eventually(t, 5*time.Second, "listeners up", func() bool { return a.listener.up.Load() && b.listener.up.Load() })
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, a.Pool(), func(tx pgx.Tx) error { return BumpEpoch(ctx, tx, EpochAuth) })
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "both replicas see it", func() bool { return a.AuthEpoch() == 1 && b.AuthEpoch() == 1 })
}

func TestEpochRolledBackBumpsNothing(t *testing.T) {
	url := pgtest.URL(t)
	a := open(t, url, Options{})
	b := open(t, url, Options{PollInterval: 50 * time.Millisecond})
	eventually(t, 5*time.Second, "b listening", func() bool { return b.listener.up.Load() })
	refused := errors.New("change refused")
	err := a.InTx(context.Background(), func(tx pgx.Tx) error {
		if err := BumpEpoch(context.Background(), tx, EpochAuth); err != nil {
			return err
		}
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("InTx err = %v, want fn's error", err)
	}
	time.Sleep(300 * time.Millisecond) // several of b's poll intervals, ample for a NOTIFY
	if a.AuthEpoch() != 0 || b.AuthEpoch() != 0 || tableEpoch(t, a, EpochAuth) != 0 {
		t.Fatalf("rolled-back bump moved epochs: a=%d b=%d table=%d", a.AuthEpoch(), b.AuthEpoch(), tableEpoch(t, a, EpochAuth))
	}
	bump(t, a, EpochAuth)
	eventually(t, time.Second, "the next committed bump", func() bool { return b.AuthEpoch() == 1 })
}

// With its notification connection killed, a replica still sees a bump within 1 s by
// polling, and the listener comes back. The reconnect delay (1.5 to 3 s with jitter) is
// held above the second allowed, so it is the polling, not a quick reconnect's re-read,
// that delivers the bump.
func TestEpochListenerKilled(t *testing.T) {
	url := pgtest.URL(t)
	a := open(t, url, Options{})
	b := open(t, url, Options{ReconnectMin: 3 * time.Second, ReconnectMax: 3 * time.Second})
	eventually(t, 5*time.Second, "b listening", func() bool { return b.listener.up.Load() })
	pid := b.listener.pid.Load()

	var killed bool
	err := a.Pool().QueryRow(context.Background(),
		"SELECT pg_terminate_backend($1) FROM pg_stat_activity WHERE pid = $1 AND application_name = $2",
		int32(pid), listenerAppName).Scan(&killed)
	if err != nil || !killed {
		t.Fatalf("terminate listener %d: %v %v", pid, killed, err)
	}
	eventually(t, time.Second, "b notices the lost listener", func() bool { return !b.listener.up.Load() })

	bump(t, a, EpochAuth)
	took := eventually(t, time.Second, "b polls the bump", func() bool { return b.AuthEpoch() == 1 })
	t.Logf("polling delivered the bump in %v", took)
	if b.listener.up.Load() {
		t.Fatal("listener already back: the test cannot tell polling from the re-read")
	}

	eventually(t, 10*time.Second, "b's listener reconnects", func() bool {
		p := b.listener.pid.Load()
		return b.listener.up.Load() && p != 0 && p != pid
	})
	bump(t, a, EpochWorkflows)
	eventually(t, time.Second, "b hears the next bump", func() bool { return b.WorkflowEpoch() == 1 })
}

func TestEpochNotificationPayload(t *testing.T) {
	var e epochs
	for _, tt := range []struct {
		payload string
		ok      bool
	}{
		{"auth:3", true}, {"a:b:4", true}, {"auth", false}, {"auth:x", false}, {"auth:-1", false},
	} {
		if got := e.notified(tt.payload); got != tt.ok {
			t.Errorf("notified(%q) = %v, want %v", tt.payload, got, tt.ok)
		}
	}
	if e.auth.Load() != 3 || e.get("a:b").Load() != 4 {
		t.Fatalf("auth=%d a:b=%d", e.auth.Load(), e.get("a:b").Load())
	}
	e.observe(EpochAuth, 2) // an older report never moves an epoch back
	if e.auth.Load() != 3 {
		t.Fatalf("epoch went back to %d", e.auth.Load())
	}
}

// Replicas bumping at once: no bump is lost and every replica ends on the table's value.
func TestEpochConcurrentBumps(t *testing.T) {
	url := pgtest.URL(t)
	dbs := []*DB{open(t, url, Options{}), open(t, url, Options{})}
	const workers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := dbs[i%len(dbs)]
			for range each {
				err := db.InTx(context.Background(), func(tx pgx.Tx) error {
					return BumpEpoch(context.Background(), tx, EpochAuth)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const want = workers * each
	if got := tableEpoch(t, dbs[0], EpochAuth); got != want {
		t.Fatalf("table auth = %d, want %d", got, want)
	}
	eventually(t, time.Second, "both replicas at the final value", func() bool {
		return dbs[0].AuthEpoch() == want && dbs[1].AuthEpoch() == want
	})
}
