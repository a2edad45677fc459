// Package mcp serves deployed workflows as MCP tools (github.com/mark3labs/mcp-go):
// Streamable HTTP at /mcp (every deployed workflow the key may execute) and at
// /api/mcp/serve/{serverId} (the workflows of one MCP server object), and stdio for
// local clients. Every request is authenticated by the shared resolver before any
// JSON-RPC; what a key may see and call is decided by auth, through core, per request.
package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
)

// Config configures the MCP front door.
type Config struct {
	// PublicURL is where clients reach SteelEngine (e.g. https://flows.example.com);
	// its host and origin are always allowed.
	PublicURL string
	// AllowedOrigins are browser origins (scheme://host[:port]) allowed besides the
	// request's own host and PublicURL's; "*" allows any.
	AllowedOrigins []string
	// AllowedHosts are Host header values (host or host:port) allowed besides
	// loopback names and PublicURL's host. When set, other hosts are refused;
	// when empty, only loopback connections insist on a loopback Host.
	AllowedHosts []string
	// SessionIdleTTL frees a session's state after this long without requests
	// (default 30 minutes).
	SessionIdleTTL time.Duration
	// MaxBodyBytes bounds one POST body (default 10 MiB).
	MaxBodyBytes int64
}

// Deps are the collaborators of the MCP front door.
type Deps struct {
	Service  *core.Service
	Resolver *auth.Resolver
	// Secrets sign session ids, so that every replica sharing the master key accepts
	// them (nil: ids are good on this process only).
	Secrets *auth.Secrets
	Logger  *slog.Logger
}

// Server is the MCP front door.
type Server struct {
	cfg   Config
	svc   *core.Service
	res   *auth.Resolver
	sec   *auth.Secrets
	log   *slog.Logger
	guard hostGuard

	all *endpoint // /mcp

	mu      sync.Mutex
	serve   map[string]*endpoint // server object id → endpoint
	extra   map[*endpoint]bool   // stdio endpoints being served
	closed  bool
	stop    chan struct{}
	stopped chan struct{}
}

const (
	defaultIdleTTL = 30 * time.Minute
	defaultMaxBody = 10 << 20
	watchInterval  = 250 * time.Millisecond
	serverName     = "steelengine"
	serverVersion  = "1.0.0"
)

// New builds the MCP front door. Close stops it.
func New(cfg Config, deps Deps) *Server {
	if cfg.SessionIdleTTL <= 0 {
		cfg.SessionIdleTTL = defaultIdleTTL
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBody
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		cfg: cfg, svc: deps.Service, res: deps.Resolver, sec: deps.Secrets, log: log.With("component", "mcp"),
		guard: newHostGuard(cfg),
		serve: map[string]*endpoint{}, extra: map[*endpoint]bool{},
		stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	s.all = s.newEndpoint("", serverName)
	go s.watch()
	return s
}

// Mount registers /mcp and /api/mcp/serve/{serverId}.
func (s *Server) Mount(mux *http.ServeMux) {
	mux.Handle("/mcp", s.handler(func(*http.Request) string { return "" }))
	mux.Handle("/api/mcp/serve/{serverId}", s.handler(func(r *http.Request) string { return r.PathValue("serverId") }))
	s.mountOAuth(mux)
}

// Close ends open sessions and stops watching for tool list changes.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	eps := []*endpoint{s.all}
	for _, e := range s.serve {
		eps = append(eps, e)
	}
	s.mu.Unlock()
	close(s.stop)
	<-s.stopped
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, e := range eps {
		e.http.Shutdown(ctx)
	}
}

// handler is the HTTP front of one endpoint kind: panics recovered, Host and Origin
// checked, body bounded, the key resolved and the endpoint's gate passed — all
// before mcp-go sees the request.
func (s *Server) handler(serverID func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving MCP request", "panic", v)
				writeJSONError(w, http.StatusInternalServerError, "internal_error", "Internal server error")
			}
		}()
		if status, msg := s.guard.check(r); status != 0 {
			writeJSONError(w, status, "forbidden_origin", msg)
			return
		}
		if r.Method == http.MethodOptions {
			s.guard.preflight(w, r)
			return
		}
		s.guard.cors(w, r)
		if r.Method == http.MethodPost {
			if r.ContentLength > s.cfg.MaxBodyBytes {
				writeJSONError(w, http.StatusRequestEntityTooLarge, "payload_too_large", "Request body too large")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		id := serverID(r)
		path := "/mcp"
		if id != "" {
			path = "/api/mcp/serve/" + url.PathEscape(id)
		}
		// An OAuth access token must have been issued for exactly this endpoint.
		p, err := s.res.ResolveMCP(r.Context(), auth.RequestKey(r), auth.ClientIP(r), s.baseURL(r)+path)
		if err != nil {
			var ae *auth.Error
			if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
				ae.SetHeaders(w.Header())
				w.Header().Set("WWW-Authenticate", s.challenge(r, path, err))
				writeJSONError(w, ae.Status, ae.Code, ae.Message)
				return
			}
			writeErr(w, err)
			return
		}
		p.Rate.SetHeaders(w.Header())
		ctx := r.Context()
		if _, err := s.svc.MCPAccess(ctx, p, id); err != nil {
			writeErr(w, err)
			return
		}
		e := s.all
		if id != "" {
			e = s.serveEndpoint(id)
		}
		if err := e.sync(ctx); err != nil {
			s.log.Error("sync MCP tools", "err", err, "server", id)
			writeJSONError(w, http.StatusInternalServerError, "internal_error", "Internal server error")
			return
		}
		// A session belongs to the key that opened it; for any other key it does not exist.
		if sid := r.Header.Get(server.HeaderKeySessionID); sid != "" && !e.sessions.ownedBy(sid, ownerOf(p), time.Now()) {
			writeJSONError(w, http.StatusNotFound, "session_not_found", "Session not found")
			return
		}
		e.http.ServeHTTP(w, r.WithContext(withPrincipal(ctx, p)))
	})
}

