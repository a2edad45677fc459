package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steelengine/steelengine/store"
)

// SteelEngine is its own OAuth 2.1 authorization server for its MCP endpoints. An
// access token is a principal of this resolver like a personal key of the consenting
// user, narrowed to what was consented (one workspace, all or some workflows, read
// or write) and bound to the one MCP resource it was issued for. Tokens are opaque
// random strings stored as HMAC digests, like keys.
const (
	AccessTokenPrefix  = "seo_at_"
	RefreshTokenPrefix = "seo_rt_"
	codePrefix         = "seo_ac_"

	AccessTokenTTL  = time.Hour
	RefreshTokenTTL = 30 * 24 * time.Hour
	CodeTTL         = time.Minute
	// ClientIdleTTL forgets registered clients nobody used for this long.
	ClientIdleTTL = 30 * 24 * time.Hour

	// registrationsPerAddress per minute and client address (IPv6 by /64).
	registrationsPerAddress = 10
	maxTokenBytes           = 128
	// maxPendingCodes bounds the codes of one user between consent and pruning (about
	// two minutes): a person consents by hand, a flood is refused.
	maxPendingCodes = 100

	MaxClientNameBytes  = 200
	MaxRedirectURIs     = 10
	MaxRedirectURIBytes = 2000
)

// OAuthError is an error of the OAuth endpoints in RFC 6749 §5.2 terms: Code is the
// registered error code ("invalid_grant", "invalid_target", …).
type OAuthError struct {
	Status      int
	Code        string
	Description string
	RetryAfter  time.Duration
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(status int, code, desc string) *OAuthError {
	return &OAuthError{Status: status, Code: code, Description: desc}
}

func errInvalidGrant(desc string) *OAuthError {
	return oauthErr(http.StatusBadRequest, "invalid_grant", desc)
}

// ErrAccessDenied is the consent refusal (the user said no, or asked for more than
// they have).
func ErrAccessDenied(desc string) *OAuthError {
	return oauthErr(http.StatusForbidden, "access_denied", desc)
}

// errInvalidToken is the 401 of a bad, expired, revoked or misdirected access token
// (RFC 6750 §3.1); one message for every reason.
func errInvalidToken(reason string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "Invalid or expired access token", reason: reason}
}

// --- clients ---------------------------------------------------------------------

