package postgres

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) CreateOAuthClient(ctx context.Context, c *store.OAuthClient, idleBefore time.Time) error {
	return errTODO
}

func (s *Store) GetOAuthClient(ctx context.Context, id string) (c *store.OAuthClient, err error) {
	return nil, errTODO
}

func (s *Store) GetOAuthGrant(ctx context.Context, id string) (g *store.OAuthGrant, err error) {
	return nil, errTODO
}

func (s *Store) CreateOAuthGrant(ctx context.Context, g *store.OAuthGrant, tokens ...*store.OAuthToken) error {
	return errTODO
}

func (s *Store) RotateOAuthRefresh(ctx context.Context, digest []byte, t time.Time, newTokens ...*store.OAuthToken) (g *store.OAuthGrant, err error) {
	return nil, errTODO
}

func (s *Store) RevokeOAuthGrant(ctx context.Context, id string, t time.Time) (g *store.OAuthGrant, err error) {
	return nil, errTODO
}

func (s *Store) ListOAuthGrants(ctx context.Context, f store.OAuthGrantFilter, t time.Time) (out []*store.OAuthGrant, err error) {
	return nil, errTODO
}

func (s *Store) SetOAuthGrantsLastUsed(ctx context.Context, used map[string]time.Time) error {
	return errTODO
}

func (r *reader) OAuthClient(id string) (*store.OAuthClient, error) {
	return nil, errTODO
}

func (r *reader) OAuthGrant(id string) (*store.OAuthGrant, error) {
	return nil, errTODO
}

func (r *reader) OAuthToken(digest []byte) (*store.OAuthToken, error) {
	return nil, errTODO
}
