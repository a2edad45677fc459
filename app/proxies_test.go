package app

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestBehindProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	var seen string
	h := behindProxies(trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy in between", "203.0.113.5:4000", nil, "203.0.113.5:4000"},
		{"untrusted peer cannot claim an address", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5:4000"},
		{"trusted proxy names the client", "127.0.0.1:5000", []string{"198.51.100.1"}, "198.51.100.1:0"},
		{"client-supplied hops left of the last untrusted one are ignored", "127.0.0.1:5000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1:0"},
		{"chain of trusted proxies", "127.0.0.1:5000", []string{"198.51.100.1, 10.1.2.3"}, "198.51.100.1:0"},
		{"several header lines", "127.0.0.1:5000", []string{"198.51.100.1", "10.1.2.3"}, "198.51.100.1:0"},
		{"IPv6 client", "127.0.0.1:5000", []string{"2001:db8::7"}, "[2001:db8::7]:0"},
		{"garbled hop: keep the proxy", "127.0.0.1:5000", []string{"198.51.100.1, not-an-ip"}, "127.0.0.1:5000"},
		{"trusted peer without a header", "127.0.0.1:5000", nil, "127.0.0.1:5000"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if seen != c.want {
			t.Errorf("%s: RemoteAddr %q, want %q", c.name, seen, c.want)
		}
	}
}
