package auth

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestRequestKeyAndClientIP(t *testing.T) {
	cases := []struct {
		hdr, val, want string
	}{
		{"X-API-Key", " sk-a ", "sk-a"},
		{"Authorization", "Bearer sk-b", "sk-b"},
		{"Authorization", "bearer  sk-c", "sk-c"},
		{"Authorization", "Basic abc", ""},
		{"", "", ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if c.hdr != "" {
			r.Header.Set(c.hdr, c.val)
		}
		if got := RequestKey(r); got != c.want {
			t.Errorf("%s: %q, want %q", c.val, got, c.want)
		}
	}
	for addr, want := range map[string]string{"10.0.0.1:5000": "10.0.0.1", "[::1]:80": "::1"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		if got := ClientIP(r); got != want {
			t.Errorf("ClientIP(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestErrorHeaders(t *testing.T) {
	w := httptest.NewRecorder()
	reset := time.Unix(1800000000, 0)
	(&Error{Status: 429, RetryAfter: 1500 * time.Millisecond, Rate: RateState{Limit: 5, Remaining: 0, Reset: reset}}).SetHeaders(w.Header())
	h := w.Header()
	if h.Get("Retry-After") != "2" || h.Get("X-RateLimit-Limit") != "5" || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Reset") != "1800000000" {
		t.Fatalf("429 headers %v", h)
	}
	w = httptest.NewRecorder()
	errInvalidKey("x").SetHeaders(w.Header())
	if w.Header().Get("WWW-Authenticate") != WWWAuthenticate || w.Header().Get("Retry-After") != "" {
		t.Fatalf("401 headers %v", w.Header())
	}
}
