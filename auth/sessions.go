package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/steelengine/steelengine/store"
)

// Login throttles: per client address (IPv6 by /64, since one host holds a whole
// prefix) and per (address, account) pair. There is deliberately no throttle per
// account alone: it would let anyone lock any user out from everywhere.
type loginLimits struct {
	perAddress, perAccount int // attempts per minute
	// passwordChecks bounds password-change attempts of one signed-in user (a stolen
	// session must not become an oracle for the current password).
	passwordChecks int
}

var defaultLoginLimits = loginLimits{perAddress: 30, perAccount: 10, passwordChecks: 10}

// maxThrottleEntries bounds the throttle's memory whoever calls.
const maxThrottleEntries = 10000

// Input caps, checked before any work.
const (
	MaxEmailBytes    = 254
	MaxPasswordBytes = 1024
	// MinPasswordLength is the shortest new password accepted.
	MinPasswordLength = 8
)

// SessionCookie names the cookie that carries a dashboard session's token, for every
// front door that accepts sessions (the dashboard and the JSON API).
const SessionCookie = "steelengine_session"

// SessionTTL is how long a dashboard login lasts.
const SessionTTL = 7 * 24 * time.Hour

// ErrBadLogin is the one answer to a wrong email, a wrong password or a disabled user.
var ErrBadLogin = &Error{Status: 401, Code: "invalid_credentials", Message: "Invalid email or password"}

// Login checks a password and opens a session; token goes in the cookie, the
// session's CSRFToken in the X-CSRF-Token header of state-changing requests.
// Oversized fields are refused before any work; attempts are throttled per client
// address and per (address, account), so guessing and argon2 cost stay bounded and
// nobody can lock a user out from another address.
func (r *Resolver) Login(ctx context.Context, email, password, clientIP string) (token string, sess *store.Session, u *store.User, err error) {
	if len(email) > MaxEmailBytes || len(password) > MaxPasswordBytes {
		return "", nil, nil, &Error{Status: 400, Code: "invalid_request", Message: "Email must be at most 254 bytes and password at most 1024 bytes"}
	}
	now := r.opts.Now()
	addr := throttleAddress(clientIP)
	if _, wait := r.logins.take("ip:"+addr, r.loginLimits.perAddress, now); wait > 0 {
		return "", nil, nil, errTooManyLogins(wait)
	}
	if _, wait := r.logins.take("acct:"+addr+"|"+strings.ToLower(strings.TrimSpace(email)), r.loginLimits.perAccount, now); wait > 0 {
		return "", nil, nil, errTooManyLogins(wait)
	}
	u, err = r.st.GetUserByEmail(ctx, email)
	if err != nil {
		// Spend the same time as a real check, so timing does not reveal which emails exist.
		_ = CheckPassword(dummyHash(), password)
		return "", nil, nil, ErrBadLogin
	}
	if CheckPassword(u.PasswordHash, password) != nil || u.DisabledAt != nil {
		return "", nil, nil, ErrBadLogin
	}
	token, err = randomToken()
	if err != nil {
		return "", nil, nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", nil, nil, err
	}
	now = now.UTC()
	sess = &store.Session{Digest: r.sec.Digest("session:" + token), UserID: u.ID, CSRFToken: csrf, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := r.st.CreateSession(ctx, sess); err != nil {
		return "", nil, nil, fmt.Errorf("create session: %w", err)
	}
	return token, sess, u, nil
}

// ResolveSession returns the principal of a session token, with its session.
func (r *Resolver) ResolveSession(ctx context.Context, token string) (*Principal, *store.Session, error) {
	if token == "" || len(token) > 128 {
		return nil, nil, errInvalidSession()
	}
	sess, err := r.st.GetSession(ctx, r.sec.Digest("session:"+token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errInvalidSession()
	}
	if err != nil {
		return nil, nil, err
	}
	u, err := r.st.GetUser(ctx, sess.UserID)
	if err != nil || u.DisabledAt != nil {
		return nil, nil, errInvalidSession()
	}
	return &Principal{UserID: u.ID, Session: true, InstanceAdmin: u.InstanceAdmin, Transport: TransportHTTP, sessionDigest: sess.Digest}, sess, nil
}

// ChangePassword changes a signed-in user's own password: it needs the session (no
// API key), the current password (throttled like login, per user) and a valid new
// one, and ends the user's other sessions.
func (r *Resolver) ChangePassword(ctx context.Context, p *Principal, current, next string) error {
	if p == nil {
		return ErrUnauthenticated()
	}
	if !p.Session || p.UserID == "" {
		return errSessionRequired()
	}
	if len(current) > MaxPasswordBytes {
		return badPassword("currentPassword", "Current password is incorrect")
	}
	if err := CheckNewPassword(next, "newPassword"); err != nil {
		return err
	}
	if _, wait := r.logins.take("pw:"+p.UserID, r.loginLimits.passwordChecks, r.opts.Now()); wait > 0 {
		return errTooManyLogins(wait)
	}
	u, err := r.st.GetUser(ctx, p.UserID)
	if err != nil || u.DisabledAt != nil {
		return errInvalidSession()
	}
	if CheckPassword(u.PasswordHash, current) != nil {
		return badPassword("currentPassword", "Current password is incorrect")
	}
	hash, err := HashPassword(next)
	if err != nil {
		return err
	}
	if err := r.st.SetPassword(ctx, u.ID, hash, p.sessionDigest); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

// CheckNewPassword refuses a new password that is too short or too long; field names
// the request field in the error.
func CheckNewPassword(pw, field string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength || len(pw) > MaxPasswordBytes {
		return badPassword(field, "Password must be at least 8 characters and at most 1024 bytes")
	}
	return nil
}

func badPassword(field, msg string) error {
	code := "invalid_request"
	if field == "currentPassword" {
		code = "invalid_password"
	}
	return &Error{Status: 400, Code: code, Message: msg, Field: field}
}

func errTooManyLogins(wait time.Duration) *Error {
	return &Error{Status: 429, Code: "rate_limit_exceeded", Message: "Too many attempts; try again later", RetryAfter: wait}
}

// throttleAddress is the client address a throttle counts under: an IPv4 address, or
// the /64 of an IPv6 one.
func throttleAddress(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a.Is4() || a.Is4In6() {
		return a.Unmap().String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// Logout ends a session.
func (r *Resolver) Logout(ctx context.Context, token string) error {
	return r.st.DeleteSession(ctx, r.sec.Digest("session:"+token))
}

func errInvalidSession() *Error {
	return &Error{Status: 401, Code: "unauthorized", Message: "Not signed in"}
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// dummyHash is checked against when the email is unknown.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("steelengine-no-such-user")
	return h
})