// ClientRegistration is the accepted subset of RFC 7591 client metadata.
type ClientRegistration struct {
	RedirectURIs            []string `json:"redirect_uris"`
	ClientName              string   `json:"client_name"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
}

// Check validates the metadata: public clients only, redirect URIs https or loopback
// http, no fragments.
func (c *ClientRegistration) Check() *OAuthError {
	bad := func(code, desc string) *OAuthError { return oauthErr(http.StatusBadRequest, code, desc) }
	if len(c.RedirectURIs) == 0 || len(c.RedirectURIs) > MaxRedirectURIs {
		return bad("invalid_redirect_uri", fmt.Sprintf("redirect_uris must list 1 to %d URIs", MaxRedirectURIs))
	}
	for _, u := range c.RedirectURIs {
		if err := ValidRedirectURI(u); err != nil {
			return bad("invalid_redirect_uri", err.Error())
		}
	}
	if len(c.ClientName) > MaxClientNameBytes || !utf8.ValidString(c.ClientName) || strings.ContainsFunc(c.ClientName, isControl) {
		return bad("invalid_client_metadata", fmt.Sprintf("client_name must be printable UTF-8 of at most %d bytes", MaxClientNameBytes))
	}
	if m := c.TokenEndpointAuthMethod; m != "" && m != "none" {
		return bad("invalid_client_metadata", "only public clients are supported: token_endpoint_auth_method must be none")
	}
	for _, g := range c.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return bad("invalid_client_metadata", "grant_types may only hold authorization_code and refresh_token")
		}
	}
	for _, t := range c.ResponseTypes {
		if t != "code" {
			return bad("invalid_client_metadata", "response_types may only hold code")
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// ValidRedirectURI accepts an absolute https URI, or http on a loopback host
// (RFC 8252 §7.3), without fragment or user info.
func ValidRedirectURI(s string) error {
	if len(s) > MaxRedirectURIBytes {
		return fmt.Errorf("redirect URI longer than %d bytes", MaxRedirectURIBytes)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("redirect URI must be an absolute URL")
	}
	if u.Fragment != "" || strings.Contains(s, "#") || u.User != nil {
		return errors.New("redirect URI must not have a fragment or user info")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if h == "localhost" || h == "127.0.0.1" || h == "::1" {
			return nil
		}
		return errors.New("http redirect URIs must be on a loopback host (127.0.0.1, [::1], localhost)")
	}
	return errors.New("redirect URI must be https, or http on a loopback host")
}

// RegisterClient stores a new public client. Registrations are rate-limited per
// client address; clients unused for ClientIdleTTL are forgotten.
func (r *Resolver) RegisterClient(ctx context.Context, c ClientRegistration, clientIP string) (*store.OAuthClient, error) {
	now := r.opts.Now()
	if _, wait := r.logins.take("oauth-register:"+throttleAddress(clientIP), registrationsPerAddress, now); wait > 0 {
		return nil, &OAuthError{Status: http.StatusTooManyRequests, Code: "rate_limit_exceeded", Description: "Too many client registrations; try again later", RetryAfter: wait}
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(c.ClientName)
	if name == "" {
		name = "Unnamed client"
	}
	id, err := randomToken()
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	cl := &store.OAuthClient{ID: "seoc_" + id[:32], Name: name, RedirectURIs: slices.Clone(c.RedirectURIs), CreatedAt: now, LastUsedAt: now}
	if err := r.st.CreateOAuthClient(ctx, cl, now.Add(-ClientIdleTTL)); err != nil {
		return nil, fmt.Errorf("register oauth client: %w", err)
	}
	return cl, nil
}

// OAuthClient returns a live client whose registered redirect URIs include
// redirectURI exactly; the error is not for the redirect URI (RFC 6749 §4.1.2.1:
// never redirect to an unverified URI).
func (r *Resolver) OAuthClient(ctx context.Context, clientID, redirectURI string) (*store.OAuthClient, error) {
	c, err := r.liveClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(c.RedirectURIs, redirectURI) {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "redirect_uri does not match a registered redirect URI of this client")
	}
	return c, nil
}

func (r *Resolver) liveClient(ctx context.Context, clientID string) (*store.OAuthClient, error) {
	if clientID == "" || len(clientID) > maxTokenBytes {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "Unknown client_id")
	}
	c, err := r.st.GetOAuthClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !r.opts.Now().Before(c.LastUsedAt.Add(ClientIdleTTL))) {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "Unknown client_id")
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// --- resources -------------------------------------------------------------------

// MCPResource checks that resource (RFC 8707) names one of this instance's MCP
// endpoints under base — base+"/mcp" or base+"/api/mcp/serve/{id}" — and returns
// its canonical form and the server object id (empty for /mcp).
func MCPResource(base, resource string) (canonical, serverID string, err error) {
	bad := oauthErr(http.StatusBadRequest, "invalid_target", "resource must be this server's /mcp or /api/mcp/serve/{id} URL")
	c, ok := canonicalResource(resource)
	b, ok2 := canonicalResource(base)
	if !ok || !ok2 {
		return "", "", bad
	}
	rest, found := strings.CutPrefix(c, b)
	switch {
	case !found:
		return "", "", bad
	case rest == "/mcp":
		return c, "", nil
	}
	id, found := strings.CutPrefix(rest, "/api/mcp/serve/")
	if !found || id == "" || len(id) > 64 || strings.ContainsAny(id, "/?#%") {
		return "", "", bad
	}
	return c, id, nil
}

// canonicalResource lower-cases scheme and host and drops a trailing slash; queries
// and fragments are not allowed (RFC 8707 §2).
func canonicalResource(s string) (string, bool) {
	if len(s) > MaxRedirectURIBytes {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.Contains(s, "#") {
		return "", false
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.EscapedPath(), "/"), true
}

// --- authorization codes ----------------------------------------------------------

// Consent is what a signed-in user agreed to on the consent page.
type Consent struct {
	ClientID, RedirectURI string
	CodeChallenge         string // S256
	Resource              string // canonical (MCPResource)
	ServerID              string // when Resource is a server object's endpoint
	WorkspaceID           string
	Workflows             []string // empty: all workflows of the workspace
	Level                 store.Level
}

// ValidChallenge reports whether s is a PKCE S256 challenge or verifier: 43 to 128
// unreserved characters (RFC 7636 §4.1).
func ValidChallenge(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// IssueCode records a consent by the signed-in user actor and returns the one-time
// code for the client. The consent must stay within the user's memberships: the
// principal the token would be is checked by Authorize on every target consented.
func (r *Resolver) IssueCode(ctx context.Context, actor *Principal, c Consent) (string, error) {
	if actor == nil || !actor.Session || actor.UserID == "" {
		return "", ErrAccessDenied("Only a signed-in user can authorize a client")
	}
	if _, err := r.OAuthClient(ctx, c.ClientID, c.RedirectURI); err != nil {
		return "", err
	}
	if !ValidChallenge(c.CodeChallenge) {
		return "", oauthErr(http.StatusBadRequest, "invalid_request", "code_challenge must be an S256 PKCE challenge")
	}
	if c.Level != store.LevelRead && c.Level != store.LevelWrite {
		return "", oauthErr(http.StatusBadRequest, "invalid_request", "level must be read or write")
	}
	if c.WorkspaceID == "" || len(c.Workflows) > 1000 {
		return "", ErrAccessDenied("Choose a workspace")
	}
	c.Workflows = slices.Compact(slices.Sorted(slices.Values(c.Workflows)))
	p := &Principal{KeyID: "oauth:consent", KeyType: store.KeyOAuth, UserID: actor.UserID, WorkspaceID: c.WorkspaceID,
		Workflows: c.Workflows, Level: c.Level, Transport: TransportMCP}
	targets := []Target{WorkspaceTarget(c.WorkspaceID)}
	if len(c.Workflows) > 0 {
		targets = targets[:0]
		for _, id := range c.Workflows {
			targets = append(targets, WorkflowTarget(id))
		}
	}
	for _, t := range targets {
		// decide, not Level: the probe principal must not enter the decision cache.
		d, err := r.az.decide(ctx, p, t)
		if err != nil {
			return "", err
		}
		if d.err != nil || d.level.Rank() < c.Level.Rank() {
			return "", ErrAccessDenied("The consent reaches beyond what you can do in this workspace")
		}
	}
	if c.ServerID != "" {
		var wsID string
		err := r.st.View(ctx, func(rd store.Reader) error {
			m, err := rd.MCPServer(c.ServerID)
			if err == nil {
				wsID = m.WorkspaceID
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		if wsID != c.WorkspaceID {
			return "", ErrAccessDenied("That MCP server belongs to another workspace")
		}
	}
	code, err := randomToken()
	if err != nil {
		return "", err
	}
	code = codePrefix + code
	// Codes are in the store, not in this process, so that the replica answering the
	// token request knows a code another one issued; only its digest is kept.
	now := r.opts.Now().UTC()
	sc := &store.OAuthCode{Digest: r.codeDigest(code), ClientID: c.ClientID, RedirectURI: c.RedirectURI,
		CodeChallenge: c.CodeChallenge, Resource: c.Resource, ServerID: c.ServerID, WorkspaceID: c.WorkspaceID,
		Workflows: c.Workflows, Level: c.Level, UserID: actor.UserID, ExpiresAt: now.Add(CodeTTL)}
	// Expired codes go with the next one issued; a minute's grace keeps the code of an
	// exchange still running on another replica.
	switch err := r.st.CreateOAuthCode(ctx, sc, now.Add(-CodeTTL), maxPendingCodes); {
	case errors.Is(err, store.ErrTooManyCodes):
		return "", oauthErr(http.StatusServiceUnavailable, "temporarily_unavailable", "Too many pending authorizations; try again shortly")
	case err != nil:
		return "", fmt.Errorf("store oauth code: %w", err)
	}
	return code, nil
}

func (r *Resolver) codeDigest(code string) []byte { return r.sec.Digest("oauth-code:" + code) }

// TokenSet is a token endpoint answer.
type TokenSet struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	Grant        *store.OAuthGrant
}

// CodeExchange is an authorization_code token request.
type CodeExchange struct {
	ClientID, Code, RedirectURI, CodeVerifier, Resource string
}

// ExchangeCode turns a code into tokens (RFC 6749 §4.1.3 with RFC 7636 and 8707).
// A code works once: a second presentation revokes the grant the first created.
func (r *Resolver) ExchangeCode(ctx context.Context, x CodeExchange) (*TokenSet, error) {
	now := r.opts.Now()
	if !strings.HasPrefix(x.Code, codePrefix) || len(x.Code) > maxTokenBytes {
		return nil, errInvalidGrant("Invalid authorization code")
	}
	digest := r.codeDigest(x.Code)
	pc, err := r.st.UseOAuthCode(ctx, digest, now.UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errInvalidGrant("Invalid, expired or already used authorization code")
	case err != nil:
		return nil, fmt.Errorf("use oauth code: %w", err)
	case pc.UsedAt != nil:
		// A replay. Without a grant yet, the store marked the code replayed and the
		// first exchange revokes the grant it is creating.
		if pc.GrantID != "" {
			if g, err := r.st.RevokeOAuthGrant(context.WithoutCancel(ctx), pc.GrantID, now.UTC()); err == nil {
				r.recordGrant(ctx, "oauth_revoked", "", g, "authorization code reused")
			}
		}
		return nil, errInvalidGrant("Invalid, expired or already used authorization code")
	}
	c := Consent{ClientID: pc.ClientID, RedirectURI: pc.RedirectURI, CodeChallenge: pc.CodeChallenge, Resource: pc.Resource,
		ServerID: pc.ServerID, WorkspaceID: pc.WorkspaceID, Workflows: pc.Workflows, Level: pc.Level}
	if x.ClientID != c.ClientID {
		return nil, errInvalidGrant("The code was issued to another client")
	}
	if x.RedirectURI != c.RedirectURI {
		return nil, errInvalidGrant("redirect_uri does not match the authorization request")
	}
	if !ValidChallenge(x.CodeVerifier) {
		return nil, errInvalidGrant("code_verifier is missing or malformed")
	}
	sum := sha256.Sum256([]byte(x.CodeVerifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.CodeChallenge)) != 1 {
		return nil, errInvalidGrant("code_verifier does not match the code_challenge")
	}
	if x.Resource != "" {
		if rc, ok := canonicalResource(x.Resource); !ok || rc != c.Resource {
			return nil, oauthErr(http.StatusBadRequest, "invalid_target", "resource differs from the one authorized")
		}
	}
	cl, err := r.liveClient(ctx, c.ClientID)
	if err != nil {
		return nil, err
	}
	g := &store.OAuthGrant{ID: store.NewID(), ClientID: cl.ID, ClientName: cl.Name, RedirectHost: redirectHost(c.RedirectURI),
		UserID: pc.UserID, WorkspaceID: c.WorkspaceID, Workflows: c.Workflows, Level: c.Level, Resource: c.Resource,
		CreatedAt: now.UTC(), ExpiresAt: now.UTC().Add(RefreshTokenTTL)}
	ts, toks, err := r.mintTokens(now)
	if err != nil {
		return nil, err
	}
	if err := r.st.CreateOAuthGrant(ctx, g, toks...); err != nil {
		return nil, fmt.Errorf("create oauth grant: %w", err)
	}
	late, err := r.st.SetOAuthCodeGrant(context.WithoutCancel(ctx), digest, g.ID)
	if err != nil {
		// The grant stands; only a later replay of the code will not find it to revoke.
		r.log.Warn("record the grant of an oauth code", "grant", g.ID, "err", err)
	}
	r.recordGrant(ctx, "oauth_granted", g.UserID, g, "")
	if late {
		if g, err := r.st.RevokeOAuthGrant(context.WithoutCancel(ctx), g.ID, now.UTC()); err == nil {
			r.recordGrant(ctx, "oauth_revoked", "", g, "authorization code reused")
		}
		return nil, errInvalidGrant("Authorization code reused; the authorization was revoked")
	}
	ts.Grant = g
	return ts, nil
}

func redirectHost(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Host
	}
	return ""
}

func (r *Resolver) mintTokens(now time.Time) (*TokenSet, []*store.OAuthToken, error) {
	at, err := randomToken()
	if err != nil {
		return nil, nil, err
	}
	rt, err := randomToken()
	if err != nil {
		return nil, nil, err
	}
	at, rt = AccessTokenPrefix+at, RefreshTokenPrefix+rt
	now = now.UTC()
	return &TokenSet{AccessToken: at, RefreshToken: rt, ExpiresIn: AccessTokenTTL}, []*store.OAuthToken{
		{Digest: r.tokenDigest(at), ExpiresAt: now.Add(AccessTokenTTL)},
		{Digest: r.tokenDigest(rt), Refresh: true, ExpiresAt: now.Add(RefreshTokenTTL)},
	}, nil
}

func (r *Resolver) tokenDigest(tok string) []byte { return r.sec.Digest("oauth:" + tok) }

// Refresh rotates a refresh token (RFC 6749 §6, OAuth 2.1 §4.3.1): the old one stops
// working, and presenting it again revokes the whole grant.
func (r *Resolver) Refresh(ctx context.Context, clientID, refreshToken, resource string) (*TokenSet, error) {
	if !strings.HasPrefix(refreshToken, RefreshTokenPrefix) || len(refreshToken) > maxTokenBytes {
		return nil, errInvalidGrant("Invalid refresh token")
	}
	now := r.opts.Now()
	d := r.tokenDigest(refreshToken)
	var g *store.OAuthGrant
	var disabled bool
	err := r.st.View(ctx, func(rd store.Reader) error {
		t, err := rd.OAuthToken(d)
		if err != nil || !t.Refresh {
			return nil
		}
		if g, err = rd.OAuthGrant(t.GrantID); err != nil {
			g = nil
			return nil
		}
		u, err := rd.User(g.UserID)
		disabled = err != nil || u.DisabledAt != nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	if g == nil || g.ClientID != clientID {
		return nil, errInvalidGrant("Invalid refresh token")
	}
	if disabled {
		return nil, errInvalidGrant("The user who authorized this client is disabled")
	}
	if resource != "" {
		if rc, ok := canonicalResource(resource); !ok || rc != g.Resource {
			return nil, oauthErr(http.StatusBadRequest, "invalid_target", "resource differs from the one authorized")
		}
	}
	ts, toks, err := r.mintTokens(now)
	if err != nil {
		return nil, err
	}
	g, err = r.st.RotateOAuthRefresh(ctx, d, now.UTC(), toks...)
	switch {
	case errors.Is(err, store.ErrRefreshReused):
		r.recordGrant(ctx, "oauth_revoked", "", g, "refresh token reused")
		return nil, errInvalidGrant("Refresh token already used; the authorization was revoked")
	case errors.Is(err, store.ErrNotFound):
		return nil, errInvalidGrant("Invalid, expired or revoked refresh token")
	case err != nil:
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	ts.Grant = g
	r.recordGrant(ctx, "oauth_refreshed", g.UserID, g, "")
	return ts, nil
}

// RevokeToken is RFC 7009: an access or refresh token of clientID ends its whole
// grant. Unknown tokens, and tokens of other clients, are not errors.
func (r *Resolver) RevokeToken(ctx context.Context, clientID, token string) error {
	if len(token) > maxTokenBytes || !(strings.HasPrefix(token, AccessTokenPrefix) || strings.HasPrefix(token, RefreshTokenPrefix)) {
		return nil
	}
	var g *store.OAuthGrant
	err := r.st.View(ctx, func(rd store.Reader) error {
		if t, err := rd.OAuthToken(r.tokenDigest(token)); err == nil {
			g, _ = rd.OAuthGrant(t.GrantID)
		}
		return nil
	})
	if err != nil || g == nil || g.ClientID != clientID || g.RevokedAt != nil {
		return err
	}
	g, err = r.st.RevokeOAuthGrant(ctx, g.ID, r.opts.Now().UTC())
	if err != nil {
		return fmt.Errorf("revoke oauth grant: %w", err)
	}
	r.recordGrant(ctx, "oauth_revoked", g.UserID, g, "revoked by the client")
	return nil
}

func (r *Resolver) recordGrant(ctx context.Context, action, actorID string, g *store.OAuthGrant, reason string) {
	if g == nil {
		return
	}
	if reason == "" {
		reason = g.ClientName
	} else {
		reason = g.ClientName + ": " + reason
	}
	ev := &store.AuditEvent{Action: action, KeyID: "oauth:" + g.ID, ActorID: actorID, WorkspaceID: g.WorkspaceID, Reason: reason, Transport: TransportMCP}
	if err := r.st.AddAudit(context.WithoutCancel(ctx), ev); err != nil {
		r.log.Warn("write audit event", "action", action, "grant", g.ID, "err", err)
	}
}

// --- access tokens as principals ----------------------------------------------------

// tokenEntry is an access token as of one auth epoch (nil grant: unknown or dead).
type tokenEntry struct {
	epoch    uint64
	tok      *store.OAuthToken
	grant    *store.OAuthGrant
	disabled bool
}

// ResolveMCP resolves the credential of a request to the MCP endpoint resource (its
// absolute URL): an OAuth access token issued for exactly that resource, or an API
// key exactly as Resolve does.
func (r *Resolver) ResolveMCP(ctx context.Context, raw, clientIP, resource string) (*Principal, error) {
	if !strings.HasPrefix(raw, AccessTokenPrefix) {
		return r.Resolve(ctx, raw, clientIP, TransportMCP)
	}
	if len(raw) > maxTokenBytes {
		return nil, errInvalidToken("malformed")
	}
	e, err := r.tokenEntry(ctx, r.tokenDigest(raw))
	if err != nil {
		return nil, err
	}
	now := r.opts.Now()
	g := e.grant
	switch {
	case e.tok == nil || e.tok.Refresh || g == nil:
		return nil, errInvalidToken("unknown")
	case !now.Before(e.tok.ExpiresAt):
		return nil, errInvalidToken("expired")
	case !g.Live(now):
		return nil, errInvalidToken("revoked")
	case e.disabled:
		return nil, errInvalidToken("owner_disabled")
	}
	if rc, ok := canonicalResource(resource); !ok || rc != g.Resource {
		return nil, errInvalidToken("wrong_resource")
	}
	rs, retry := r.limits.take("oauth:"+g.ID, r.opts.DefaultRateLimit, now)
	if retry > 0 {
		return nil, &Error{Status: 429, Code: "rate_limit_exceeded", Message: "Rate limit exceeded", RetryAfter: retry, Rate: rs, reason: "rate_limited"}
	}
	r.usedMu.Lock()
	r.grantsUsed[g.ID] = now.UTC()
	r.usedMu.Unlock()
	return &Principal{KeyID: "oauth:" + g.ID, KeyType: store.KeyOAuth, UserID: g.UserID, WorkspaceID: g.WorkspaceID,
		Workflows: g.Workflows, Level: g.Level, Transport: TransportMCP, Rate: rs, epoch: e.epoch}, nil
}

func (r *Resolver) tokenEntry(ctx context.Context, digest []byte) (*tokenEntry, error) {
	epoch := r.st.AuthEpoch()
	r.mu.RLock()
	e := r.tokens[string(digest)]
	r.mu.RUnlock()
	if e != nil && e.epoch == epoch {
		return e, nil
	}
	e = &tokenEntry{epoch: epoch}
	err := r.st.View(ctx, func(rd store.Reader) error {
		t, err := rd.OAuthToken(digest)
		if err != nil {
			return nil
		}
		g, err := rd.OAuthGrant(t.GrantID)
		if err != nil {
			return nil
		}
		u, err := rd.User(g.UserID)
		e.tok, e.grant, e.disabled = t, g, err != nil || u.DisabledAt != nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if len(r.tokens) >= maxCachedKeys {
		clear(r.tokens)
	}
	r.tokens[string(digest)] = e
	r.mu.Unlock()
	return e, nil
}

// --- connected apps --------------------------------------------------------------

// ConnectedApps lists the live grants the calling user gave (a session or the user's
// personal key).
func (r *Resolver) ConnectedApps(ctx context.Context, actor *Principal) ([]*store.OAuthGrant, error) {
	uid, err := RequireUser(actor)
	if err != nil {
		return nil, err
	}
	return r.st.ListOAuthGrants(ctx, store.OAuthGrantFilter{UserID: uid}, r.opts.Now())
}

// WorkspaceConnectedApps lists the live grants reaching wsID, for its admins.
func (r *Resolver) WorkspaceConnectedApps(ctx context.Context, actor *Principal, wsID string) ([]*store.OAuthGrant, error) {
	if err := r.az.Authorize(ctx, actor, WorkspaceTarget(wsID), store.LevelAdmin); err != nil {
		return nil, err
	}
	return r.st.ListOAuthGrants(ctx, store.OAuthGrantFilter{WorkspaceID: wsID}, r.opts.Now())
}

// RevokeConnectedApp ends one of the calling user's grants; it stops working on the
// next request. Like key management it needs a signed-in user (or the operator).
func (r *Resolver) RevokeConnectedApp(ctx context.Context, actor *Principal, id string) (*store.OAuthGrant, error) {
	if err := RequireHuman(actor); err != nil {
		return nil, err
	}
	g, err := r.st.GetOAuthGrant(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!g.Live(r.opts.Now()) || (!actor.operator && g.UserID != actor.UserID))) {
		return nil, errNotFound("Connected app")
	}
	if err != nil {
		return nil, err
	}
	g, err = r.st.RevokeOAuthGrant(ctx, id, r.opts.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("revoke connected app: %w", err)
	}
	r.recordGrant(ctx, "oauth_revoked", actor.actorID(), g, "revoked by the user")
	return g, nil
}
