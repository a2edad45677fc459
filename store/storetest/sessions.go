package storetest

import (
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

// mustSession stores a session of userID under digest, live for an hour from now.
func mustSession(t *testing.T, s store.Store, userID, digest string) *store.Session {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	sess := &store.Session{Digest: []byte(digest), UserID: userID, CSRFToken: "csrf-" + digest, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("create session %s: %v", digest, err)
	}
	return sess
}

func testSessions(t *testing.T, open Opener) {
	t.Run("CreateGetDelete", func(t *testing.T) {
		s := open(t)
		u := mustUser(t, s, "u@x.io")
		var want *store.Session
		bumps(t, s, "create session", false, func() error { want = mustSession(t, s, u.ID, "d1"); return nil })
		got, err := s.GetSession(ctx, []byte("d1"))
		wantErr(t, "get", err, nil)
		if string(got.Digest) != "d1" || got.UserID != u.ID || got.CSRFToken != want.CSRFToken ||
			!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("GetSession = %+v, want %+v", got, want)
		}
		bumps(t, s, "delete session", false, func() error { return s.DeleteSession(ctx, []byte("d1")) })
		_, err = s.GetSession(ctx, []byte("d1"))
		wantErr(t, "get deleted", err, store.ErrNotFound)
		wantErr(t, "delete again", s.DeleteSession(ctx, []byte("d1")), nil)
		_, err = s.GetSession(ctx, []byte("never"))
		wantErr(t, "get missing", err, store.ErrNotFound)
	})

	t.Run("Invalid", func(t *testing.T) {
		s := open(t)
		u := mustUser(t, s, "u@x.io")
		exp := time.Now().Add(time.Hour)
		for name, tc := range map[string]struct {
			sess *store.Session
			want error
		}{
			"no digest":    {&store.Session{UserID: u.ID, ExpiresAt: exp}, store.ErrInvalid},
			"no user":      {&store.Session{Digest: []byte("d"), ExpiresAt: exp}, store.ErrInvalid},
			"unknown user": {&store.Session{Digest: []byte("d"), UserID: "nobody", ExpiresAt: exp}, store.ErrNotFound},
		} {
			wantErr(t, name, s.CreateSession(ctx, tc.sess), tc.want)
		}
		_, err := s.GetSession(ctx, []byte("d"))
		wantErr(t, "refused session", err, store.ErrNotFound)
	})

	t.Run("ExpiredNotFound", func(t *testing.T) {
		s := open(t)
		u := mustUser(t, s, "u@x.io")
		past := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
		sess := &store.Session{Digest: []byte("old"), UserID: u.ID, CreatedAt: past.Add(-time.Hour), ExpiresAt: past}
		wantErr(t, "create expired", s.CreateSession(ctx, sess), nil)
		_, err := s.GetSession(ctx, []byte("old"))
		wantErr(t, "get expired", err, store.ErrNotFound)
	})

	t.Run("SetPasswordEndsOtherSessions", func(t *testing.T) {
		s := open(t)
		u := mustUser(t, s, "u@x.io")
		other := mustUser(t, s, "o@x.io")
		for _, d := range []string{"keep", "a", "b"} {
			mustSession(t, s, u.ID, d)
		}
		mustSession(t, s, other.ID, "other")

		wantErr(t, "set password", s.SetPassword(ctx, u.ID, "new-hash", []byte("keep")), nil)
		got, _ := s.GetUser(ctx, u.ID)
		if got.PasswordHash != "new-hash" {
			t.Errorf("password hash = %q, want new-hash", got.PasswordHash)
		}
		for d, want := range map[string]error{"keep": nil, "a": store.ErrNotFound, "b": store.ErrNotFound, "other": nil} {
			_, err := s.GetSession(ctx, []byte(d))
			wantErr(t, "session "+d+" after SetPassword", err, want)
		}

		// nil keep ends them all.
		wantErr(t, "set password again", s.SetPassword(ctx, u.ID, "newer", nil), nil)
		_, err := s.GetSession(ctx, []byte("keep"))
		wantErr(t, "kept session after SetPassword(nil)", err, store.ErrNotFound)
		_, err = s.GetSession(ctx, []byte("other"))
		wantErr(t, "other user's session", err, nil)

		wantErr(t, "unknown user", s.SetPassword(ctx, "nobody", "h", nil), store.ErrNotFound)
	})

	t.Run("PasswordChangeByUpdateEndsSessions", func(t *testing.T) {
		s := open(t)
		u := mustUser(t, s, "u@x.io")
		mustSession(t, s, u.ID, "a")
		_, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.PasswordHash = "changed"; return nil })
		wantErr(t, "update password", err, nil)
		_, err = s.GetSession(ctx, []byte("a"))
		wantErr(t, "session after a password change", err, store.ErrNotFound)
	})
}
