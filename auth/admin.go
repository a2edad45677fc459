package auth

import (
	"context"
	"errors"

	"github.com/steelengine/steelengine/store"
)

// RequireInstanceAdmin allows the local operator and dashboard sessions of users who
// are instance administrators right now (the user is re-read, so a demoted or disabled
// admin loses the right on the next request). API keys never administer the instance.
func (a *Authorizer) RequireInstanceAdmin(ctx context.Context, p *Principal) error {
	if p == nil {
		return ErrUnauthenticated()
	}
	if p.operator {
		return nil
	}
	if !p.Session || p.UserID == "" {
		return errForbidden()
	}
	u, err := a.st.GetUser(ctx, p.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.DisabledAt != nil) {
		return errInvalidSession()
	}
	if err != nil {
		return err
	}
	if !u.InstanceAdmin {
		return errForbidden()
	}
	return nil
}

// RequireOrgOwner allows the operator, instance-admin sessions and users (by session or
// personal key) who own orgID now. Making, changing or removing owners needs it.
func (a *Authorizer) RequireOrgOwner(ctx context.Context, p *Principal, orgID string) error {
	if err := a.Authorize(ctx, p, OrgTarget(orgID), store.LevelAdmin); err != nil {
		return err
	}
	if p.operator {
		return nil
	}
	var role store.OrgRole
	var admin bool
	err := a.st.View(ctx, func(r store.Reader) error {
		u, err := r.User(p.UserID)
		if err != nil {
			return err
		}
		admin = p.Session && u.InstanceAdmin
		role, err = r.OrgRole(orgID, p.UserID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return errForbidden()
	}
	if err != nil {
		return err
	}
	if admin || role == store.RoleOwner {
		return nil
	}
	return errForbidden()
}

// RequireHuman allows dashboard sessions and the local operator, and refuses every API
// key. Key management and membership go through it: a key that could mint keys, rotate
// them or add members could leave behind access that outlives its own (an organization
// key must not survive its workspace leaving the organization through a key it minted).
func RequireHuman(p *Principal) error {
	if p == nil {
		return ErrUnauthenticated()
	}
	if p.operator || p.Session {
		return nil
	}
	return errSessionRequired()
}

func errSessionRequired() *Error {
	return &Error{Status: 403, Code: "session_required",
		Message: "This needs a signed-in user (dashboard) or the local operator (CLI); API keys cannot manage keys or membership"}
}

// RequireUser returns the acting user's id: sessions and personal keys act as a user;
// workspace and organization keys and the operator do not.
func RequireUser(p *Principal) (string, error) {
	if p == nil {
		return "", ErrUnauthenticated()
	}
	if p.UserID == "" || (!p.Session && p.KeyType != store.KeyPersonal) {
		return "", errForbidden()
	}
	return p.UserID, nil
}

// ActorID names who did something, for audit trails: a user id, "operator" or
// "key:"+id.
func (p *Principal) ActorID() string { return p.actorID() }

// AuthorizeCancel decides whether p may cancel a run started by (ownerKeyID,
// ownerUserID) on workflow wfID: write on the workflow cancels one's own runs (same
// key, or same acting user); admin cancels anyone's.
func (a *Authorizer) AuthorizeCancel(ctx context.Context, p *Principal, wfID, ownerKeyID, ownerUserID string) error {
	lvl, err := a.Level(ctx, p, WorkflowTarget(wfID))
	if err != nil {
		return err
	}
	own := p.operator || (p.KeyID != "" && p.KeyID == ownerKeyID) || (p.UserID != "" && p.UserID == ownerUserID)
	switch {
	case lvl.Rank() >= store.LevelAdmin.Rank():
		return nil
	case own && lvl.Rank() >= store.LevelWrite.Rank():
		return nil
	}
	return &Error{Status: 403, Code: "forbidden", Message: "Only the run's owner or a workflow admin can cancel it"}
}
