package store

import (
	"context"
	"fmt"
	"time"
)

// Invitations holds pending invitations to workspaces and organizations.
type Invitations interface {
	// PutInvitation stores inv, replacing a pending invitation of the same email to the same
	// target (inviting twice renews the invitation rather than piling them up).
	PutInvitation(ctx context.Context, inv *Invitation) error

	// GetInvitation returns the live invitation with id; expired ones are not found.
	GetInvitation(ctx context.Context, id string, now time.Time) (inv *Invitation, err error)

	// InvitationsForEmail lists the live invitations sent to email, oldest first.
	InvitationsForEmail(ctx context.Context, email string, now time.Time) ([]*Invitation, error)

	// InvitationsForTarget lists the live invitations to a workspace or organization.
	InvitationsForTarget(ctx context.Context, targetID string, now time.Time) ([]*Invitation, error)

	// DeleteInvitation withdraws or declines an invitation.
	DeleteInvitation(ctx context.Context, id string) error

	// AcceptInvitation makes userID a member of the invitation's target and deletes the
	// invitation, in one transaction. The invitation must be live and addressed to the
	// user's current email; an existing membership is kept if it is already higher.
	AcceptInvitation(ctx context.Context, id, userID string, now time.Time) (*Invitation, error)
}

// Check checks an invitation before it is stored: an email and a target, a valid
// permission for a workspace or role for an organization. It normalises the email.
func (inv *Invitation) Check() error {
	if inv.Email == "" || inv.TargetID == "" {
		return invalidf("invitation needs an email and a target")
	}
	switch inv.TargetType {
	case TargetWorkspace:
		if err := CheckPermission(inv.Permission); err != nil {
			return err
		}
	case TargetOrg:
		if err := CheckRole(inv.Role); err != nil {
			return err
		}
	default:
		return invalidf("invitation target %q must be workspace or organization", inv.TargetType)
	}
	inv.Email = NormEmail(inv.Email)
	return nil
}

// CheckAccept checks that u may accept inv at now: the invitation is live and addressed to
// u's current email. Otherwise it is not found, as an expired one is.
func (inv *Invitation) CheckAccept(u *User, now time.Time) error {
	if !now.Before(inv.ExpiresAt) || NormEmail(u.Email) != inv.Email {
		return fmt.Errorf("invitation %q: %w", inv.ID, ErrNotFound)
	}
	return nil
}
