package store

import "context"

// Sessions holds dashboard sessions and password changes that end them.
type Sessions interface {
	// CreateSession stores a dashboard session (keyed by the token's digest).
	CreateSession(ctx context.Context, sess *Session) error

	// GetSession returns the live session with that digest; expired ones are not found.
	GetSession(ctx context.Context, digest []byte) (sess *Session, err error)

	// DeleteSession ends one session.
	DeleteSession(ctx context.Context, digest []byte) error

	// SetPassword replaces userID's password hash and ends every session of theirs except
	// keep (the session that made the change; nil ends them all), in one transaction.
	SetPassword(ctx context.Context, userID, hash string, keep []byte) error
}

// Check checks a session before it is stored: a token digest and a user.
func (sess *Session) Check() error {
	if len(sess.Digest) == 0 || sess.UserID == "" {
		return invalidf("session needs a digest and a user")
	}
	return nil
}
