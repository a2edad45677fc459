package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

// mustUser creates a user with that email (and the email as name).
func mustUser(t *testing.T, s store.Store, email string) *store.User {
	t.Helper()
	u := &store.User{Email: email, Name: email, CreatedAt: t0}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// wantErr fails t unless err is (wraps) want; want nil means no error.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

// bumps runs change, which must succeed, and checks the auth epoch moved up (or, with
// want false, stayed) once it returned.
func bumps(t *testing.T, s store.Store, what string, want bool, change func() error) {
	t.Helper()
	before := s.AuthEpoch()
	if err := change(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	after := s.AuthEpoch()
	switch {
	case want && after <= before:
		t.Errorf("%s: auth epoch %d -> %d, want it bumped", what, before, after)
	case !want && after != before:
		t.Errorf("%s: auth epoch %d -> %d, want it unchanged", what, before, after)
	}
}

// view runs fn in one View, failing t on error.
func view(t *testing.T, s store.Store, fn func(r store.Reader) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

func sameUser(t *testing.T, what string, got, want *store.User) {
	t.Helper()
	if got.ID != want.ID || got.Email != want.Email || got.Name != want.Name || got.PasswordHash != want.PasswordHash ||
		got.InstanceAdmin != want.InstanceAdmin || !got.CreatedAt.Equal(want.CreatedAt) ||
		(got.DisabledAt == nil) != (want.DisabledAt == nil) ||
		(got.DisabledAt != nil && !got.DisabledAt.Equal(*want.DisabledAt)) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func testUsers(t *testing.T, open Opener) {
	t.Run("CreateAndGet", func(t *testing.T) {
		s := open(t)
		disabled := t0.Add(time.Hour)
		u := &store.User{Email: "  Ada@Example.com ", Name: "Ada", PasswordHash: "h", InstanceAdmin: true, CreatedAt: t0, DisabledAt: &disabled}
		wantErr(t, "create", s.CreateUser(ctx, u), nil)
		if u.ID == "" || u.Email != "Ada@Example.com" {
			t.Fatalf("created user id %q email %q: want an id and the trimmed email", u.ID, u.Email)
		}
		got, err := s.GetUser(ctx, u.ID)
		wantErr(t, "get", err, nil)
		sameUser(t, "GetUser", got, u)
		for _, e := range []string{"ada@example.com", "ADA@EXAMPLE.COM", " Ada@Example.com"} {
			got, err := s.GetUserByEmail(ctx, e)
			wantErr(t, "get by "+e, err, nil)
			sameUser(t, "GetUserByEmail("+e+")", got, u)
		}
		view(t, s, func(r store.Reader) error {
			got, err := r.User(u.ID)
			wantErr(t, "reader user", err, nil)
			sameUser(t, "Reader.User", got, u)
			got, err = r.UserByEmail("ADA@example.com")
			wantErr(t, "reader user by email", err, nil)
			sameUser(t, "Reader.UserByEmail", got, u)
			_, err = r.User("nobody")
			wantErr(t, "reader missing user", err, store.ErrNotFound)
			_, err = r.UserByEmail("nobody@x.io")
			wantErr(t, "reader missing email", err, store.ErrNotFound)
			return nil
		})

		// Defaults: an id and a creation time are filled in.
		v := &store.User{Email: "v@x.io"}
		wantErr(t, "create with defaults", s.CreateUser(ctx, v), nil)
		if v.ID == "" || v.CreatedAt.IsZero() {
			t.Errorf("defaults not filled in: %+v", v)
		}
		got, err = s.GetUser(ctx, v.ID)
		wantErr(t, "get defaulted", err, nil)
		sameUser(t, "defaulted user", got, v)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		_, err := s.GetUser(ctx, "nobody")
		wantErr(t, "get", err, store.ErrNotFound)
		_, err = s.GetUserByEmail(ctx, "nobody@x.io")
		wantErr(t, "get by email", err, store.ErrNotFound)
		_, err = s.UpdateUser(ctx, "nobody", func(*store.User) error { return nil })
		wantErr(t, "update", err, store.ErrNotFound)
		_, err = s.DisableUser(ctx, "nobody", true)
		wantErr(t, "disable", err, store.ErrNotFound)
		us, err := s.ListUsers(ctx)
		wantErr(t, "list empty", err, nil)
		if len(us) != 0 {
			t.Errorf("empty store lists %d users", len(us))
		}
	})

	t.Run("InvalidEmail", func(t *testing.T) {
		s := open(t)
		for _, e := range []string{"", "   ", "not-an-email"} {
			wantErr(t, fmt.Sprintf("create %q", e), s.CreateUser(ctx, &store.User{Email: e}), store.ErrInvalid)
		}
		u := mustUser(t, s, "u@x.io")
		for _, e := range []string{"", "nope"} {
			_, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Email = e; return nil })
			wantErr(t, fmt.Sprintf("update to %q", e), err, store.ErrInvalid)
		}
		got, _ := s.GetUser(ctx, u.ID)
		if got.Email != "u@x.io" {
			t.Errorf("email after refused updates = %q", got.Email)
		}
	})

	t.Run("EmailUniqueCaseInsensitive", func(t *testing.T) {
		s := open(t)
		bob := mustUser(t, s, "bob@example.com")
		for _, e := range []string{"bob@example.com", "BOB@example.com", " Bob@Example.COM "} {
			wantErr(t, "duplicate "+e, s.CreateUser(ctx, &store.User{Email: e}), store.ErrConflict)
		}
		eve := mustUser(t, s, "eve@example.com")
		_, err := s.UpdateUser(ctx, eve.ID, func(u *store.User) error { u.Email = "BOB@example.com"; u.Name = "x"; return nil })
		wantErr(t, "update to a taken email", err, store.ErrConflict)
		got, _ := s.GetUser(ctx, eve.ID)
		sameUser(t, "user after a refused email change", got, eve)

		// A change of case only keeps the address; a new address frees the old one.
		_, err = s.UpdateUser(ctx, bob.ID, func(u *store.User) error { u.Email = "Bob@Example.com"; return nil })
		wantErr(t, "change case", err, nil)
		_, err = s.UpdateUser(ctx, bob.ID, func(u *store.User) error { u.Email = "robert@example.com"; return nil })
		wantErr(t, "change address", err, nil)
		_, err = s.GetUserByEmail(ctx, "bob@example.com")
		wantErr(t, "old address", err, store.ErrNotFound)
		got, err = s.GetUserByEmail(ctx, "ROBERT@example.com")
		wantErr(t, "new address", err, nil)
		if got.ID != bob.ID {
			t.Errorf("new address finds %s, want %s", got.ID, bob.ID)
		}
		wantErr(t, "reuse the freed address", s.CreateUser(ctx, &store.User{Email: "bob@example.com"}), nil)
	})

	t.Run("ConcurrentSameEmail", func(t *testing.T) {
		s := open(t)
		// Differently cased, so only the case-insensitive rule can refuse them.
		oneWins(t, "creators of one email", 8, store.ErrConflict, func(i int) error {
			email := "race@example.com"
			if i%2 == 1 {
				email = strings.ToUpper(email)
			}
			return s.CreateUser(ctx, &store.User{Email: email})
		})
		us, _ := s.ListUsers(ctx)
		if len(us) != 1 {
			t.Errorf("%d users stored, want 1", len(us))
		}
	})

	t.Run("ListOldestFirst", func(t *testing.T) {
		s := open(t)
		var ids []string
		for i := range 5 {
			u := &store.User{Email: fmt.Sprintf("u%d@x.io", i)}
			wantErr(t, "create", s.CreateUser(ctx, u), nil)
			ids = append(ids, u.ID)
			time.Sleep(2 * time.Millisecond) // ids are time-ordered to the millisecond
		}
		us, err := s.ListUsers(ctx)
		wantErr(t, "list", err, nil)
		var got []string
		for _, u := range us {
			got = append(got, u.ID)
		}
		if !slices.Equal(got, ids) {
			t.Errorf("ListUsers ids = %v, want %v (creation order)", got, ids)
		}
		view(t, s, func(r store.Reader) error {
			us, err := r.Users()
			wantErr(t, "reader users", err, nil)
			if len(us) != len(ids) || us[0].ID != ids[0] {
				t.Errorf("Reader.Users lists %d users starting %v, want %v", len(us), us, ids)
			}
			return nil
		})
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		u := mustUser(t, s, "u@x.io")
		var out *store.User
		bumps(t, s, "update", true, func() (err error) {
			out, err = s.UpdateUser(ctx, u.ID, func(u *store.User) error {
				u.Name = "New Name"
				u.InstanceAdmin = true
				u.ID = "ignored" // the id is the store's
				return nil
			})
			return err
		})
		if out.ID != u.ID || out.Name != "New Name" || !out.InstanceAdmin {
			t.Errorf("UpdateUser returned %+v", out)
		}
		// The change is visible to a read right after the call, with the new epoch.
		view(t, s, func(r store.Reader) error {
			got, err := r.User(u.ID)
			wantErr(t, "reader user", err, nil)
			sameUser(t, "user after update", got, out)
			return nil
		})
		_, err := s.GetUser(ctx, "ignored")
		wantErr(t, "renamed id", err, store.ErrNotFound)

		// An error from fn aborts the update and is returned as is.
		boom := errors.New("boom")
		before := s.AuthEpoch()
		_, err = s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Name = "lost"; return boom })
		wantErr(t, "fn error", err, boom)
		got, _ := s.GetUser(ctx, u.ID)
		sameUser(t, "user after failed update", got, out)
		if s.AuthEpoch() != before {
			t.Errorf("a failed update moved the auth epoch %d -> %d", before, s.AuthEpoch())
		}
	})

	t.Run("Disable", func(t *testing.T) {
		s := open(t)
		u := mustUser(t, s, "u@x.io")
		other := mustUser(t, s, "o@x.io")
		mustSession(t, s, u.ID, "s1")
		mustSession(t, s, other.ID, "s2")

		var out *store.User
		bumps(t, s, "disable", true, func() (err error) { out, err = s.DisableUser(ctx, u.ID, true); return err })
		if out.DisabledAt == nil {
			t.Fatal("DisableUser returned a user without DisabledAt")
		}
		view(t, s, func(r store.Reader) error {
			got, err := r.User(u.ID)
			wantErr(t, "reader user", err, nil)
			if got.DisabledAt == nil || !got.DisabledAt.Equal(*out.DisabledAt) {
				t.Errorf("stored DisabledAt = %v, want %v", got.DisabledAt, out.DisabledAt)
			}
			return nil
		})
		// Disabling ends the user's sessions and no one else's.
		_, err := s.GetSession(ctx, []byte("s1"))
		wantErr(t, "disabled user's session", err, store.ErrNotFound)
		_, err = s.GetSession(ctx, []byte("s2"))
		wantErr(t, "other user's session", err, nil)

		bumps(t, s, "enable", true, func() (err error) { out, err = s.DisableUser(ctx, u.ID, false); return err })
		if out.DisabledAt != nil {
			t.Errorf("enabled user has DisabledAt %v", out.DisabledAt)
		}
		got, _ := s.GetUser(ctx, u.ID)
		if got.DisabledAt != nil {
			t.Errorf("stored enabled user has DisabledAt %v", got.DisabledAt)
		}
		// Sessions of an enabled user live.
		mustSession(t, s, u.ID, "s3")
		bumps(t, s, "rename", true, func() error {
			_, err := s.UpdateUser(ctx, u.ID, func(u *store.User) error { u.Name = "n"; return nil })
			return err
		})
		_, err = s.GetSession(ctx, []byte("s3"))
		wantErr(t, "session after an update that neither disables nor changes the password", err, nil)
	})

	t.Run("ReadsAndCreatesKeepEpoch", func(t *testing.T) {
		s := open(t)
		var u *store.User
		bumps(t, s, "create user", false, func() error { u = mustUser(t, s, "u@x.io"); return nil })
		bumps(t, s, "reads", false, func() error {
			if _, err := s.GetUser(ctx, u.ID); err != nil {
				return err
			}
			if _, err := s.GetUserByEmail(ctx, u.Email); err != nil {
				return err
			}
			_, err := s.ListUsers(ctx)
			return err
		})
	})
}
