package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

func TestUnavailableMarksLostConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, refused := pgx.Connect(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if refused == nil {
		t.Fatal("connecting to port 1 worked")
	}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"server starting", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"connection reset", fmt.Errorf("read: %w", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}), true},
		{"cut mid-message", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"no rows", pgx.ErrNoRows, false},
		{"caller left", fmt.Errorf("query: %w", context.Canceled), false},
		{"a bug", errors.New("syntax error"), false},
	} {
		err := unavailable(c.err)
		if got := errors.Is(err, store.ErrUnavailable); got != c.want {
			t.Errorf("%s: unavailable = %v, want %v (%v)", c.name, got, c.want, err)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: the cause is lost: %v", c.name, err)
		}
	}
	if unavailable(nil) != nil {
		t.Error("nil became an error")
	}
}

// A database that goes away (restart, failover) makes every store call fail with
// ErrUnavailable, and when it comes back the same store serves again by itself: the pool
// reconnects, the log writer commits, and the epoch listener listens again.
func TestDatabaseOutageIsUnavailableThenHeals(t *testing.T) {
	ctx := context.Background()
	direct := pgtest.URL(t)
	proxy, url := pgtest.NewProxy(t, direct)
	s, err := OpenStore(ctx, url, Options{PollInterval: 100 * time.Millisecond, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	other := testStore(t, direct) // another replica, on its own connection
	u := &store.User{Email: "o@x.io", Name: "o"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	ws := store.NewWorkspace("W", u.ID, "")
	if err := s.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	exec := func(id string) *store.Execution {
		return &store.Execution{ID: id, WorkflowID: "wf", WorkspaceID: ws.ID, Status: store.StatusCompleted, Level: "info",
			Trigger: store.TriggerAPI, StartedAt: time.Now().UTC()}
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"ping", func() error { return s.Ping(ctx) }},
		{"read in a view", func() error {
			return s.View(ctx, func(r store.Reader) error { _, err := r.Workspace(ws.ID); return err })
		}},
		{"write in a transaction", func() error {
			return s.SetEnvVar(ctx, &store.EnvVar{WorkspaceID: ws.ID, Name: "A", Ciphertext: []byte("x")})
		}},
		{"plain write", func() error { return s.DeleteEnvVar(ctx, ws.ID, "A") }},
		{"list", func() error { _, err := s.ModelProviders(ctx, ws.ID); return err }},
		{"log write", func() error { return s.Logs().Put(ctx, exec(store.NewID())) }},
		{"log read", func() error { _, err := s.Logs().Count(ctx); return err }},
	}

	proxy.Down()
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with the database down: %v, want ErrUnavailable", c.name, err)
		}
	}
	eventually(t, 5*time.Second, "the listener notices", func() bool { return !s.Listening() })
	c0 := s.ConfigEpoch()

	proxy.Up()
	eventually(t, 10*time.Second, "the store serves again", func() bool { return s.Ping(ctx) == nil })
	for _, c := range calls {
		if c.name == "plain write" {
			continue // deletes what the write in a transaction set
		}
		if err := c.call(); err != nil {
			t.Errorf("%s after the database came back: %v", c.name, err)
		}
	}
	if err := s.DeleteEnvVar(ctx, ws.ID, "A"); err != nil {
		t.Errorf("plain write after the database came back: %v", err)
	}
	eventually(t, 10*time.Second, "the listener listens again", s.Listening)
	if err := other.SetEnvVar(ctx, &store.EnvVar{WorkspaceID: ws.ID, Name: "B", Ciphertext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "a change on another replica arrives", func() bool { return s.ConfigEpoch() > c0+2 })
}
