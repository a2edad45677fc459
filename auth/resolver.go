package auth

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/steelengine/steelengine/store"
)

// Options tunes the resolver.
type Options struct {
	// DefaultRateLimit is requests per minute for keys without their own (default 600).
	DefaultRateLimit int
	// LastUsedFlush is how often last-used times are written (default 30 s).
	LastUsedFlush time.Duration
	// AuditFlush is how often buffered denial events are written (default 1 s).
	AuditFlush time.Duration
	// Now is the clock (tests).
	Now func() time.Time
	// Replicas, when set, counts the replicas serving one shared database now: each
	// grants 1/N of a key's per-minute limit (rounded up), so with the load balancer
	// spreading a key's requests the limit holds across replicas within a few percent,
	// without a database round trip per request. Nil or < 2: this process has it all.
	Replicas func() int
}

// Resolver turns a raw API key into a Principal. The hot path reads no store: entries
// are cached by HMAC digest and stamped with the store's auth epoch, which every write
// that can change a decision moves, so revocation, expiry, membership and org changes
// hold on the very next request.
type Resolver struct {
	st   store.Store
	sec  *Secrets
	az   *Authorizer
	log  *slog.Logger
	opts Options

	mu     sync.RWMutex
	cache  map[string]*keyEntry   // string(digest) → entry
	tokens map[string]*tokenEntry // OAuth access tokens, string(digest) → entry

	limits      *limiter // per key
	logins      *limiter // login and password-change attempts
	loginLimits loginLimits

	usedMu     sync.Mutex
	used       map[string]store.LastUsed
	grantsUsed map[string]time.Time
	audit      []*store.AuditEvent

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// keyEntry is a key as of one auth epoch; key is nil for digests the store does not
// know (cached too, so a flood of well-formed unknown keys costs no store reads).
type keyEntry struct {
	epoch    uint64
	key      *store.APIKey
	disabled bool // personal key whose owner is disabled
	nets     []netip.Prefix
}

const maxCachedKeys = 1 << 16

// NewResolver returns a resolver and starts its background flusher; Close stops it.
func NewResolver(st store.Store, sec *Secrets, az *Authorizer, opts Options, log *slog.Logger) *Resolver {
	if opts.DefaultRateLimit <= 0 {
		opts.DefaultRateLimit = 600
	}
	if opts.LastUsedFlush <= 0 {
		opts.LastUsedFlush = 30 * time.Second
	}
	if opts.AuditFlush <= 0 {
		opts.AuditFlush = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Resolver{st: st, sec: sec, az: az, log: log, opts: opts,
		cache: map[string]*keyEntry{}, tokens: map[string]*tokenEntry{},
		used: map[string]store.LastUsed{}, grantsUsed: map[string]time.Time{},
		limits: newLimiter(maxCachedKeys), logins: newLimiter(maxThrottleEntries), loginLimits: defaultLoginLimits,
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.flushLoop()
	return r
}

// takeShare spends a token of this replica's share of key id's limit and reports the
// key's whole limit, its remaining tokens estimated as this share's times the replicas.
func (r *Resolver) takeShare(id string, limit int, now time.Time) (RateState, time.Duration) {
	n := 1
	if r.opts.Replicas != nil {
		n = max(1, r.opts.Replicas())
	}
	if n == 1 {
		return r.limits.take(id, limit, now)
	}
	rs, retry := r.limits.take(id, (limit+n-1)/n, now)
	rs.Limit, rs.Remaining = limit, min(limit, rs.Remaining*n)
	return rs, retry
}

// Authorizer returns the decision function the resolver's principals go to.
func (r *Resolver) Authorizer() *Authorizer { return r.az }

// Resolve checks rawKey and returns its principal, or an *Error: 401 invalid_api_key
// (one message for every reason), or 429 when the key's rate limit is spent — decided
// before any work. transport is TransportHTTP or TransportMCP.
func (r *Resolver) Resolve(ctx context.Context, rawKey, clientIP, transport string) (*Principal, error) {
	if rawKey == "" {
		return nil, errInvalidKey("missing")
	}
	if ParseKey(rawKey) != nil {
		return nil, errInvalidKey("malformed")
	}
	digest := r.sec.digestArray(rawKey)
	e, err := r.entry(ctx, digest[:])
	if err != nil {
		return nil, err
	}
	now := r.opts.Now()
	k := e.key
	if k == nil {
		return nil, errInvalidKey("unknown")
	}
	noteKeyID(ctx, k.ID) // also for refused keys: the access log names which one
	if reason := deadReason(k, e.disabled, now); reason != "" {
		r.deny(k, reason, clientIP, transport, now)
		return nil, errInvalidKey(reason)
	}
	if len(e.nets) > 0 && !ipAllowed(e.nets, clientIP) {
		r.deny(k, "ip_not_allowed", clientIP, transport, now)
		return nil, errInvalidKey("ip_not_allowed")
	}
	limit := k.RateLimit
	if limit <= 0 {
		limit = r.opts.DefaultRateLimit
	}
	rs, retry := r.takeShare(k.ID, limit, now)
	if retry > 0 {
		return nil, &Error{Status: 429, Code: "rate_limit_exceeded", Message: "Rate limit exceeded", RetryAfter: retry, Rate: rs, reason: "rate_limited"}
	}
	r.usedMu.Lock()
	r.used[k.ID] = store.LastUsed{At: now.UTC(), Via: transport}
	r.usedMu.Unlock()
	return &Principal{
		KeyID: k.ID, KeyType: k.Type, UserID: k.UserID, WorkspaceID: k.WorkspaceID, OrgID: k.OrgID,
		Level: k.Level, Workflows: k.Workflows, Grants: k.Grants, Transport: transport, Rate: rs,
		epoch: e.epoch,
	}, nil
}

// deadReason says why a stored key no longer works, or "" when it does.
func deadReason(k *store.APIKey, ownerDisabled bool, now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	case k.GraceUntil != nil && !now.Before(*k.GraceUntil):
		return "rotated"
	case ownerDisabled:
		return "owner_disabled"
	}
	return ""
}

func ipAllowed(nets []netip.Prefix, ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// entry returns the cached entry for digest if it is from the current epoch, else
// reads the key (and its owner) in one read transaction.
func (r *Resolver) entry(ctx context.Context, digest []byte) (*keyEntry, error) {
	epoch := r.st.AuthEpoch()
	r.mu.RLock()
	e := r.cache[string(digest)]
	r.mu.RUnlock()
	if e != nil && e.epoch == epoch {
		return e, nil
	}
	// A copy: the read below keeps digest, so passing the caller's would move its
	// buffer to the heap on every request, hits included.
	return r.load(ctx, bytes.Clone(digest), epoch)
}

// load reads the key with digest (and its owner) and caches it at epoch.
func (r *Resolver) load(ctx context.Context, digest []byte, epoch uint64) (*keyEntry, error) {
	e := &keyEntry{epoch: epoch}
	err := r.st.View(ctx, func(rd store.Reader) error {
		k, err := rd.KeyByDigest(digest)
		if err != nil {
			return nil // unknown: a nil key
		}
		if !equalDigest(k.Digest, digest) {
			return nil
		}
		e.key = k
		if k.Type == store.KeyPersonal {
			u, err := rd.User(k.UserID)
			e.disabled = err != nil || u.DisabledAt != nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if e.key != nil {
		for _, c := range e.key.AllowedCIDRs {
			if p, err := parsePrefix(c); err == nil {
				e.nets = append(e.nets, p)
			}
		}
	}
	r.mu.Lock()
	if len(r.cache) >= maxCachedKeys {
		clear(r.cache)
	}
	r.cache[string(digest)] = e
	r.mu.Unlock()
	return e, nil
}

// parsePrefix accepts a CIDR or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// deny buffers an audit event; the flusher writes it, so the request path stays
// read-only.
func (r *Resolver) deny(k *store.APIKey, reason, ip, transport string, now time.Time) {
	ev := &store.AuditEvent{Time: now.UTC(), Action: "denied", KeyID: k.ID, WorkspaceID: k.WorkspaceID, OrgID: k.OrgID,
		Reason: reason, IP: ip, Transport: transport}
	r.usedMu.Lock()
	if len(r.audit) < 10000 {
		r.audit = append(r.audit, ev)
	}
	r.usedMu.Unlock()
}

func (r *Resolver) flushLoop() {
	defer close(r.done)
	audit := time.NewTicker(r.opts.AuditFlush)
	defer audit.Stop()
	used := time.NewTicker(r.opts.LastUsedFlush)
	defer used.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-audit.C:
			r.flushAudit(context.Background())
		case <-used.C:
			r.flushUsed(context.Background())
		}
	}
}

func (r *Resolver) flushAudit(ctx context.Context) error {
	r.usedMu.Lock()
	evs := r.audit
	r.audit = nil
	r.usedMu.Unlock()
	if len(evs) == 0 {
		return nil
	}
	if err := r.st.AddAudit(ctx, evs...); err != nil {
		r.log.Warn("write audit events", "err", err, "events", len(evs))
		return err
	}
	return nil
}

func (r *Resolver) flushUsed(ctx context.Context) error {
	r.usedMu.Lock()
	used, grants := r.used, r.grantsUsed
	r.used, r.grantsUsed = map[string]store.LastUsed{}, map[string]time.Time{}
	r.usedMu.Unlock()
	if len(grants) > 0 {
		if err := r.st.SetOAuthGrantsLastUsed(ctx, grants); err != nil {
			r.log.Warn("write connected app last-used times", "err", err, "grants", len(grants))
			return err
		}
	}
	if len(used) == 0 {
		return nil
	}
	if err := r.st.SetKeysLastUsed(ctx, used); err != nil {
		r.log.Warn("write key last-used times", "err", err, "keys", len(used))
		return err
	}
	return nil
}

// Flush writes buffered last-used times and audit events now.
func (r *Resolver) Flush(ctx context.Context) error {
	err1 := r.flushAudit(ctx)
	err2 := r.flushUsed(ctx)
	if err1 != nil {
		return err1
	}
	return err2
}

// Close stops the flusher and writes what is buffered.
func (r *Resolver) Close(ctx context.Context) error {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	return r.Flush(ctx)
}
