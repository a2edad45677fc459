package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

// CreateSession stores a dashboard session (keyed by the token's digest).
func (s *Store) CreateSession(ctx context.Context, sess *store.Session) error {
	if err := sess.Check(); err != nil {
		return err
	}
	// A digest stored again replaces the session, as a bbolt put does.
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (digest, user_id, csrf_token, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (digest) DO UPDATE SET user_id = EXCLUDED.user_id, csrf_token = EXCLUDED.csrf_token,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
		sess.Digest, sess.UserID, sess.CSRFToken, pgTime(sess.CreatedAt), pgTime(sess.ExpiresAt))
	if pgCode(err) == pgForeignKeyViolation {
		return notFound("user", sess.UserID)
	}
	if err != nil {
		return fmt.Errorf("postgres: create session: %w", err)
	}
	return nil
}

// GetSession returns the live session with that digest; expired ones are not found.
func (s *Store) GetSession(ctx context.Context, digest []byte) (*store.Session, error) {
	sess, err := queryOne(ctx, s.pool, "session", "", func(r pgx.Row) (*store.Session, error) {
		sess := new(store.Session)
		if err := r.Scan(&sess.Digest, &sess.UserID, &sess.CSRFToken, &sess.CreatedAt, &sess.ExpiresAt); err != nil {
			return nil, err
		}
		sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
		return sess, nil
	}, `SELECT digest, user_id, csrf_token, created_at, expires_at FROM sessions WHERE digest = $1`, digest)
	if err != nil {
		return nil, err
	}
	if time.Now().After(sess.ExpiresAt) {
		return nil, fmt.Errorf("session expired: %w", store.ErrNotFound)
	}
	return sess, nil
}

// DeleteSession ends one session; ending one that does not exist is not an error.
func (s *Store) DeleteSession(ctx context.Context, digest []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE digest = $1`, digest); err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return nil
}

// SetPassword replaces userID's password hash and ends every session of theirs except
// keep (the session that made the change; nil ends them all), in one transaction.
func (s *Store) SetPassword(ctx context.Context, userID, hash string, keep []byte) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, userID, hash)
		if err != nil {
			return fmt.Errorf("postgres: set password: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("user", userID)
		}
		return deleteUserSessions(ctx, tx, userID, keep)
	})
}

// deleteUserSessions ends every session of userID but keep (used when a user is
// disabled or their password changes).
func deleteUserSessions(ctx context.Context, tx pgx.Tx, userID string, keep []byte) error {
	_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR digest <> $2)`, userID, keep)
	if err != nil {
		return fmt.Errorf("postgres: end sessions of user %q: %w", userID, err)
	}
	return nil
}
