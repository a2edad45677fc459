package app

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
)

// ConnLimit caps the connections the HTTP server holds open, so that a flood of
// clients (or slow ones) cannot take the descriptors the store, the sandbox workers and
// health checks need. Up to Max connections are served normally; Reserve more are
// accepted for health checks only (anything else on them gets 503 and is closed); past
// Max+Reserve, Accept waits and new clients queue in the kernel's backlog.
type ConnLimit struct {
	Max, Reserve int

	sem    chan struct{}
	active atomic.Int64
}

// overflowKey marks a connection accepted beyond Max.
type overflowKey struct{}

// DefaultMaxConnections picks the connection cap from the descriptor limit: 4096, or
// less when RLIMIT_NOFILE leaves no room for it plus headroom for the data files,
// workers and health checks.
func DefaultMaxConnections() int {
	const want, headroom = 4096, 256
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return want
	}
	if avail := int64(rl.Cur) - headroom; avail < want {
		return int(max(avail, 64))
	}
	return want
}

// NewConnLimit returns a limit of max connections with a small health-check reserve.
func NewConnLimit(n int) *ConnLimit {
	reserve := min(max(n/64, 4), 64)
	return &ConnLimit{Max: n, Reserve: reserve, sem: make(chan struct{}, n+reserve)}
}

// Listener wraps ln so that it holds at most Max+Reserve connections.
func (l *ConnLimit) Listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, l: l, done: make(chan struct{})}
}

// ConnContext marks connections accepted beyond Max (use as http.Server.ConnContext).
func (l *ConnLimit) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitConn); ok && lc.overflow {
		return context.WithValue(ctx, overflowKey{}, true)
	}
	return ctx
}

// Handler lets connections beyond Max reach only the health checks.
func (l *ConnLimit) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(overflowKey{}) != nil && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			w.Header().Set("Connection", "close")
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"Too many connections; retry shortly","code":"too_many_connections"}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

type limitListener struct {
	net.Listener
	l         *ConnLimit
	done      chan struct{}
	closeOnce sync.Once
}

func (ll *limitListener) Accept() (net.Conn, error) {
	select {
	case ll.l.sem <- struct{}{}:
	case <-ll.done:
		return nil, net.ErrClosed
	}
	c, err := ll.Listener.Accept()
	if err != nil {
		<-ll.l.sem
		return nil, err
	}
	n := ll.l.active.Add(1)
	return &limitConn{Conn: c, l: ll.l, overflow: n > int64(ll.l.Max)}, nil
}

func (ll *limitListener) Close() error {
	ll.closeOnce.Do(func() { close(ll.done) })
	return ll.Listener.Close()
}

type limitConn struct {
	net.Conn
	l        *ConnLimit
	overflow bool
	once     sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.active.Add(-1)
		<-c.l.sem
	})
	return err
}
