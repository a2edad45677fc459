package netguard

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckTable(t *testing.T) {
	tests := []struct {
		addr    string
		opts    Options
		blocked bool
	}{
		{"8.8.8.8", Options{}, false},
		{"1.1.1.1", Options{}, false},
		{"2606:4700:4700::1111", Options{}, false},
		{"127.0.0.1", Options{}, true},
		{"127.8.9.10", Options{}, true},
		{"::1", Options{}, true},
		{"0.0.0.0", Options{}, true},
		{"::", Options{}, true},
		{"10.0.0.1", Options{}, true},
		{"172.16.0.1", Options{}, true},
		{"172.31.255.255", Options{}, true},
		{"172.32.0.1", Options{}, false},
		{"192.168.1.1", Options{}, true},
		{"169.254.169.254", Options{}, true},
		{"fe80::1", Options{}, true},
		{"fe80::1%eth0", Options{}, true},
		{"100.64.0.1", Options{}, true},
		{"100.127.255.255", Options{}, true},
		{"100.128.0.1", Options{}, false},
		{"fc00::1", Options{}, true},
		{"fd00:ec2::254", Options{}, true},
		{"224.0.0.1", Options{}, true},
		{"ff02::1", Options{}, true},
		{"255.255.255.255", Options{}, true},
		{"::ffff:127.0.0.1", Options{}, true},
		{"::ffff:169.254.169.254", Options{}, true},
		{"::ffff:10.1.2.3", Options{}, true},
		{"::ffff:8.8.8.8", Options{}, false},
		{"::127.0.0.1", Options{}, true},
		{"64:ff9b::a9fe:a9fe", Options{}, true}, // NAT64 of 169.254.169.254
		{"64:ff9b::808:808", Options{}, false},  // NAT64 of 8.8.8.8
		{"2002:7f00:1::", Options{}, true},      // 6to4 of 127.0.0.1
		{"2002:808:808::", Options{}, false},    // 6to4 of 8.8.8.8
		// Every special-purpose range, at its edges.
		{"0.255.255.255", Options{}, true},
		{"100.64.0.0", Options{}, true},
		{"100.63.255.255", Options{}, false},
		{"192.0.0.8", Options{}, true},
		{"192.0.2.1", Options{}, true},
		{"192.88.99.1", Options{}, true},
		{"198.18.0.1", Options{}, true},
		{"198.19.255.255", Options{}, true},
		{"198.20.0.1", Options{}, false},
		{"198.51.100.7", Options{}, true},
		{"203.0.113.9", Options{}, true},
		{"239.255.255.250", Options{}, true},
		{"240.0.0.1", Options{}, true},
		{"64:ff9b:1::1", Options{}, true},            // local-use NAT64 (RFC 8215)
		{"64:ff9b:1:ffff::808:808", Options{}, true}, // even with a public IPv4 inside
		{"64:ff9b:2::1", Options{}, false},
		{"64:ff9b::a00:1", Options{}, true},     // NAT64 of 10.0.0.1
		{"64:ff9b::6440:1", Options{}, true},    // NAT64 of 100.64.0.1
		{"64:ff9b::c612:1", Options{}, true},    // NAT64 of 198.18.0.1
		{"64:ff9b::7f00:1", Options{}, true},    // NAT64 of 127.0.0.1
		{"::ffff:0:a9fe:a9fe", Options{}, true}, // IPv4-translated 169.254.169.254
		{"::ffff:0:808:808", Options{}, false},
		{"100::1", Options{}, true},
		{"2001::1", Options{}, true}, // Teredo
		{"2001:db8::1", Options{}, true},
		{"3fff::1", Options{}, true},
		{"fdff:ffff::1", Options{}, true},
		{"febf::1", Options{}, true},
		{"fec0::1", Options{}, true},
		{"ff0e::1", Options{}, true},
		{"2a00:1450:4001::200e", Options{}, false},
		// Allow lists.
		{"127.0.0.1", Options{AllowLoopback: true}, false},
		{"::1", Options{AllowLoopback: true}, false},
		{"::ffff:127.0.0.1", Options{AllowLoopback: true}, false},
		{"10.0.0.1", Options{AllowLoopback: true}, true},
		{"10.1.2.3", Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}}, false},
		{"10.1.3.3", Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}}, true},
		{"::ffff:10.1.2.3", Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}}, false},
		{"fd12::5", Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("fd12::/16")}}, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%v", tc.addr, tc.opts), func(t *testing.T) {
			err := Check(netip.MustParseAddr(tc.addr), tc.opts)
			if got := err != nil; got != tc.blocked {
				t.Fatalf("Check(%s) = %v, want blocked=%v", tc.addr, err, tc.blocked)
			}
			if err != nil && !errors.Is(err, ErrBlockedAddress) {
				t.Fatalf("error %v does not wrap ErrBlockedAddress", err)
			}
		})
	}
}

