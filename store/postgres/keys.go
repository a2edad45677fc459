package postgres

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) CreateKey(ctx context.Context, k *store.APIKey) error {
	return errTODO
}

func (s *Store) SetKeyGrants(ctx context.Context, keyID string, grants []store.Grant) error {
	return errTODO
}

func (s *Store) UpdateKey(ctx context.Context, id string, fn func(k *store.APIKey) error) (*store.APIKey, error) {
	return nil, errTODO
}

func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) (*store.APIKey, error) {
	return nil, errTODO
}

func (s *Store) RotateKey(ctx context.Context, oldID string, newKey *store.APIKey, graceUntil time.Time) error {
	return errTODO
}

func (s *Store) GetKey(ctx context.Context, id string) (k *store.APIKey, err error) {
	return nil, errTODO
}

func (s *Store) ListKeys(ctx context.Context, f store.KeyFilter) (ks []*store.APIKey, err error) {
	return nil, errTODO
}

func (s *Store) OrgKeysReachingWorkspace(ctx context.Context, wsID string) (ks []*store.APIKey, err error) {
	return nil, errTODO
}

func (s *Store) SetKeysLastUsed(ctx context.Context, used map[string]store.LastUsed) error {
	return errTODO
}

func (r *reader) Key(id string) (*store.APIKey, error) {
	return nil, errTODO
}

func (r *reader) KeyByDigest(d []byte) (*store.APIKey, error) {
	return nil, errTODO
}

func (r *reader) Grants(keyID string) ([]store.Grant, error) {
	return nil, errTODO
}

func (r *reader) KeysTargeting(targetID string) ([]string, error) {
	return nil, errTODO
}

func (r *reader) Keys(f store.KeyFilter) ([]*store.APIKey, error) {
	return nil, errTODO
}
