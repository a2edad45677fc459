package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

const userCols = `id, email, name, password_hash, instance_admin, created_at, disabled_at`

func scanUser(r pgx.Row) (*store.User, error) {
	u := new(store.User)
	if err := r.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.InstanceAdmin, &u.CreatedAt, &u.DisabledAt); err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	u.DisabledAt = utcPtr(u.DisabledAt)
	return u, nil
}

// getUser reads one user; lock takes the row for the rest of a write transaction.
func getUser(ctx context.Context, q dbtx, id string, lock bool) (*store.User, error) {
	sql := `SELECT ` + userCols + ` FROM users WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	return queryOne(ctx, q, "user", id, scanUser, sql, id)
}

// CreateUser stores a new user. Email is unique, case-insensitively.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if err := u.CheckEmail(); err != nil {
		return err
	}
	if u.ID == "" {
		u.ID = store.NewID()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now().UTC()
	}
	u.CreatedAt = pgTime(u.CreatedAt)
	u.DisabledAt = pgTimePtr(u.DisabledAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, email, email_key, name, password_hash, instance_admin, created_at, disabled_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.Email, store.NormEmail(u.Email), u.Name, u.PasswordHash, u.InstanceAdmin, u.CreatedAt, u.DisabledAt)
	if isUnique(err) {
		return fmt.Errorf("user email %q: %w", u.Email, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create user: %w", err)
	}
	return nil
}

// User returns the user with id.
func (r *reader) User(id string) (*store.User, error) { return getUser(r.ctx, r.tx, id, false) }

// UserByEmail returns the user with that email, case-insensitively.
func (r *reader) UserByEmail(email string) (*store.User, error) {
	return userByEmail(r.ctx, r.tx, email)
}

func userByEmail(ctx context.Context, q dbtx, email string) (*store.User, error) {
	return queryOne(ctx, q, "user", email, scanUser,
		`SELECT `+userCols+` FROM users WHERE email_key = $1`, store.NormEmail(email))
}

// Users lists every user, oldest first (ids are time-ordered).
func (r *reader) Users() ([]*store.User, error) { return listUsers(r.ctx, r.tx) }

func listUsers(ctx context.Context, q dbtx) ([]*store.User, error) {
	return queryList(ctx, q, "users", scanUser, `SELECT `+userCols+` FROM users ORDER BY id COLLATE "C"`)
}

// GetUser returns the user with id.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	return getUser(ctx, s.pool, id, false)
}

// GetUserByEmail returns the user with that email.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*store.User, error) {
	return userByEmail(ctx, s.pool, email)
}

// ListUsers lists every user.
func (s *Store) ListUsers(ctx context.Context) ([]*store.User, error) { return listUsers(ctx, s.pool) }

// UpdateUser applies fn to the stored user and saves it. Email changes keep the unique
// index; disabling a user changes access decisions, so every update bumps the auth epoch.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(u *store.User) error) (*store.User, error) {
	var out *store.User
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		u, err := getUser(ctx, tx, id, true)
		if err != nil {
			return err
		}
		oldEmail, oldHash := store.NormEmail(u.Email), u.PasswordHash
		if err := fn(u); err != nil {
			return err
		}
		u.ID = id
		if _, err := u.CheckEmailChange(oldEmail); err != nil {
			return err
		}
		u.CreatedAt = pgTime(u.CreatedAt)
		u.DisabledAt = pgTimePtr(u.DisabledAt)
		_, err = tx.Exec(ctx, `UPDATE users SET email = $2, email_key = $3, name = $4, password_hash = $5,
			instance_admin = $6, created_at = $7, disabled_at = $8 WHERE id = $1`,
			id, u.Email, store.NormEmail(u.Email), u.Name, u.PasswordHash, u.InstanceAdmin, u.CreatedAt, u.DisabledAt)
		if isUnique(err) {
			return fmt.Errorf("user email %q: %w", u.Email, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: update user %q: %w", id, err)
		}
		if err := BumpEpoch(ctx, tx, EpochAuth); err != nil {
			return err
		}
		if u.DisabledAt != nil || u.PasswordHash != oldHash {
			if err := deleteUserSessions(ctx, tx, id, nil); err != nil {
				return err
			}
		}
		out = u
		return nil
	})
	return out, err
}

// DisableUser marks the user disabled: their sessions end and their personal keys stop
// resolving at once.
func (s *Store) DisableUser(ctx context.Context, id string, disabled bool) (*store.User, error) {
	return s.UpdateUser(ctx, id, func(u *store.User) error { u.SetDisabled(disabled); return nil })
}