func okServer(t *testing.T, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLoopbackRefusedByDefault(t *testing.T) {
	srv := okServer(t, "hello")
	_, err := NewClient(Options{}).Get(srv.URL)
	if !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("want ErrBlockedAddress, got %v", err)
	}
}

func TestLoopbackAllowed(t *testing.T) {
	srv := okServer(t, "hello")
	resp, err := NewClient(Options{AllowLoopback: true}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "hello" {
		t.Fatalf("body %q err %v", b, err)
	}
}

func TestAllowCIDR(t *testing.T) {
	srv := okServer(t, "hi")
	c := NewClient(Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestLocalhostNameRefused(t *testing.T) {
	srv := okServer(t, "hello")
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	_, err := NewClient(Options{}).Get(u)
	if !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("want ErrBlockedAddress for %s, got %v", u, err)
	}
}

// TestRedirectToBlockedRefused: a server on 127.0.0.2 (allowed by CIDR)
// redirects to one on 127.0.0.1 (not allowed); the second hop must fail.
// Linux routes all of 127/8 to lo, so 127.0.0.2 stands in for an allowed
// internal host.
func TestRedirectToBlockedRefused(t *testing.T) {
	target := okServer(t, "secret")
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	redirector := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/latest/meta-data", http.StatusFound)
	}))
	redirector.Listener.Close()
	redirector.Listener = l
	redirector.Start()
	t.Cleanup(redirector.Close)

	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	// Sanity: without following, the redirector itself is reachable.
	resp, err := NewClient(Options{AllowCIDRs: allow, MaxRedirects: -1}).Get(redirector.URL)
	if err != nil {
		t.Fatalf("redirector not reachable: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d", resp.StatusCode)
	}

	_, err = NewClient(Options{AllowCIDRs: allow}).Get(redirector.URL)
	if !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("redirect to loopback: want ErrBlockedAddress, got %v", err)
	}
}

func TestRedirectCap(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/again", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	_, err := NewClient(Options{AllowLoopback: true, MaxRedirects: 3}).Get(srv.URL)
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("want ErrTooManyRedirects, got %v", err)
	}
}

func TestResponseSizeCap(t *testing.T) {
	srv := okServer(t, strings.Repeat("a", 1000))
	for _, tc := range []struct {
		max     int64
		wantErr bool
	}{{999, true}, {1000, false}, {1001, false}, {10, true}} {
		resp, err := NewClient(Options{AllowLoopback: true, MaxResponseBytes: tc.max}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tc.wantErr {
			if !errors.Is(err, ErrResponseTooLarge) {
				t.Fatalf("max %d: want ErrResponseTooLarge, got %v (%d bytes)", tc.max, err, len(b))
			}
			if int64(len(b)) > tc.max {
				t.Fatalf("max %d: read %d bytes", tc.max, len(b))
			}
		} else if err != nil || len(b) != 1000 {
			t.Fatalf("max %d: %d bytes, err %v", tc.max, len(b), err)
		}
	}
}

func TestEnvProxyIgnored(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://8.8.8.8:1")
	t.Setenv("http_proxy", "http://8.8.8.8:1")
	srv := okServer(t, "direct")
	resp, err := NewClient(Options{AllowLoopback: true}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
