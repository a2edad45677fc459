package bolt

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
)

// CreateSession stores a dashboard session (keyed by the token's digest).
func (s *Store) CreateSession(ctx context.Context, sess *store.Session) error {
	if err := sess.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *writer) error {
		if _, err := w.User(sess.UserID); err != nil {
			return err
		}
		return putJSON(w.tx.Bucket(bSessions), sess.Digest, sess)
	})
}

// GetSession returns the live session with that digest; expired ones are not found.
func (s *Store) GetSession(ctx context.Context, digest []byte) (sess *store.Session, err error) {
	err = s.view(ctx, func(r *Reader) error {
		sess, err = getJSON[store.Session](r.tx.Bucket(bSessions), digest)
		if err == nil && time.Now().After(sess.ExpiresAt) {
			sess, err = nil, store.ErrNotFound
		}
		return err
	})
	return sess, err
}

// DeleteSession ends one session.
func (s *Store) DeleteSession(ctx context.Context, digest []byte) error {
	return s.update(ctx, func(w *writer) error { return w.tx.Bucket(bSessions).Delete(digest) })
}

// SetPassword replaces userID's password hash and ends every session of theirs except
// keep (the session that made the change; nil ends them all), in one transaction.
func (s *Store) SetPassword(ctx context.Context, userID, hash string, keep []byte) error {
	return s.update(ctx, func(w *writer) error {
		u, err := w.User(userID)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		if err := putJSON(w.tx.Bucket(bUsers), []byte(userID), u); err != nil {
			return err
		}
		return w.deleteUserSessions(userID, keep)
	})
}

// deleteUserSessions ends every session of userID but keep (used when a user is
// disabled or their password changes).
func (w *writer) deleteUserSessions(userID string, keep []byte) error {
	b := w.tx.Bucket(bSessions)
	var doomed [][]byte
	err := b.ForEach(func(k, v []byte) error {
		sess, err := getJSON[store.Session](b, k)
		if err != nil {
			return err
		}
		if sess.UserID == userID && string(k) != string(keep) {
			doomed = append(doomed, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
