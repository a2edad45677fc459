package postgres

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) CreateSession(ctx context.Context, sess *store.Session) error {
	return errTODO
}

func (s *Store) GetSession(ctx context.Context, digest []byte) (sess *store.Session, err error) {
	return nil, errTODO
}

func (s *Store) DeleteSession(ctx context.Context, digest []byte) error {
	return errTODO
}

func (s *Store) SetPassword(ctx context.Context, userID, hash string, keep []byte) error {
	return errTODO
}
