package auth

import (
	"net/http"
	"strconv"
	"strings"
)

// The HTTP API and the MCP server take credentials from HTTP requests the same way;
// these helpers are that one way.

// RequestKey returns the API key from X-API-Key or Authorization: Bearer.
func RequestKey(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get("X-API-Key")); k != "" {
		return k
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// ClientIP is the peer address; forwarding headers are not trusted.
func ClientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// WWWAuthenticate is the challenge sent with every 401.
const WWWAuthenticate = `Bearer realm="steelengine"`

// SetHeaders writes the X-RateLimit-* headers (Reset in Unix seconds, as the Sim SDK
// parses it); a zero state writes nothing.
func (s RateState) SetHeaders(h http.Header) {
	if s.Limit == 0 {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(s.Reset.Unix(), 10))
}

// SetHeaders writes the headers that go with e: the rate-limit state and Retry-After
// (whole seconds, never 0) on 429, the challenge on 401.
func (e *Error) SetHeaders(h http.Header) {
	e.Rate.SetHeaders(h)
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	if e.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", WWWAuthenticate)
	}
}
