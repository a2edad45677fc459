package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

// CreateOAuthCode stores a new code and prunes codes expired before expiredBefore; see
// store.OAuth.
func (s *Store) CreateOAuthCode(ctx context.Context, c *store.OAuthCode, expiredBefore time.Time, maxPerUser int) error {
	if err := c.Check(); err != nil {
		return err
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_codes WHERE expires_at < $1`, expiredBefore); err != nil {
			return fmt.Errorf("postgres: prune oauth codes: %w", err)
		}
		if maxPerUser > 0 {
			// The table holds a couple of minutes of codes: a scan is cheap.
			var held int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM oauth_codes WHERE user_id = $1`, c.UserID).Scan(&held); err != nil {
				return fmt.Errorf("postgres: count oauth codes: %w", err)
			}
			if held >= maxPerUser {
				return store.ErrTooManyCodes
			}
		}
		wfs := c.Workflows
		if wfs == nil {
			wfs = []string{}
		}
		_, err := tx.Exec(ctx, `INSERT INTO oauth_codes (digest, client_id, redirect_uri, code_challenge, resource,
				server_id, workspace_id, workflows, level, user_id, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			c.Digest, c.ClientID, c.RedirectURI, c.CodeChallenge, c.Resource, c.ServerID, c.WorkspaceID, wfs,
			string(c.Level), c.UserID, c.ExpiresAt)
		if isUnique(err) {
			return fmt.Errorf("oauth code: %w", store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: insert oauth code: %w", err)
		}
		return nil
	})
}

// getOAuthCode reads the code under digest and locks its row until tx ends, so that
// concurrent presentations of one code are serialised.
func getOAuthCode(ctx context.Context, tx pgx.Tx, digest []byte) (*store.OAuthCode, error) {
	c := &store.OAuthCode{Digest: digest}
	var level string
	err := tx.QueryRow(ctx, `SELECT client_id, redirect_uri, code_challenge, resource, server_id, workspace_id,
			workflows, level, user_id, expires_at, used_at, grant_id, replayed
		FROM oauth_codes WHERE digest = $1 FOR UPDATE`, digest).
		Scan(&c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.Resource, &c.ServerID, &c.WorkspaceID,
			&c.Workflows, &level, &c.UserID, &c.ExpiresAt, &c.UsedAt, &c.GrantID, &c.Replayed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("oauth code: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get oauth code: %w", err)
	}
	c.Level = store.Level(level)
	c.ExpiresAt, c.UsedAt = c.ExpiresAt.UTC(), utcPtr(c.UsedAt)
	if len(c.Workflows) == 0 {
		c.Workflows = nil // omitempty in bbolt's record
	}
	return c, nil
}

// UseOAuthCode presents the code under digest at t and returns it as it was; see
// store.OAuth.
func (s *Store) UseOAuthCode(ctx context.Context, digest []byte, t time.Time) (*store.OAuthCode, error) {
	var c *store.OAuthCode
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if c, err = getOAuthCode(ctx, tx, digest); err != nil {
			return err
		}
		if !t.Before(c.ExpiresAt) {
			return fmt.Errorf("oauth code expired: %w", store.ErrNotFound)
		}
		switch {
		case c.UsedAt == nil:
			_, err = tx.Exec(ctx, `UPDATE oauth_codes SET used_at = $2 WHERE digest = $1`, digest, t)
		case c.GrantID == "" && !c.Replayed:
			_, err = tx.Exec(ctx, `UPDATE oauth_codes SET replayed = true WHERE digest = $1`, digest)
		}
		if err != nil {
			return fmt.Errorf("postgres: use oauth code: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// SetOAuthCodeGrant records the grant of the code's first use; see store.OAuth.
func (s *Store) SetOAuthCodeGrant(ctx context.Context, digest []byte, grantID string) (bool, error) {
	var replayed bool
	err := s.pool.QueryRow(ctx, `UPDATE oauth_codes SET grant_id = $2 WHERE digest = $1 RETURNING replayed`, digest, grantID).
		Scan(&replayed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("oauth code: %w", store.ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("postgres: set oauth code grant: %w", err)
	}
	return replayed, nil
}
