package app

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// behindProxies makes a request that came through one of the trusted reverse proxies
// look as if it came from the client the proxies name: RemoteAddr becomes the
// rightmost X-Forwarded-For address that is not itself a trusted proxy. Everything
// keyed by client address (login throttles, key IP allowlists, the access log) then
// sees the real client instead of one shared proxy address; without it a proxy in
// front turns the per-address login throttle into a lockout for everyone. Requests
// from other peers keep their RemoteAddr and their X-Forwarded-For is ignored, so
// nobody else can claim an address.
func behindProxies(trusted []netip.Prefix, h http.Handler) http.Handler {
	if len(trusted) == 0 {
		return h
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !isTrusted(peer.Addr()) {
			h.ServeHTTP(w, r)
			return
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a garbled hop: trust nothing to its left
			}
			if !isTrusted(a) {
				r2 := r.Clone(r.Context())
				r2.RemoteAddr = net.JoinHostPort(a.Unmap().String(), "0")
				h.ServeHTTP(w, r2)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