// serveEndpoint returns the endpoint of a server object, created on first use.
func (s *Server) serveEndpoint(id string) *endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.serve[id]
	if e == nil {
		e = s.newEndpoint(id, serverName)
		s.serve[id] = e
	}
	return e
}

// ServeStdio serves one MCP session over in/out for the given key (and server
// object, when serverID is set) until in ends or ctx is cancelled. The key is
// resolved again whenever access may have changed, so a revoked key stops working
// on its next request.
func (s *Server) ServeStdio(ctx context.Context, key, serverID string, in io.Reader, out io.Writer) error {
	p, err := s.res.Resolve(ctx, key, "", auth.TransportMCP)
	if err != nil {
		return errorMessage(err)
	}
	if _, err := s.svc.MCPAccess(ctx, p, serverID); err != nil {
		return errorMessage(err)
	}
	e := s.newEndpoint(serverID, serverName)
	if err := e.sync(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.extra[e] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.extra, e)
		s.mu.Unlock()
	}()
	src := &stdioPrincipal{s: s, key: key, p: p, epoch: s.svc.Store().AuthEpoch(), at: time.Now()}
	ss := server.NewStdioServer(e.mcp)
	ss.SetContextFunc(func(ctx context.Context) context.Context { return withPrincipalSource(ctx, src.get) })
	err = ss.Listen(ctx, in, out)
	if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// stdioPrincipal re-resolves the stdio key when access may have changed or a second
// has passed, so revocation and rate limits apply during a long session.
type stdioPrincipal struct {
	s   *Server
	key string

	mu    sync.Mutex
	p     *auth.Principal
	err   error
	epoch uint64
	at    time.Time
}

func (sp *stdioPrincipal) get(ctx context.Context) (*auth.Principal, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	ep := sp.s.svc.Store().AuthEpoch()
	if ep != sp.epoch || time.Since(sp.at) > time.Second {
		sp.p, sp.err = sp.s.res.Resolve(ctx, sp.key, "", auth.TransportMCP)
		sp.epoch, sp.at = ep, time.Now()
	}
	return sp.p, sp.err
}

// watch notices workflow, deployment, server-object and access changes and tells
// open sessions that their tool list may have changed.
func (s *Server) watch() {
	defer close(s.stopped)
	st := s.svc.Store()
	authEpoch := st.AuthEpoch()
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		eps := []*endpoint{s.all}
		for _, e := range s.serve {
			eps = append(eps, e)
		}
		for e := range s.extra {
			eps = append(eps, e)
		}
		s.mu.Unlock()
		ctx := context.Background()
		for _, e := range eps {
			// SetTools (inside sync) notifies sessions when the tool set changed.
			if err := e.sync(ctx); err != nil {
				s.log.Warn("sync MCP tools", "err", err, "server", e.serverID)
			}
		}
		if ae := st.AuthEpoch(); ae != authEpoch {
			authEpoch = ae
			// Grants, keys or memberships changed: any session's visible list may
			// differ now.
			for _, e := range eps {
				e.notifyToolsChanged()
			}
		}
		s.dropDeleted(eps)
	}
}

// dropDeleted forgets endpoints of server objects that no longer exist.
func (s *Server) dropDeleted(eps []*endpoint) {
	for _, e := range eps {
		if e.serverID == "" || !e.gone.Load() {
			continue
		}
		s.mu.Lock()
		if s.serve[e.serverID] == e {
			delete(s.serve, e.serverID)
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		e.http.Shutdown(ctx)
		cancel()
	}
}

// writeErr writes an auth/core error in the HTTP API's shape {"error","code"}.
func writeErr(w http.ResponseWriter, err error) {
	var ae *auth.Error
	var ce *core.Error
	switch {
	case errors.As(err, &ae):
		ae.SetHeaders(w.Header())
		writeJSONError(w, ae.Status, ae.Code, ae.Message)
	case errors.As(err, &ce):
		writeJSONError(w, ce.Status, ce.Code, ce.Message)
	default:
		writeJSONError(w, http.StatusInternalServerError, "internal_error", "Internal server error")
	}
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg, "code": code})
}

// errorMessage turns an access error into one for the stdio command's user.
func errorMessage(err error) error {
	var ae *auth.Error
	var ce *core.Error
	switch {
	case errors.As(err, &ae):
		return errors.New(ae.Message)
	case errors.As(err, &ce):
		return errors.New(ce.Message)
	}
	return err
}
