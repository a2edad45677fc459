package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

const invCols = `id, target_type, target_id, email, permission, role, invited_by, created_at, expires_at`

func scanInvitation(r pgx.Row) (*store.Invitation, error) {
	inv := new(store.Invitation)
	if err := r.Scan(&inv.ID, &inv.TargetType, &inv.TargetID, &inv.Email, &inv.Permission, &inv.Role,
		&inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt); err != nil {
		return nil, err
	}
	inv.CreatedAt, inv.ExpiresAt = inv.CreatedAt.UTC(), inv.ExpiresAt.UTC()
	return inv, nil
}

func getInvitation(ctx context.Context, q dbtx, id string, lock bool) (*store.Invitation, error) {
	sql := `SELECT ` + invCols + ` FROM invitations WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	return queryOne(ctx, q, "invitation", id, scanInvitation, sql, id)
}

// lockInviteTarget reads (and locks) the workspace or organization an invitation is to;
// writes to its members and invitations are serialized on that row.
func lockInviteTarget(ctx context.Context, tx pgx.Tx, typ store.TargetType, id string) error {
	var err error
	if typ == store.TargetWorkspace {
		_, err = getWorkspace(ctx, tx, id, true)
	} else {
		_, err = getOrg(ctx, tx, id, true)
	}
	return err
}

// PutInvitation stores inv, replacing a pending invitation of the same email to the same
// target (inviting twice renews the invitation rather than piling them up).
func (s *Store) PutInvitation(ctx context.Context, inv *store.Invitation) error {
	if err := inv.Check(); err != nil {
		return err
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if err := lockInviteTarget(ctx, tx, inv.TargetType, inv.TargetID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM invitations WHERE target_id = $1 AND email = $2`, inv.TargetID, inv.Email); err != nil {
			return fmt.Errorf("postgres: replace invitation: %w", err)
		}
		if inv.ID == "" {
			inv.ID = store.NewID()
		}
		inv.CreatedAt, inv.ExpiresAt = pgTime(inv.CreatedAt), pgTime(inv.ExpiresAt)
		_, err := tx.Exec(ctx, `INSERT INTO invitations (`+invCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (id) DO UPDATE SET target_type = EXCLUDED.target_type, target_id = EXCLUDED.target_id,
				email = EXCLUDED.email, permission = EXCLUDED.permission, role = EXCLUDED.role,
				invited_by = EXCLUDED.invited_by, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
			inv.ID, string(inv.TargetType), inv.TargetID, inv.Email, string(inv.Permission), string(inv.Role),
			inv.InvitedBy, inv.CreatedAt, inv.ExpiresAt)
		if err != nil {
			return fmt.Errorf("postgres: put invitation: %w", err)
		}
		return nil
	})
}

// Invitation returns the invitation with id (expired ones included).
func (r *reader) Invitation(id string) (*store.Invitation, error) {
	return getInvitation(r.ctx, r.tx, id, false)
}

// GetInvitation returns the live invitation with id; expired ones are not found.
func (s *Store) GetInvitation(ctx context.Context, id string, now time.Time) (*store.Invitation, error) {
	inv, err := getInvitation(ctx, s.pool, id, false)
	if err != nil {
		return nil, err
	}
	if !now.Before(inv.ExpiresAt) {
		return nil, notFound("invitation", id)
	}
	return inv, nil
}

// InvitationsForEmail lists the live invitations sent to email, oldest first.
func (s *Store) InvitationsForEmail(ctx context.Context, email string, now time.Time) ([]*store.Invitation, error) {
	return queryList(ctx, s.pool, "invitations", scanInvitation, `SELECT `+invCols+` FROM invitations
		WHERE email = $1 AND expires_at > $2 ORDER BY id COLLATE "C"`, store.NormEmail(email), now)
}

// InvitationsForTarget lists the live invitations to a workspace or organization, oldest
// first.
func (s *Store) InvitationsForTarget(ctx context.Context, targetID string, now time.Time) ([]*store.Invitation, error) {
	return queryList(ctx, s.pool, "invitations", scanInvitation, `SELECT `+invCols+` FROM invitations
		WHERE target_id = $1 AND expires_at > $2 ORDER BY id COLLATE "C"`, targetID, now)
}

// DeleteInvitation withdraws or declines an invitation.
func (s *Store) DeleteInvitation(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM invitations WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete invitation: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("invitation", id)
	}
	return nil
}

// AcceptInvitation makes userID a member of the invitation's target and deletes the
// invitation, in one transaction. The invitation must be live and addressed to the
// user's current email; an existing membership is kept if it is already higher.
func (s *Store) AcceptInvitation(ctx context.Context, id, userID string, now time.Time) (*store.Invitation, error) {
	var inv *store.Invitation
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		first, err := getInvitation(ctx, tx, id, false)
		if err != nil {
			return err
		}
		// Target first, then the invitation, in the order PutInvitation takes them. The
		// invitation's lock makes a second accept of it wait, then find it gone.
		if err := lockInviteTarget(ctx, tx, first.TargetType, first.TargetID); err != nil {
			return err
		}
		if inv, err = getInvitation(ctx, tx, id, true); err != nil {
			return err
		}
		if inv.TargetID != first.TargetID { // replaced under the same id in between
			return notFound("invitation", id)
		}
		u, err := getUser(ctx, tx, userID, false)
		if err != nil {
			return err
		}
		if err := inv.CheckAccept(u, now); err != nil {
			return err
		}
		switch inv.TargetType {
		case store.TargetWorkspace:
			cur, err := membership(ctx, tx, inv.TargetID, userID)
			if err != nil {
				return err
			}
			if cur.Rank() < inv.Permission.Rank() {
				if err := setWorkspaceMember(ctx, tx, inv.TargetID, userID, inv.Permission); err != nil {
					return err
				}
			}
		case store.TargetOrg:
			cur, err := orgRole(ctx, tx, inv.TargetID, userID)
			if err != nil {
				return err
			}
			if cur.Rank() < inv.Role.Rank() {
				if err := setOrgMember(ctx, tx, inv.TargetID, userID, inv.Role); err != nil {
					return err
				}
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM invitations WHERE id = $1`, id); err != nil {
			return fmt.Errorf("postgres: delete accepted invitation: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}
