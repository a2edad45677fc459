// Package netguard provides the single outbound HTTP client SteelEngine uses
// for api blocks and model providers.
//
// Workflow authors control the URLs an api block fetches, so every request is
// a potential SSRF probe. The check is done on the *resolved* address inside
// net.Dialer.Control, i.e. on the exact IP the socket is about to connect to.
// That covers DNS names pointing at internal addresses, DNS rebinding (the
// check runs on every dial, after resolution) and redirects (each hop dials
// again). Proxies from the environment are ignored so a proxy cannot be used
// to tunnel around the check.
package netguard

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrBlockedAddress is returned (wrapped) when a connection would reach an
// address that is not publicly routable and not explicitly allowed.
var ErrBlockedAddress = errors.New("netguard: destination address not allowed")

// ErrResponseTooLarge is returned (wrapped) by a response body read that goes
// past Options.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("netguard: response body too large")

// ErrTooManyRedirects is returned (wrapped) when a request is redirected more
// than Options.MaxRedirects times.
var ErrTooManyRedirects = errors.New("netguard: too many redirects")

// Defaults applied for zero Options fields.
const (
	DefaultMaxResponseBytes = 10 << 20 // 10 MiB
	DefaultTimeout          = 30 * time.Second
	DefaultMaxRedirects     = 10
)

// Options configures NewClient.
type Options struct {
	// AllowCIDRs lists ranges that may be reached even though they are
	// otherwise blocked (e.g. an operator's internal API at 10.1.2.0/24).
	AllowCIDRs []netip.Prefix
	// AllowLoopback permits 127.0.0.0/8 and ::1.
	AllowLoopback bool
	// MaxResponseBytes caps each response body: 0 means
	// DefaultMaxResponseBytes, negative means unlimited.
	MaxResponseBytes int64
	// Timeout bounds a whole request including redirects and body read:
	// 0 means DefaultTimeout, negative means none (rely on the context).
	Timeout time.Duration
	// MaxRedirects caps followed redirects: 0 means DefaultMaxRedirects,
	// negative means redirects are not followed (the 3xx response is
	// returned as is).
	MaxRedirects int
}

// blockedRanges are never reachable unless allowed. IPv4-mapped and other
// IPv6 forms embedding an IPv4 address are reduced to that IPv4 address before
// this table is consulted (see Check).
var blockedRanges = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified/this-network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local/metadata"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved/broadcast"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	// Local-use NAT64 (RFC 8215): the translator is on the operator's own network
	// and the embedded IPv4 address may sit at any offset, so the whole range goes.
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	// IETF protocol assignments, including Teredo (2001::/32), whose embedded
	// IPv4 address is obfuscated and cannot be checked.
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("fc00::/7"), "unique-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	loopback4 = netip.MustParsePrefix("127.0.0.0/8")
	// Forms of IPv6 that carry an IPv4 address a router may translate to:
	// IPv4-compatible (deprecated), NAT64 well-known prefix and 6to4.
	compat4 = netip.MustParsePrefix("::/96")
	siit    = netip.MustParsePrefix("::ffff:0:0:0/96") // IPv4-translated (RFC 2765)
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4  = netip.MustParsePrefix("2002::/16")
)

// Check reports whether addr may be dialled under opts; the error wraps
// ErrBlockedAddress and says why.
func Check(addr netip.Addr, opts Options) error {
	if !addr.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrBlockedAddress)
	}
	// Zones are irrelevant for range checks and make Prefix.Contains false.
	addr = addr.WithZone("").Unmap()
	if allowed(addr, opts) {
		return nil
	}
	if reason := blockedReason(addr); reason != "" {
		return fmt.Errorf("%w: %s is %s", ErrBlockedAddress, addr, reason)
	}
	if addr.Is6() {
		if v4, ok := embeddedV4(addr); ok {
			if allowed(v4, opts) {
				return nil
			}
			if reason := blockedReason(v4); reason != "" {
				return fmt.Errorf("%w: %s embeds %s which is %s", ErrBlockedAddress, addr, v4, reason)
			}
		}
	}
	return nil
}

func allowed(addr netip.Addr, opts Options) bool {
	if opts.AllowLoopback && (addr == netip.IPv6Loopback() || (addr.Is4() && loopback4.Contains(addr))) {
		return true
	}
	for _, p := range opts.AllowCIDRs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func blockedReason(addr netip.Addr) string {
	for _, r := range blockedRanges {
		if r.prefix.Contains(addr) {
			return r.reason
		}
	}
	return ""
}

// embeddedV4 extracts the IPv4 address carried by IPv4-compatible, IPv4-translated,
// NAT64 and 6to4 IPv6 addresses.
func embeddedV4(addr netip.Addr) (netip.Addr, bool) {
	b := addr.As16()
	switch {
	case compat4.Contains(addr), siit.Contains(addr), nat64.Contains(addr):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixTo4.Contains(addr):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// control runs after DNS resolution and before connect(2), for every
// address attempted (including each redirect hop and Happy Eyeballs
// fallbacks).
func control(opts Options) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot parse dial address %q: %v", ErrBlockedAddress, address, err)
		}
		return Check(ap.Addr(), opts)
	}
}

// NewClient returns an http.Client that refuses non-public destinations,
// caps redirects, response size and total time.
func NewClient(opts Options) *http.Client {
	maxBody := opts.MaxResponseBytes
	if maxBody == 0 {
		maxBody = DefaultMaxResponseBytes
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	} else if timeout < 0 {
		timeout = 0
	}
	maxRedirects := opts.MaxRedirects
	if maxRedirects == 0 {
		maxRedirects = DefaultMaxRedirects
	}
	// Copy the allow list so later mutation by the caller cannot widen it.
	opts.AllowCIDRs = append([]netip.Prefix(nil), opts.AllowCIDRs...)

	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control:   control(opts),
	}
	transport := &http.Transport{
		// Never take a proxy from the environment: the dialer would then
		// check the proxy's address, not the real destination.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Bound header size too; the body is capped separately.
		MaxResponseHeaderBytes: 1 << 20,
	}
	var rt http.RoundTripper = transport
	if maxBody > 0 {
		rt = &capTransport{next: transport, max: maxBody}
	}
	return &http.Client{
		Transport: rt,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if maxRedirects < 0 {
				return http.ErrUseLastResponse
			}
			if len(via) > maxRedirects {
				return fmt.Errorf("%w: stopped after %d redirects", ErrTooManyRedirects, maxRedirects)
			}
			// Only follow to http(s); the transport refuses others anyway,
			// this just gives a clearer message.
			if s := req.URL.Scheme; s != "http" && s != "https" {
				return fmt.Errorf("netguard: redirect to unsupported scheme %q", s)
			}
			return nil
		},
	}
}

// capTransport wraps every response body in a size cap.
type capTransport struct {
	next http.RoundTripper
	max  int64
}

func (t *capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp == nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = &cappedBody{rc: resp.Body, remaining: t.max, max: t.max}
	return resp, nil
}

// cappedBody returns ErrResponseTooLarge once more than max bytes would be
// read, rather than silently truncating: a truncated JSON document that
// happens to parse would be worse than a clear error.
type cappedBody struct {
	rc        io.ReadCloser
	remaining int64 // bytes still allowed
	max       int64
	err       error
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.remaining <= 0 {
		// Probe one byte to tell "exactly max bytes" from "more than max".
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.err = fmt.Errorf("%w: exceeds %d bytes", ErrResponseTooLarge, b.max)
			return 0, b.err
		}
		return 0, err
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.rc.Read(p)
	b.remaining -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
