package postgres

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	return errTODO
}

func (s *Store) GetUser(ctx context.Context, id string) (u *store.User, err error) {
	return nil, errTODO
}

func (s *Store) GetUserByEmail(ctx context.Context, email string) (u *store.User, err error) {
	return nil, errTODO
}

func (s *Store) ListUsers(ctx context.Context) (us []*store.User, err error) {
	return nil, errTODO
}

func (s *Store) UpdateUser(ctx context.Context, id string, fn func(u *store.User) error) (*store.User, error) {
	return nil, errTODO
}

func (s *Store) DisableUser(ctx context.Context, id string, disabled bool) (*store.User, error) {
	return nil, errTODO
}

func (r *reader) User(id string) (*store.User, error) {
	return nil, errTODO
}

func (r *reader) UserByEmail(email string) (*store.User, error) {
	return nil, errTODO
}

func (r *reader) Users() ([]*store.User, error) {
	return nil, errTODO
}
