package postgres

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) SetEnvVar(ctx context.Context, v *store.EnvVar) error {
	return errTODO
}

func (s *Store) DeleteEnvVar(ctx context.Context, wsID, name string) error {
	return errTODO
}

func (s *Store) DeleteUserEnvVar(ctx context.Context, userID, name string) error {
	return errTODO
}

func (s *Store) EnvVars(ctx context.Context, wsID string) (out []*store.EnvVar, err error) {
	return nil, errTODO
}

func (s *Store) UserEnvVars(ctx context.Context, userID string) (out []*store.EnvVar, err error) {
	return nil, errTODO
}

func (s *Store) RunEnvVars(ctx context.Context, wsID, userID string) (ws, personal []*store.EnvVar, err error) {
	return nil, nil, errTODO
}
