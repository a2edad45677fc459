package pgtest

import (
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Proxy stands between the tests and a database so that a test can take the database
// away (Down: new connections are refused and open ones cut, as when the server restarts
// or fails over) and bring it back (Up), without touching the server other tests share.
type Proxy struct {
	t             testing.TB
	network, addr string // the server's
	mu            sync.Mutex
	ln            net.Listener
	listen        string // the proxy's address, the same across Down and Up
	conns         map[net.Conn]struct{}
}

// NewProxy starts a proxy to the database at rawURL and returns it with the URL that
// reaches the database through it.
func NewProxy(t testing.TB, rawURL string) (*Proxy, string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	p := &Proxy{t: t, network: "tcp", addr: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), conns: map[net.Conn]struct{}{}}
	if strings.HasPrefix(cfg.Host, "/") {
		p.network, p.addr = "unix", cfg.Host+"/.s.PGSQL."+strconv.Itoa(int(cfg.Port))
	}
	p.listen = "127.0.0.1:0"
	p.Up()
	t.Cleanup(p.Down)
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("pgtest: proxy: %v", err)
	}
	q := u.Query()
	q.Del("host")
	q.Set("sslmode", "disable")
	u.Host, u.RawQuery = p.listen, q.Encode()
	return p, u.String()
}

// Up accepts connections again (on the same address).
func (p *Proxy) Up() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", p.listen)
	if err != nil {
		p.t.Fatalf("pgtest: proxy listen: %v", err)
	}
	p.ln, p.listen = ln, ln.Addr().String()
	go p.accept(ln)
}

// Down refuses new connections and cuts the open ones.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *Proxy) pipe(c net.Conn) {
	s, err := net.Dial(p.network, p.addr)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // went down meanwhile
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}
