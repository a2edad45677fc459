package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

// The suite's invitations are sent at t0, expire a day later and are read at tnow.
var tnow = t0.Add(time.Hour)

func wsInvite(wsID, email string, perm store.Level) *store.Invitation {
	return &store.Invitation{TargetType: store.TargetWorkspace, TargetID: wsID, Email: email, Permission: perm,
		InvitedBy: "inviter", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
}

func orgInvite(orgID, email string, role store.OrgRole) *store.Invitation {
	return &store.Invitation{TargetType: store.TargetOrg, TargetID: orgID, Email: email, Role: role,
		InvitedBy: "inviter", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
}

func mustInvite(t *testing.T, s store.Store, inv *store.Invitation) *store.Invitation {
	t.Helper()
	if err := s.PutInvitation(ctx, inv); err != nil {
		t.Fatalf("put invitation %+v: %v", inv, err)
	}
	return inv
}

func invIDs(invs []*store.Invitation) []string {
	var ids []string
	for _, inv := range invs {
		ids = append(ids, inv.ID)
	}
	return ids
}

func sameInvitation(t *testing.T, what string, got, want *store.Invitation) {
	t.Helper()
	if got.ID != want.ID || got.TargetType != want.TargetType || got.TargetID != want.TargetID || got.Email != want.Email ||
		got.Permission != want.Permission || got.Role != want.Role || got.InvitedBy != want.InvitedBy ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func testInvitations(t *testing.T, open Opener) {
	t.Run("PutAndGet", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		ws := mustWorkspace(t, s, "W", owner.ID, "")
		o := mustOrg(t, s, "O", owner.ID)
		var inv *store.Invitation
		bumps(t, s, "invite", false, func() error {
			inv = mustInvite(t, s, wsInvite(ws.ID, " New@Example.COM ", store.LevelWrite))
			return nil
		})
		if inv.ID == "" || inv.Email != "new@example.com" {
			t.Fatalf("stored invitation %+v: want an id and the normalized email", inv)
		}
		got, err := s.GetInvitation(ctx, inv.ID, tnow)
		wantErr(t, "get", err, nil)
		sameInvitation(t, "GetInvitation", got, inv)
		oinv := mustInvite(t, s, orgInvite(o.ID, "new@example.com", store.RoleAdmin))
		got, err = s.GetInvitation(ctx, oinv.ID, tnow)
		wantErr(t, "get org invitation", err, nil)
		sameInvitation(t, "GetInvitation(org)", got, oinv)

		// Expired: not found live, still readable in a View.
		_, err = s.GetInvitation(ctx, inv.ID, inv.ExpiresAt)
		wantErr(t, "get at expiry", err, store.ErrNotFound)
		view(t, s, func(r store.Reader) error {
			got, err := r.Invitation(inv.ID)
			wantErr(t, "reader invitation", err, nil)
			sameInvitation(t, "Reader.Invitation", got, inv)
			_, err = r.Invitation("missing")
			wantErr(t, "reader missing", err, store.ErrNotFound)
			return nil
		})
		_, err = s.GetInvitation(ctx, "missing", tnow)
		wantErr(t, "get missing", err, store.ErrNotFound)
	})

	t.Run("Invalid", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		ws := mustWorkspace(t, s, "W", owner.ID, "")
		o := mustOrg(t, s, "O", owner.ID)
		for name, tc := range map[string]struct {
			inv  *store.Invitation
			want error
		}{
			"no email":            {wsInvite(ws.ID, "", store.LevelRead), store.ErrInvalid},
			"no target":           {wsInvite("", "a@x.io", store.LevelRead), store.ErrInvalid},
			"bad permission":      {wsInvite(ws.ID, "a@x.io", "owner"), store.ErrInvalid},
			"role for workspace":  {&store.Invitation{TargetType: store.TargetWorkspace, TargetID: ws.ID, Email: "a@x.io", Role: store.RoleAdmin}, store.ErrInvalid},
			"bad role":            {orgInvite(o.ID, "a@x.io", "write"), store.ErrInvalid},
			"bad target type":     {&store.Invitation{TargetType: store.TargetWorkflow, TargetID: ws.ID, Email: "a@x.io", Permission: store.LevelRead}, store.ErrInvalid},
			"missing workspace":   {wsInvite("no-ws", "a@x.io", store.LevelRead), store.ErrNotFound},
			"missing org":         {orgInvite("no-org", "a@x.io", store.RoleMember), store.ErrNotFound},
			"workspace id as org": {orgInvite(ws.ID, "a@x.io", store.RoleMember), store.ErrNotFound},
		} {
			wantErr(t, name, s.PutInvitation(ctx, tc.inv), tc.want)
		}
		for _, target := range []string{ws.ID, o.ID, "no-ws", ""} {
			if l, _ := s.InvitationsForTarget(ctx, target, tnow); len(l) != 0 {
				t.Errorf("refused invitations stored for %q: %+v", target, l)
			}
		}
	})

	t.Run("InvitingAgainReplaces", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		ws := mustWorkspace(t, s, "W", owner.ID, "")
		ws2 := mustWorkspace(t, s, "W2", owner.ID, "")
		first := mustInvite(t, s, wsInvite(ws.ID, "a@x.io", store.LevelRead))
		elsewhere := mustInvite(t, s, wsInvite(ws2.ID, "a@x.io", store.LevelRead))
		again := wsInvite(ws.ID, "A@X.io", store.LevelAdmin)
		again.ExpiresAt = t0.Add(48 * time.Hour)
		mustInvite(t, s, again)
		_, err := s.GetInvitation(ctx, first.ID, tnow)
		wantErr(t, "replaced invitation", err, store.ErrNotFound)
		l, err := s.InvitationsForTarget(ctx, ws.ID, tnow)
		wantErr(t, "for target", err, nil)
		if len(l) != 1 || l[0].ID != again.ID || l[0].Permission != store.LevelAdmin || !l[0].ExpiresAt.Equal(again.ExpiresAt) {
			t.Errorf("invitations to the workspace = %+v, want only the renewed one", l)
		}
		if _, err := s.GetInvitation(ctx, elsewhere.ID, tnow); err != nil {
			t.Errorf("the invitation to another workspace: %v", err)
		}
		// An expired invitation is replaced too rather than left behind.
		expired := wsInvite(ws.ID, "b@x.io", store.LevelRead)
		expired.ExpiresAt = t0
		mustInvite(t, s, expired)
		renewed := mustInvite(t, s, wsInvite(ws.ID, "b@x.io", store.LevelRead))
		view(t, s, func(r store.Reader) error {
			_, err := r.Invitation(expired.ID)
			wantErr(t, "expired and replaced", err, store.ErrNotFound)
			_, err = r.Invitation(renewed.ID)
			wantErr(t, "renewed", err, nil)
			return nil
		})
	})

	t.Run("Lists", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		var wss []*store.Workspace
		for _, n := range []string{"A", "B", "C"} {
			wss = append(wss, mustWorkspace(t, s, n, owner.ID, ""))
		}
		o := mustOrg(t, s, "O", owner.ID)
		var want []string
		for _, ws := range wss {
			want = append(want, mustInvite(t, s, wsInvite(ws.ID, "Pat@x.io", store.LevelRead)).ID)
			time.Sleep(2 * time.Millisecond) // ids are time-ordered to the millisecond
		}
		want = append(want, mustInvite(t, s, orgInvite(o.ID, "pat@x.io", store.RoleMember)).ID)
		gone := wsInvite(wss[0].ID, "old@x.io", store.LevelRead)
		gone.ExpiresAt = tnow
		mustInvite(t, s, gone)
		other := mustInvite(t, s, wsInvite(wss[0].ID, "other@x.io", store.LevelWrite))

		for _, e := range []string{"pat@x.io", "PAT@X.IO", " Pat@x.io "} {
			l, err := s.InvitationsForEmail(ctx, e, tnow)
			wantErr(t, "for email "+e, err, nil)
			if !slices.Equal(invIDs(l), want) {
				t.Errorf("InvitationsForEmail(%q) = %v, want %v (oldest first)", e, invIDs(l), want)
			}
		}
		l, err := s.InvitationsForTarget(ctx, wss[0].ID, tnow)
		wantErr(t, "for target", err, nil)
		if !slices.Equal(invIDs(l), sortedIDs(want[0], other.ID)) {
			t.Errorf("InvitationsForTarget = %v, want %v (live ones, oldest first)", invIDs(l), sortedIDs(want[0], other.ID))
		}
		l, err = s.InvitationsForEmail(ctx, "old@x.io", tnow)
		wantErr(t, "expired only", err, nil)
		if len(l) != 0 {
			t.Errorf("expired invitations listed: %v", invIDs(l))
		}
		l, err = s.InvitationsForEmail(ctx, "old@x.io", tnow.Add(-time.Second))
		wantErr(t, "before expiry", err, nil)
		if len(l) != 1 {
			t.Errorf("InvitationsForEmail before expiry = %v", invIDs(l))
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		ws := mustWorkspace(t, s, "W", owner.ID, "")
		inv := mustInvite(t, s, wsInvite(ws.ID, "a@x.io", store.LevelRead))
		bumps(t, s, "delete", false, func() error { return s.DeleteInvitation(ctx, inv.ID) })
		_, err := s.GetInvitation(ctx, inv.ID, tnow)
		wantErr(t, "deleted", err, store.ErrNotFound)
		wantErr(t, "delete again", s.DeleteInvitation(ctx, inv.ID), store.ErrNotFound)
		if l, _ := s.InvitationsForEmail(ctx, "a@x.io", tnow); len(l) != 0 {
			t.Errorf("deleted invitation still listed: %v", invIDs(l))
		}
	})

	t.Run("AcceptWorkspace", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		u := mustUser(t, s, "U@x.io")
		ws := mustWorkspace(t, s, "W", owner.ID, "")
		inv := mustInvite(t, s, wsInvite(ws.ID, "u@X.io", store.LevelWrite))
		var got *store.Invitation
		bumps(t, s, "accept", true, func() (err error) { got, err = s.AcceptInvitation(ctx, inv.ID, u.ID, tnow); return err })
		sameInvitation(t, "accepted invitation", got, inv)
		view(t, s, func(r store.Reader) error {
			perm, err := r.Membership(ws.ID, u.ID)
			wantErr(t, "membership", err, nil)
			if perm != store.LevelWrite {
				t.Errorf("permission right after accepting = %q, want write", perm)
			}
			_, err = r.Invitation(inv.ID)
			wantErr(t, "accepted invitation", err, store.ErrNotFound)
			return nil
		})
		_, err := s.AcceptInvitation(ctx, inv.ID, u.ID, tnow)
		wantErr(t, "accept twice", err, store.ErrNotFound)

		// A lower invitation keeps the higher membership; a higher one raises it.
		mustInvite(t, s, wsInvite(ws.ID, "u@x.io", store.LevelRead))
		low, _ := s.InvitationsForEmail(ctx, "u@x.io", tnow)
		_, err = s.AcceptInvitation(ctx, low[0].ID, u.ID, tnow)
		wantErr(t, "accept lower", err, nil)
		if perm := wsMembers(t, s, ws.ID)[u.ID]; perm != store.LevelWrite {
			t.Errorf("permission after a lower invitation = %q, want write kept", perm)
		}
		high := mustInvite(t, s, wsInvite(ws.ID, "u@x.io", store.LevelAdmin))
		_, err = s.AcceptInvitation(ctx, high.ID, u.ID, tnow)
		wantErr(t, "accept higher", err, nil)
		if perm := wsMembers(t, s, ws.ID)[u.ID]; perm != store.LevelAdmin {
			t.Errorf("permission after a higher invitation = %q, want admin", perm)
		}
	})

	t.Run("AcceptOrg", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		u := mustUser(t, s, "u@x.io")
		o := mustOrg(t, s, "O", owner.ID)
		inv := mustInvite(t, s, orgInvite(o.ID, "u@x.io", store.RoleAdmin))
		bumps(t, s, "accept", true, func() error { _, err := s.AcceptInvitation(ctx, inv.ID, u.ID, tnow); return err })
		view(t, s, func(r store.Reader) error {
			role, err := r.OrgRole(o.ID, u.ID)
			wantErr(t, "role", err, nil)
			if role != store.RoleAdmin {
				t.Errorf("role right after accepting = %q, want admin", role)
			}
			ids, _ := r.UserOrgs(u.ID)
			if !slices.Equal(ids, []string{o.ID}) {
				t.Errorf("UserOrgs after accepting = %v", ids)
			}
			return nil
		})
		// The owner invited as a member stays the owner.
		own := mustInvite(t, s, orgInvite(o.ID, "owner@x.io", store.RoleMember))
		_, err := s.AcceptInvitation(ctx, own.ID, owner.ID, tnow)
		wantErr(t, "owner accepts a member invitation", err, nil)
		if m := orgMembers(t, s, o.ID); m[owner.ID] != store.RoleOwner {
			t.Errorf("owner's role after accepting a member invitation = %q", m[owner.ID])
		}
	})

	t.Run("AcceptRefused", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		u := mustUser(t, s, "u@x.io")
		eve := mustUser(t, s, "eve@x.io")
		ws := mustWorkspace(t, s, "W", owner.ID, "")
		inv := mustInvite(t, s, wsInvite(ws.ID, "u@x.io", store.LevelAdmin))
		before := s.AuthEpoch()
		for name, tc := range map[string]struct {
			id, user string
			now      time.Time
		}{
			"expired":            {inv.ID, u.ID, inv.ExpiresAt},
			"someone else":       {inv.ID, eve.ID, tnow},
			"unknown user":       {inv.ID, "nobody", tnow},
			"unknown invitation": {"missing", u.ID, tnow},
		} {
			_, err := s.AcceptInvitation(ctx, tc.id, tc.user, tc.now)
			wantErr(t, name, err, store.ErrNotFound)
		}
		if s.AuthEpoch() != before {
			t.Errorf("refused accepts moved the auth epoch %d -> %d", before, s.AuthEpoch())
		}
		if m := wsMembers(t, s, ws.ID); len(m) != 1 {
			t.Errorf("members after refused accepts = %v", m)
		}
		if _, err := s.GetInvitation(ctx, inv.ID, tnow); err != nil {
			t.Errorf("refused accepts consumed the invitation: %v", err)
		}
		// Addressed to the user's current email: eve taking u's old address may accept.
		_, err := s.UpdateUser(ctx, u.ID, func(x *store.User) error { x.Email = "u2@x.io"; return nil })
		wantErr(t, "u changes address", err, nil)
		_, err = s.AcceptInvitation(ctx, inv.ID, u.ID, tnow)
		wantErr(t, "accept after changing address", err, store.ErrNotFound)
		_, err = s.UpdateUser(ctx, eve.ID, func(x *store.User) error { x.Email = "U@x.io"; return nil })
		wantErr(t, "eve takes the address", err, nil)
		_, err = s.AcceptInvitation(ctx, inv.ID, eve.ID, tnow)
		wantErr(t, "accept with the invited address", err, nil)
	})

	t.Run("ConcurrentAccept", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		u := mustUser(t, s, "u@x.io")
		o := mustOrg(t, s, "O", owner.ID)
		ws := mustWorkspace(t, s, "W", owner.ID, o.ID)
		for round, inv := range []*store.Invitation{
			wsInvite(ws.ID, "u@x.io", store.LevelWrite),
			orgInvite(o.ID, "u@x.io", store.RoleMember),
		} {
			mustInvite(t, s, inv)
			oneWins(t, fmt.Sprintf("round %d: accepts of one invitation", round), 4, store.ErrNotFound, func(int) error {
				_, err := s.AcceptInvitation(ctx, inv.ID, u.ID, tnow)
				return err
			})
		}
		if perm := wsMembers(t, s, ws.ID)[u.ID]; perm != store.LevelWrite {
			t.Errorf("permission = %q, want write", perm)
		}
		if role := orgMembers(t, s, o.ID)[u.ID]; role != store.RoleMember {
			t.Errorf("role = %q, want member", role)
		}
	})
}
