package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func status(err error) int {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func TestLoginThrottlePerAddressAndAccount(t *testing.T) {
	w := newWorld(t)
	// Small limits keep the argon2 work (slow under -race) small; the rules are the same.
	w.r.loginLimits = loginLimits{perAddress: 6, perAccount: 3, passwordChecks: 3}
	lim := w.r.loginLimits
	ctx := context.Background()
	hash, err := HashPassword("the right password")
	w.must(t, err)
	_, err = w.st.UpdateUser(ctx, w.admin.ID, func(u *store.User) error { u.PasswordHash = hash; return nil })
	w.must(t, err)

	// An attacker at one address exhausts its (address, account) budget ...
	var last error
	for range lim.perAccount + 1 {
		_, _, _, last = w.r.Login(ctx, w.admin.Email, "wrong", "198.51.100.7")
	}
	if status(last) != 429 || last.(*Error).RetryAfter <= 0 {
		t.Fatalf("attempt %d from one address: %v", lim.perAccount+1, last)
	}
	// ... but the admin, from anywhere else, still signs in: no account lockout.
	if _, _, _, err := w.r.Login(ctx, w.admin.Email, "the right password", "192.0.2.1"); err != nil {
		t.Fatalf("admin locked out by another address: %v", err)
	}
	// Spraying many accounts from one address hits the per-address limit.
	for i := range lim.perAddress + 1 {
		_, _, _, last = w.r.Login(ctx, fmt.Sprintf("u%d@x.io", i), "wrong", "203.0.113.9")
	}
	if status(last) != 429 {
		t.Fatalf("spray from one address: %v", last)
	}
	// An IPv6 host rotating addresses inside its /64 is one address.
	for i := range lim.perAddress + 1 {
		_, _, _, last = w.r.Login(ctx, fmt.Sprintf("v%d@x.io", i), "wrong", fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	if status(last) != 429 {
		t.Fatalf("IPv6 rotation within a /64: %v", last)
	}
}

func TestLoginRefusesOversizedFieldsBeforeWork(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	before := w.r.logins.size()
	for _, c := range []struct{ email, password string }{
		{strings.Repeat("a", 5<<20) + "@x.io", "pw"},
		{strings.Repeat("a", MaxEmailBytes) + "@x.io", "pw"},
		{"a@x.io", strings.Repeat("p", MaxPasswordBytes+1)},
	} {
		if _, _, _, err := w.r.Login(ctx, c.email, c.password, "192.0.2.1"); status(err) != 400 {
			t.Fatalf("len(email)=%d len(password)=%d: %v", len(c.email), len(c.password), err)
		}
	}
	if got := w.r.logins.size(); got != before {
		t.Fatalf("oversized logins created %d throttle entries", got-before)
	}
}

func TestLimiterIsBounded(t *testing.T) {
	l := newLimiter(100)
	now := time.Now()
	for i := range 10000 {
		l.take(fmt.Sprintf("ip:%d", i), 10, now)
	}
	if l.size() != 100 {
		t.Fatalf("size = %d, want 100", l.size())
	}
	// The most recent entries are the ones kept, with their state.
	for range 10 {
		l.take("ip:9999", 10, now)
	}
	if _, wait := l.take("ip:9999", 10, now); wait == 0 {
		t.Fatal("recent bucket was dropped")
	}
}

func TestChangePasswordNeedsSessionAndEndsOtherSessions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	hash, err := HashPassword("the old password")
	w.must(t, err)
	_, err = w.st.UpdateUser(ctx, w.member.ID, func(u *store.User) error { u.PasswordHash = hash; return nil })
	w.must(t, err)
	login := func(pw string) (string, *Principal) {
		t.Helper()
		tok, _, _, err := w.r.Login(ctx, w.member.Email, pw, "192.0.2.1")
		w.must(t, err)
		p, _, err := w.r.ResolveSession(ctx, tok)
		w.must(t, err)
		return tok, p
	}
	w.r.loginLimits.passwordChecks = 3
	tokA, a := login("the old password")
	tokB, _ := login("the old password")

	// A personal key is not a session.
	key, _ := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.member.ID})
	kp, err := w.r.Resolve(ctx, key, "192.0.2.1", TransportHTTP)
	w.must(t, err)
	if err := w.r.ChangePassword(ctx, kp, "the old password", "a new password"); status(err) != 403 {
		t.Fatalf("personal key: %v", err)
	}
	// A wrong current password is refused, and guessing it is throttled.
	if err := w.r.ChangePassword(ctx, a, "wrong", "a new password"); status(err) != 400 {
		t.Fatalf("wrong current: %v", err)
	}
	if err := w.r.ChangePassword(ctx, a, "the old password", "short"); status(err) != 400 {
		t.Fatalf("short new: %v", err)
	}
	w.must(t, w.r.ChangePassword(ctx, a, "the old password", "a new password"))
	if _, _, err := w.r.ResolveSession(ctx, tokA); err != nil {
		t.Fatalf("the session that changed the password ended: %v", err)
	}
	if _, _, err := w.r.ResolveSession(ctx, tokB); status(err) != 401 {
		t.Fatalf("other session survived the change: %v", err)
	}
	var last error
	for range w.r.loginLimits.passwordChecks + 1 {
		last = w.r.ChangePassword(ctx, a, "guess", "another new password")
	}
	if status(last) != 429 {
		t.Fatalf("password guessing through change: %v", last)
	}
}
