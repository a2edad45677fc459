package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// bOAuthCodes holds authorization codes: digest → OAuthCode. Codes last a minute and
// every new one prunes the expired ones, so the bucket stays small enough to scan.
var bOAuthCodes = []byte("oauth_codes")

// CreateOAuthCode stores a new code and prunes codes expired before expiredBefore; see
// store.OAuth.
func (s *Store) CreateOAuthCode(ctx context.Context, c *store.OAuthCode, expiredBefore time.Time, maxPerUser int) error {
	if err := c.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bOAuthCodes)
		if b.Get(c.Digest) != nil {
			return fmt.Errorf("oauth code: %w", store.ErrConflict)
		}
		var stale [][]byte
		held := 0
		err := b.ForEach(func(k, v []byte) error {
			o, err := decodeJSON[store.OAuthCode](v)
			switch {
			case err != nil || o.ExpiresAt.Before(expiredBefore):
				stale = append(stale, bytes.Clone(k))
			case o.UserID == c.UserID:
				held++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if maxPerUser > 0 && held >= maxPerUser {
			return store.ErrTooManyCodes
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return putJSON(b, c.Digest, c)
	})
}

// UseOAuthCode presents the code under digest at t and returns it as it was; see
// store.OAuth.
func (s *Store) UseOAuthCode(ctx context.Context, digest []byte, t time.Time) (c *store.OAuthCode, err error) {
	err = s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bOAuthCodes)
		c, err = getOAuthCode(b, digest)
		if err != nil {
			return err
		}
		if !t.Before(c.ExpiresAt) {
			return fmt.Errorf("oauth code expired: %w", store.ErrNotFound)
		}
		next := *c
		switch {
		case c.UsedAt == nil:
			next.UsedAt = &t
		case c.GrantID == "" && !c.Replayed:
			next.Replayed = true
		default:
			return nil
		}
		return putJSON(b, digest, &next)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// SetOAuthCodeGrant records the grant of the code's first use; see store.OAuth.
func (s *Store) SetOAuthCodeGrant(ctx context.Context, digest []byte, grantID string) (replayed bool, err error) {
	err = s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bOAuthCodes)
		c, err := getOAuthCode(b, digest)
		if err != nil {
			return err
		}
		c.GrantID, replayed = grantID, c.Replayed
		return putJSON(b, digest, c)
	})
	return replayed, err
}

func getOAuthCode(b *bbolt.Bucket, digest []byte) (*store.OAuthCode, error) {
	c, err := getJSON[store.OAuthCode](b, digest)
	if err != nil {
		return nil, fmt.Errorf("oauth code: %w", err)
	}
	c.Digest = bytes.Clone(digest)
	return c, nil
}
