package mcp

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/steelengine/steelengine/auth"
)

// principal context: set by the HTTP middleware (per request) or, for stdio, a
// source that resolves the key again when needed.
type principalKey struct{}
type principalSourceKey struct{}

func withPrincipal(ctx context.Context, p *auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

func withPrincipalSource(ctx context.Context, fn func(context.Context) (*auth.Principal, error)) context.Context {
	return context.WithValue(ctx, principalSourceKey{}, fn)
}

// principalFrom returns the caller of this request, or nil.
func principalFrom(ctx context.Context) *auth.Principal {
	if p, ok := ctx.Value(principalKey{}).(*auth.Principal); ok && p != nil {
		return p
	}
	if fn, ok := ctx.Value(principalSourceKey{}).(func(context.Context) (*auth.Principal, error)); ok {
		if p, err := fn(ctx); err == nil {
			return p
		}
	}
	return nil
}

// hostGuard validates Host and Origin against DNS rebinding and cross-site use.
type hostGuard struct {
	hosts     map[string]bool // lowercase host or host:port
	origins   map[string]bool // lowercase scheme://host[:port]
	anyOrigin bool
	strict    bool // AllowedHosts configured: other hosts are refused everywhere
}

func newHostGuard(cfg Config) hostGuard {
	g := hostGuard{hosts: map[string]bool{}, origins: map[string]bool{}, strict: len(cfg.AllowedHosts) > 0}
	for _, h := range cfg.AllowedHosts {
		g.hosts[strings.ToLower(strings.TrimSpace(h))] = true
	}
	for _, o := range cfg.AllowedOrigins {
		o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))
		if o == "*" {
			g.anyOrigin = true
		}
		g.origins[o] = true
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Host != "" {
		g.hosts[strings.ToLower(u.Host)] = true
		g.hosts[strings.ToLower(u.Hostname())] = true
		g.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return g
}

func (g hostGuard) hostAllowed(host string) bool {
	host = strings.ToLower(host)
	if g.hosts[host] || isLoopbackHost(host) {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil && g.hosts[h] {
		return true
	}
	return false
}

// check returns a non-zero status and message when the request must be refused.
func (g hostGuard) check(r *http.Request) (int, string) {
	if !g.hostAllowed(r.Host) {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if g.strict || (local != nil && isLoopbackHost(local.String())) {
			return http.StatusForbidden, fmt.Sprintf("Host %q is not allowed", r.Host)
		}
	}
	origin := r.Header.Get("Origin")
	if origin == "" || g.originAllowed(origin, r.Host) {
		return 0, ""
	}
	return http.StatusForbidden, fmt.Sprintf("Origin %q is not allowed", origin)
}

func (g hostGuard) originAllowed(origin, host string) bool {
	o := strings.ToLower(strings.TrimRight(origin, "/"))
	if g.anyOrigin || g.origins[o] {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	// Same-origin requests (the Host was validated above), and local tools talking
	// to a local server.
	if strings.EqualFold(u.Host, host) {
		return true
	}
	return isLoopbackHost(u.Host) && isLoopbackHost(host)
}

// cors decorates responses to allowed cross-origin requests.
func (g hostGuard) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After")
}

// preflight answers OPTIONS for an allowed origin (check has run).
func (g hostGuard) preflight(w http.ResponseWriter, r *http.Request) {
	g.cors(w, r)
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-API-Key, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID, Mcp-Method, Mcp-Name")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// isLoopbackHost reports whether a host or host:port names a loopback interface.
func isLoopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
