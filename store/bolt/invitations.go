package bolt

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
)

// PutInvitation stores inv, replacing a pending invitation of the same email to the same
// target (inviting twice renews the invitation rather than piling them up).
func (s *Store) PutInvitation(ctx context.Context, inv *store.Invitation) error {
	if err := inv.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *writer) error {
		if inv.TargetType == store.TargetWorkspace {
			if _, err := w.Workspace(inv.TargetID); err != nil {
				return err
			}
		} else if _, err := w.Org(inv.TargetID); err != nil {
			return err
		}
		var stale []string
		err := scanPrefix(w.tx.Bucket(bInvByTarget), inv.TargetID, func(id, _ []byte) error {
			old, err := w.Invitation(string(id))
			if err == nil && old.Email == inv.Email {
				stale = append(stale, old.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range stale {
			if err := w.deleteInvitation(id); err != nil {
				return err
			}
		}
		if inv.ID == "" {
			inv.ID = store.NewID()
		}
		if err := putJSON(w.tx.Bucket(bInvites), []byte(inv.ID), inv); err != nil {
			return err
		}
		if err := w.tx.Bucket(bInvByEmail).Put(ckey(inv.Email, inv.ID), nil); err != nil {
			return err
		}
		return w.tx.Bucket(bInvByTarget).Put(ckey(inv.TargetID, inv.ID), nil)
	})
}

// Invitation returns the invitation with id (expired ones included).
func (r *Reader) Invitation(id string) (*store.Invitation, error) {
	inv, err := getJSON[store.Invitation](r.tx.Bucket(bInvites), []byte(id))
	if err != nil {
		return nil, notFound("invitation", id)
	}
	return inv, nil
}

// GetInvitation returns the live invitation with id; expired ones are not found.
func (s *Store) GetInvitation(ctx context.Context, id string, now time.Time) (inv *store.Invitation, err error) {
	err = s.view(ctx, func(r *Reader) error {
		inv, err = r.Invitation(id)
		if err == nil && !now.Before(inv.ExpiresAt) {
			inv, err = nil, notFound("invitation", id)
		}
		return err
	})
	return inv, err
}

// InvitationsForEmail lists the live invitations sent to email, oldest first.
func (s *Store) InvitationsForEmail(ctx context.Context, email string, now time.Time) ([]*store.Invitation, error) {
	return s.invitationsUnder(ctx, bInvByEmail, store.NormEmail(email), now)
}

// InvitationsForTarget lists the live invitations to a workspace or organization.
func (s *Store) InvitationsForTarget(ctx context.Context, targetID string, now time.Time) ([]*store.Invitation, error) {
	return s.invitationsUnder(ctx, bInvByTarget, targetID, now)
}

func (s *Store) invitationsUnder(ctx context.Context, index []byte, prefix string, now time.Time) (out []*store.Invitation, err error) {
	err = s.view(ctx, func(r *Reader) error {
		return scanPrefix(r.tx.Bucket(index), prefix, func(id, _ []byte) error {
			inv, err := r.Invitation(string(id))
			if err == nil && now.Before(inv.ExpiresAt) {
				out = append(out, inv)
			}
			return nil
		})
	})
	return out, err
}

// DeleteInvitation withdraws or declines an invitation.
func (s *Store) DeleteInvitation(ctx context.Context, id string) error {
	return s.update(ctx, func(w *writer) error {
		if _, err := w.Invitation(id); err != nil {
			return err
		}
		return w.deleteInvitation(id)
	})
}

// AcceptInvitation makes userID a member of the invitation's target and deletes the
// invitation, in one transaction. The invitation must be live and addressed to the
// user's current email; an existing membership is kept if it is already higher.
func (s *Store) AcceptInvitation(ctx context.Context, id, userID string, now time.Time) (*store.Invitation, error) {
	var inv *store.Invitation
	err := s.update(ctx, func(w *writer) error {
		var err error
		if inv, err = w.Invitation(id); err != nil {
			return err
		}
		u, err := w.User(userID)
		if err != nil {
			return err
		}
		if err := inv.CheckAccept(u, now); err != nil {
			return err
		}
		switch inv.TargetType {
		case store.TargetWorkspace:
			if _, err := w.Workspace(inv.TargetID); err != nil {
				return err
			}
			if cur, _ := w.Membership(inv.TargetID, userID); cur.Rank() < inv.Permission.Rank() {
				if err := w.setMember(inv.TargetID, userID, inv.Permission); err != nil {
					return err
				}
			}
		case store.TargetOrg:
			if _, err := w.Org(inv.TargetID); err != nil {
				return err
			}
			if cur, _ := w.OrgRole(inv.TargetID, userID); cur == "" || cur.Rank() < inv.Role.Rank() {
				if err := w.setOrgMember(inv.TargetID, userID, inv.Role); err != nil {
					return err
				}
			}
		}
		return w.deleteInvitation(id)
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

func (w *writer) deleteInvitation(id string) error {
	inv, err := w.Invitation(id)
	if err != nil {
		return err
	}
	for _, del := range []struct {
		b   []byte
		key []byte
	}{
		{bInvites, []byte(id)},
		{bInvByEmail, ckey(inv.Email, id)},
		{bInvByTarget, ckey(inv.TargetID, id)},
	} {
		if err := w.tx.Bucket(del.b).Delete(del.key); err != nil {
			return err
		}
	}
	return nil
}
