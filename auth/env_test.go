package auth

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/bolt"
)

// clock is a settable time source for expiry and grace tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testEnv struct {
	st  store.Store
	sec *Secrets
	az  *Authorizer
	r   *Resolver
	clk *clock
	dir string

	closeOnce sync.Once
}

// newEnv opens a real store in a temporary directory with a resolver on a fake clock.
func newEnv(t testing.TB) *testEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := bolt.Open(context.Background(), dir, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return envOn(t, st, dir)
}

// envOn wires secrets from dir and a resolver on a fake clock over st, which it closes
// when t ends (or earlier, through close).
func envOn(t testing.TB, st store.Store, dir string) *testEnv {
	t.Helper()
	sec, err := LoadSecrets(dir, "")
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	clk := &clock{t: time.Now().UTC()}
	az := NewAuthorizer(st)
	r := NewResolver(st, sec, az, Options{DefaultRateLimit: 1 << 30, Now: clk.Now}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := &testEnv{st: st, sec: sec, az: az, r: r, clk: clk, dir: dir}
	t.Cleanup(e.close)
	return e
}

// close stops the resolver and closes the store; later calls do nothing.
func (e *testEnv) close() {
	e.closeOnce.Do(func() {
		e.r.Close(context.Background())
		e.st.Close()
	})
}

func (e *testEnv) must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) user(t testing.TB, email string) *store.User {
	t.Helper()
	u := &store.User{Email: email, Name: email}
	e.must(t, e.st.CreateUser(context.Background(), u))
	return u
}

func (e *testEnv) workspace(t testing.TB, name, owner, org string) *store.Workspace {
	t.Helper()
	ws := store.NewWorkspace(name, owner, org)
	e.must(t, e.st.CreateWorkspace(context.Background(), ws))
	return ws
}

func (e *testEnv) workflow(t testing.TB, wsID, name string) *store.Workflow {
	t.Helper()
	wf := &store.Workflow{WorkspaceID: wsID, Name: name, Draft: []byte(`{}`)}
	e.must(t, e.st.CreateWorkflow(context.Background(), wf))
	return wf
}

func (e *testEnv) key(t testing.TB, req CreateKeyRequest) (string, *store.APIKey) {
	t.Helper()
	if req.Name == "" {
		req.Name = "key-" + store.NewID()
	}
	plain, k, err := e.r.CreateKey(context.Background(), Operator(), req)
	e.must(t, err)
	return plain, k
}

// check resolves key and authorizes target at need, returning "" for allowed or the
// error code.
func (e *testEnv) check(t testing.TB, key string, target Target, need store.Level) string {
	t.Helper()
	ctx := context.Background()
	var p *Principal
	var err error
	if strings.HasPrefix(key, AccessTokenPrefix) {
		p, err = e.r.ResolveMCP(ctx, key, "127.0.0.1", modelResource)
	} else {
		p, err = e.r.Resolve(ctx, key, "127.0.0.1", TransportHTTP)
	}
	if err == nil {
		err = e.az.Authorize(ctx, p, target, need)
	}
	if err == nil {
		return ""
	}
	ae, ok := err.(*Error)
	if !ok {
		t.Fatalf("non-auth error: %v", err)
	}
	return ae.Code
}
