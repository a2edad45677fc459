package bolt

import (
	"context"
	"fmt"

	"github.com/steelengine/steelengine/store"
)

// CreateUser stores a new user. Email is unique, case-insensitively.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if err := u.CheckEmail(); err != nil {
		return err
	}
	if u.ID == "" {
		u.ID = store.NewID()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	return s.update(ctx, func(w *writer) error {
		byEmail := w.tx.Bucket(bUsersByEmail)
		if byEmail.Get([]byte(store.NormEmail(u.Email))) != nil {
			return fmt.Errorf("user email %q: %w", u.Email, store.ErrConflict)
		}
		if err := byEmail.Put([]byte(store.NormEmail(u.Email)), []byte(u.ID)); err != nil {
			return err
		}
		return putJSON(w.tx.Bucket(bUsers), []byte(u.ID), u)
	})
}

// User returns the user with id.
func (r *Reader) User(id string) (*store.User, error) {
	u, err := getJSON[store.User](r.tx.Bucket(bUsers), []byte(id))
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", id, err)
	}
	return u, nil
}

// UserByEmail returns the user with that email, case-insensitively.
func (r *Reader) UserByEmail(email string) (*store.User, error) {
	id := r.tx.Bucket(bUsersByEmail).Get([]byte(store.NormEmail(email)))
	if id == nil {
		return nil, notFound("user", email)
	}
	return r.User(string(id))
}

// Users lists every user, oldest first.
func (r *Reader) Users() ([]*store.User, error) { return listAll[store.User](r.tx.Bucket(bUsers)) }

// GetUser returns the user with id.
func (s *Store) GetUser(ctx context.Context, id string) (u *store.User, err error) {
	err = s.view(ctx, func(r *Reader) error { u, err = r.User(id); return err })
	return u, err
}

// GetUserByEmail returns the user with that email.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (u *store.User, err error) {
	err = s.view(ctx, func(r *Reader) error { u, err = r.UserByEmail(email); return err })
	return u, err
}

// ListUsers lists every user.
func (s *Store) ListUsers(ctx context.Context) (us []*store.User, err error) {
	err = s.view(ctx, func(r *Reader) error { us, err = r.Users(); return err })
	return us, err
}

// UpdateUser applies fn to the stored user and saves it. Email changes keep the unique
// index; disabling a user changes access decisions, so every update bumps the auth epoch.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(u *store.User) error) (*store.User, error) {
	var out *store.User
	err := s.update(ctx, func(w *writer) error {
		u, err := w.User(id)
		if err != nil {
			return err
		}
		oldEmail, oldHash := store.NormEmail(u.Email), u.PasswordHash
		if err := fn(u); err != nil {
			return err
		}
		u.ID = id
		changed, err := u.CheckEmailChange(oldEmail)
		if err != nil {
			return err
		}
		if changed {
			ne := store.NormEmail(u.Email)
			byEmail := w.tx.Bucket(bUsersByEmail)
			if byEmail.Get([]byte(ne)) != nil {
				return fmt.Errorf("user email %q: %w", u.Email, store.ErrConflict)
			}
			if err := byEmail.Delete([]byte(oldEmail)); err != nil {
				return err
			}
			if err := byEmail.Put([]byte(ne), []byte(id)); err != nil {
				return err
			}
		}
		if err := w.bumpAuth(); err != nil {
			return err
		}
		if u.DisabledAt != nil || u.PasswordHash != oldHash {
			if err := w.deleteUserSessions(id, nil); err != nil {
				return err
			}
		}
		out = u
		return putJSON(w.tx.Bucket(bUsers), []byte(id), u)
	})
	return out, err
}

// DisableUser marks the user disabled: their sessions end and their personal keys stop
// resolving at once.
func (s *Store) DisableUser(ctx context.Context, id string, disabled bool) (*store.User, error) {
	return s.UpdateUser(ctx, id, func(u *store.User) error { u.SetDisabled(disabled); return nil })
}
