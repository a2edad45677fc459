package postgres

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) PutInvitation(ctx context.Context, inv *store.Invitation) error {
	return errTODO
}

func (s *Store) GetInvitation(ctx context.Context, id string, now time.Time) (inv *store.Invitation, err error) {
	return nil, errTODO
}

func (s *Store) InvitationsForEmail(ctx context.Context, email string, now time.Time) ([]*store.Invitation, error) {
	return nil, errTODO
}

func (s *Store) InvitationsForTarget(ctx context.Context, targetID string, now time.Time) ([]*store.Invitation, error) {
	return nil, errTODO
}

func (s *Store) DeleteInvitation(ctx context.Context, id string) error {
	return errTODO
}

func (s *Store) AcceptInvitation(ctx context.Context, id, userID string, now time.Time) (*store.Invitation, error) {
	return nil, errTODO
}

func (r *reader) Invitation(id string) (*store.Invitation, error) {
	return nil, errTODO
}
