package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/steelengine/steelengine/store"
)

// loginAttemptsPerMinute bounds login attempts per client IP and per email.
const loginAttemptsPerMinute = 10

// SessionTTL is how long a dashboard login lasts.
const SessionTTL = 7 * 24 * time.Hour

// ErrBadLogin is the one answer to a wrong email, a wrong password or a disabled user.
var ErrBadLogin = &Error{Status: 401, Code: "invalid_credentials", Message: "Invalid email or password"}

// Login checks a password and opens a session; token goes in the cookie, the
// session's CSRFToken in the X-CSRF-Token header of state-changing requests.
// Attempts are throttled per client IP and per email (each a token bucket of
// loginAttemptsPerMinute), so password guessing and argon2 CPU burn stay bounded.
func (r *Resolver) Login(ctx context.Context, email, password, clientIP string) (token string, sess *store.Session, u *store.User, err error) {
	now := r.opts.Now()
	_, wait := r.logins.take("ip:"+clientIP, loginAttemptsPerMinute, now)
	if _, w := r.logins.take("email:"+strings.ToLower(strings.TrimSpace(email)), loginAttemptsPerMinute, now); w > wait {
		wait = w
	}
	if wait > 0 {
		return "", nil, nil, &Error{Status: 429, Code: "rate_limit_exceeded", Message: "Too many login attempts", RetryAfter: wait}
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
	return &Principal{UserID: u.ID, Session: true, InstanceAdmin: u.InstanceAdmin, Transport: TransportHTTP}, sess, nil
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
