package storetest

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

// mustWorkspace creates a workspace owned by ownerID, in orgID when not empty.
func mustWorkspace(t *testing.T, s store.Store, name, ownerID, orgID string) *store.Workspace {
	t.Helper()
	ws := store.NewWorkspace(name, ownerID, orgID)
	ws.CreatedAt = t0
	if err := s.CreateWorkspace(ctx, ws); err != nil {
		t.Fatalf("create workspace %s: %v", name, err)
	}
	return ws
}

// wsMembers reads a workspace's members as user id -> permission.
func wsMembers(t *testing.T, s store.Store, wsID string) map[string]store.Level {
	t.Helper()
	out := map[string]store.Level{}
	view(t, s, func(r store.Reader) error {
		ms, err := r.WorkspaceMembers(wsID)
		for _, m := range ms {
			if m.WorkspaceID != wsID {
				t.Errorf("member %+v listed under %s", m, wsID)
			}
			out[m.UserID] = m.Permission
		}
		return err
	})
	return out
}

func sameWorkspace(t *testing.T, what string, got, want *store.Workspace) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.OwnerID != want.OwnerID || got.OrgID != want.OrgID ||
		got.AllowPersonalKeys != want.AllowPersonalKeys || got.MaxKeyLifetime != want.MaxKeyLifetime ||
		!got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func testWorkspaces(t *testing.T, open Opener) {
	t.Run("CreateAndRead", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		o := mustOrg(t, s, "O", owner.ID)
		ws := store.NewWorkspace("  Team  ", owner.ID, o.ID)
		ws.MaxKeyLifetime = 30 * 24 * time.Hour
		ws.CreatedAt = t0
		bumps(t, s, "create workspace", true, func() error { return s.CreateWorkspace(ctx, ws) })
		if ws.ID == "" || ws.Name != "Team" {
			t.Fatalf("created workspace %+v: want an id and the trimmed name", ws)
		}
		got, err := s.GetWorkspace(ctx, ws.ID)
		wantErr(t, "get", err, nil)
		sameWorkspace(t, "GetWorkspace", got, ws)
		if !got.AllowPersonalKeys {
			t.Error("a new workspace allows personal keys")
		}
		personal := store.NewWorkspace("Personal", owner.ID, "")
		personal.AllowPersonalKeys = false
		wantErr(t, "create without an org", s.CreateWorkspace(ctx, personal), nil)
		got, err = s.GetWorkspace(ctx, personal.ID)
		wantErr(t, "get", err, nil)
		sameWorkspace(t, "workspace without org", got, personal)
		if personal.CreatedAt.IsZero() {
			t.Error("CreatedAt not filled in")
		}

		list, err := s.ListWorkspaces(ctx)
		wantErr(t, "list", err, nil)
		if len(list) != 2 {
			t.Errorf("ListWorkspaces = %+v", list)
		}
		view(t, s, func(r store.Reader) error {
			got, err := r.Workspace(ws.ID)
			wantErr(t, "reader workspace", err, nil)
			sameWorkspace(t, "Reader.Workspace", got, ws)
			all, err := r.Workspaces()
			wantErr(t, "reader workspaces", err, nil)
			var ids []string
			for _, w := range all {
				ids = append(ids, w.ID)
			}
			if !slices.Equal(ids, sortedIDs(ws.ID, personal.ID)) {
				t.Errorf("Workspaces order = %v, want by id", ids)
			}
			perm, err := r.Membership(ws.ID, owner.ID)
			wantErr(t, "owner membership", err, nil)
			if perm != store.LevelAdmin {
				t.Errorf("billing owner's permission = %q, want admin", perm)
			}
			perm, err = r.Membership(ws.ID, "nobody")
			wantErr(t, "non-member", err, nil)
			if perm != store.LevelNone {
				t.Errorf("non-member's permission = %q", perm)
			}
			ids, err = r.UserWorkspaces(owner.ID)
			wantErr(t, "user workspaces", err, nil)
			if !slices.Equal(ids, sortedIDs(ws.ID, personal.ID)) {
				t.Errorf("UserWorkspaces = %v", ids)
			}
			ids, err = r.OrgWorkspaces(o.ID)
			wantErr(t, "org workspaces", err, nil)
			if !slices.Equal(ids, []string{ws.ID}) {
				t.Errorf("OrgWorkspaces = %v, want [%s]", ids, ws.ID)
			}
			return nil
		})
	})

	t.Run("Errors", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		u := mustUser(t, s, "u@x.io")
		wantErr(t, "empty name", s.CreateWorkspace(ctx, store.NewWorkspace(" ", owner.ID, "")), store.ErrInvalid)
		wantErr(t, "unknown owner", s.CreateWorkspace(ctx, store.NewWorkspace("W", "nobody", "")), store.ErrNotFound)
		wantErr(t, "unknown org", s.CreateWorkspace(ctx, store.NewWorkspace("W", owner.ID, "no-org")), store.ErrNotFound)
		if l, _ := s.ListWorkspaces(ctx); len(l) != 0 {
			t.Fatalf("refused creations stored %+v", l)
		}
		ws := mustWorkspace(t, s, "W", owner.ID, "")
		_, err := s.GetWorkspace(ctx, "no-ws")
		wantErr(t, "get missing", err, store.ErrNotFound)
		_, err = s.UpdateWorkspace(ctx, "no-ws", func(*store.Workspace) error { return nil })
		wantErr(t, "update missing", err, store.ErrNotFound)
		_, err = s.UpdateWorkspace(ctx, ws.ID, func(w *store.Workspace) error { w.Name = "  "; return nil })
		wantErr(t, "update to an empty name", err, store.ErrInvalid)
		_, err = s.UpdateWorkspace(ctx, ws.ID, func(w *store.Workspace) error { w.OrgID = "no-org"; return nil })
		wantErr(t, "move into a missing org", err, store.ErrNotFound)
		wantErr(t, "member of a missing workspace", s.SetWorkspaceMember(ctx, "no-ws", u.ID, store.LevelRead), store.ErrNotFound)
		wantErr(t, "missing user as member", s.SetWorkspaceMember(ctx, ws.ID, "nobody", store.LevelRead), store.ErrNotFound)
		for _, perm := range []store.Level{"", "owner", "Admin"} {
			wantErr(t, "permission "+string(perm), s.SetWorkspaceMember(ctx, ws.ID, u.ID, perm), store.ErrInvalid)
		}
		wantErr(t, "remove a non-member", s.RemoveWorkspaceMember(ctx, ws.ID, u.ID), store.ErrNotFound)
		wantErr(t, "remove from a missing workspace", s.RemoveWorkspaceMember(ctx, "no-ws", u.ID), store.ErrNotFound)
		got, _ := s.GetWorkspace(ctx, ws.ID)
		sameWorkspace(t, "workspace after refused changes", got, ws)
		if m := wsMembers(t, s, ws.ID); len(m) != 1 {
			t.Errorf("members after refused changes = %v", m)
		}
	})

	t.Run("Members", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		a := mustUser(t, s, "a@x.io")
		b := mustUser(t, s, "b@x.io")
		ws := mustWorkspace(t, s, "W", owner.ID, "")
		ws2 := mustWorkspace(t, s, "W2", a.ID, "")
		bumps(t, s, "add reader", true, func() error { return s.SetWorkspaceMember(ctx, ws.ID, a.ID, store.LevelRead) })
		bumps(t, s, "add writer", true, func() error { return s.SetWorkspaceMember(ctx, ws.ID, b.ID, store.LevelWrite) })
		want := map[string]store.Level{owner.ID: store.LevelAdmin, a.ID: store.LevelRead, b.ID: store.LevelWrite}
		if m := wsMembers(t, s, ws.ID); !maps.Equal(m, want) {
			t.Errorf("members = %v, want %v", m, want)
		}
		view(t, s, func(r store.Reader) error {
			ms, err := r.WorkspaceMembers(ws.ID)
			wantErr(t, "members", err, nil)
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.UserID)
			}
			if !slices.Equal(ids, sortedIDs(owner.ID, a.ID, b.ID)) {
				t.Errorf("WorkspaceMembers order = %v, want by user id", ids)
			}
			got, err := r.UserWorkspaces(a.ID)
			wantErr(t, "user workspaces", err, nil)
			if !slices.Equal(got, sortedIDs(ws.ID, ws2.ID)) {
				t.Errorf("UserWorkspaces(a) = %v, want %v", got, sortedIDs(ws.ID, ws2.ID))
			}
			return nil
		})
		bumps(t, s, "raise", true, func() error { return s.SetWorkspaceMember(ctx, ws.ID, a.ID, store.LevelAdmin) })
		view(t, s, func(r store.Reader) error {
			if perm, _ := r.Membership(ws.ID, a.ID); perm != store.LevelAdmin {
				t.Errorf("permission right after the change = %q, want admin", perm)
			}
			return nil
		})
		bumps(t, s, "remove", true, func() error { return s.RemoveWorkspaceMember(ctx, ws.ID, b.ID) })
		view(t, s, func(r store.Reader) error {
			if perm, _ := r.Membership(ws.ID, b.ID); perm != store.LevelNone {
				t.Errorf("permission right after removal = %q", perm)
			}
			if ids, _ := r.UserWorkspaces(b.ID); len(ids) != 0 {
				t.Errorf("UserWorkspaces after removal = %v", ids)
			}
			return nil
		})
	})

	t.Run("BillingOwnerStaysAdmin", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		v := mustUser(t, s, "v@x.io")
		ws := mustWorkspace(t, s, "W", owner.ID, "")
		before := s.AuthEpoch()
		wantErr(t, "demote the owner", s.SetWorkspaceMember(ctx, ws.ID, owner.ID, store.LevelWrite), store.ErrInvalid)
		wantErr(t, "remove the owner", s.RemoveWorkspaceMember(ctx, ws.ID, owner.ID), store.ErrInvalid)
		setOwner := func(id string) error {
			_, err := s.UpdateWorkspace(ctx, ws.ID, func(w *store.Workspace) error { w.OwnerID = id; return nil })
			return err
		}
		wantErr(t, "a non-member becomes owner", setOwner(v.ID), store.ErrInvalid)
		wantErr(t, "an unknown user becomes owner", setOwner("nobody"), store.ErrInvalid)
		if s.AuthEpoch() != before {
			t.Errorf("refused changes moved the auth epoch %d -> %d", before, s.AuthEpoch())
		}
		wantErr(t, "add writer", s.SetWorkspaceMember(ctx, ws.ID, v.ID, store.LevelWrite), nil)
		wantErr(t, "a writer becomes owner", setOwner(v.ID), store.ErrInvalid)
		wantErr(t, "owner stays admin", s.SetWorkspaceMember(ctx, ws.ID, owner.ID, store.LevelAdmin), nil)
		wantErr(t, "raise to admin", s.SetWorkspaceMember(ctx, ws.ID, v.ID, store.LevelAdmin), nil)
		bumps(t, s, "an admin becomes owner", true, func() error { return setOwner(v.ID) })
		if got, _ := s.GetWorkspace(ctx, ws.ID); got.OwnerID != v.ID {
			t.Errorf("owner = %s, want %s", got.OwnerID, v.ID)
		}
		// The former owner is an ordinary member now; the new one is protected.
		wantErr(t, "remove the former owner", s.RemoveWorkspaceMember(ctx, ws.ID, owner.ID), nil)
		wantErr(t, "demote the new owner", s.SetWorkspaceMember(ctx, ws.ID, v.ID, store.LevelRead), store.ErrInvalid)
	})

	t.Run("ConcurrentOwnerChangeAndDemotion", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		v := mustUser(t, s, "v@x.io")
		for round := range 5 {
			ws := mustWorkspace(t, s, "W", owner.ID, "")
			wantErr(t, "admin", s.SetWorkspaceMember(ctx, ws.ID, v.ID, store.LevelAdmin), nil)
			errs := race(2, func(i int) error {
				if i == 0 {
					_, err := s.UpdateWorkspace(ctx, ws.ID, func(w *store.Workspace) error { w.OwnerID = v.ID; return nil })
					return err
				}
				return s.SetWorkspaceMember(ctx, ws.ID, v.ID, store.LevelRead)
			})
			for i, err := range errs {
				if err != nil && !errors.Is(err, store.ErrInvalid) {
					t.Errorf("round %d, change %d: %v", round, i, err)
				}
			}
			got, err := s.GetWorkspace(ctx, ws.ID)
			wantErr(t, "get", err, nil)
			if perm := wsMembers(t, s, ws.ID)[got.OwnerID]; perm != store.LevelAdmin {
				t.Fatalf("round %d: billing owner %s has permission %q after racing changes, want admin", round, got.OwnerID, perm)
			}
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		o1 := mustOrg(t, s, "O1", owner.ID)
		o2 := mustOrg(t, s, "O2", owner.ID)
		ws := mustWorkspace(t, s, "W", owner.ID, "")
		var out *store.Workspace
		bumps(t, s, "update", true, func() (err error) {
			out, err = s.UpdateWorkspace(ctx, ws.ID, func(w *store.Workspace) error {
				w.Name = " Renamed "
				w.AllowPersonalKeys = false
				w.MaxKeyLifetime = time.Hour
				w.ID = "ignored"
				return nil
			})
			return err
		})
		want := *ws
		want.Name, want.AllowPersonalKeys, want.MaxKeyLifetime = "Renamed", false, time.Hour
		sameWorkspace(t, "UpdateWorkspace result", out, &want)
		view(t, s, func(r store.Reader) error {
			got, err := r.Workspace(ws.ID)
			wantErr(t, "reader workspace", err, nil)
			sameWorkspace(t, "workspace right after update", got, &want)
			return nil
		})
		boom := errors.New("boom")
		_, err := s.UpdateWorkspace(ctx, ws.ID, func(w *store.Workspace) error { w.Name = "lost"; return boom })
		wantErr(t, "fn error", err, boom)

		move := func(orgID string) {
			t.Helper()
			bumps(t, s, "move to org "+orgID, true, func() error {
				_, err := s.UpdateWorkspace(ctx, ws.ID, func(w *store.Workspace) error { w.OrgID = orgID; return nil })
				return err
			})
			view(t, s, func(r store.Reader) error {
				got, _ := r.Workspace(ws.ID)
				if got.OrgID != orgID {
					t.Errorf("OrgID right after the move = %q, want %q", got.OrgID, orgID)
				}
				for _, o := range []string{o1.ID, o2.ID} {
					ids, err := r.OrgWorkspaces(o)
					wantErr(t, "org workspaces", err, nil)
					if in := slices.Contains(ids, ws.ID); in != (o == orgID) {
						t.Errorf("OrgWorkspaces(%s) = %v after moving to %q", o, ids, orgID)
					}
				}
				return nil
			})
		}
		move(o1.ID)
		move(o2.ID)
		move("")
	})

	t.Run("FindWorkspace", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		team := mustWorkspace(t, s, "Team", owner.ID, "")
		twin1 := mustWorkspace(t, s, "Twin", owner.ID, "")
		twin2 := mustWorkspace(t, s, "TWIN", owner.ID, "")
		view(t, s, func(r store.Reader) error {
			for _, ref := range []string{team.ID, "Team", "team", "TEAM"} {
				got, err := r.FindWorkspace(ref)
				wantErr(t, "find "+ref, err, nil)
				if got.ID != team.ID {
					t.Errorf("FindWorkspace(%q) = %s, want %s", ref, got.ID, team.ID)
				}
			}
			for _, w := range []*store.Workspace{twin1, twin2} {
				got, err := r.FindWorkspace(w.ID)
				wantErr(t, "find a twin by id", err, nil)
				if got.ID != w.ID {
					t.Errorf("FindWorkspace(%s) = %s", w.ID, got.ID)
				}
			}
			_, err := r.FindWorkspace("twin")
			wantErr(t, "ambiguous name", err, store.ErrInvalid)
			_, err = r.FindWorkspace("nothing")
			wantErr(t, "unknown", err, store.ErrNotFound)
			return nil
		})
	})

	t.Run("LeavingOrgDropsOrgKeyGrants", func(t *testing.T) {
		s := open(t)
		u := mustUser(t, s, "o@x.io")
		org := mustOrg(t, s, "O", u.ID)
		leaving := mustWorkspace(t, s, "leaving", u.ID, org.ID)
		staying := mustWorkspace(t, s, "staying", u.ID, org.ID)
		wf := &store.Workflow{WorkspaceID: leaving.ID, Name: "wf", Draft: []byte(`{}`), CreatedAt: t0, UpdatedAt: t0}
		wantErr(t, "create workflow", s.CreateWorkflow(ctx, wf), nil)
		key := &store.APIKey{Type: store.KeyOrganization, OrgID: org.ID, Name: "k", Suffix: "abcd",
			Digest: []byte("d1"), Ciphertext: []byte("c"), CreatedAt: t0, UpdatedAt: t0,
			Grants: []store.Grant{
				{TargetType: store.TargetWorkspace, TargetID: leaving.ID, Level: store.LevelRead},
				{TargetType: store.TargetWorkflow, TargetID: wf.ID, Level: store.LevelAdmin},
				{TargetType: store.TargetWorkspace, TargetID: staying.ID, Level: store.LevelWrite},
			}}
		wantErr(t, "create key", s.CreateKey(ctx, key), nil)
		bumps(t, s, "leave the org", true, func() error {
			_, err := s.UpdateWorkspace(ctx, leaving.ID, func(w *store.Workspace) error { w.OrgID = ""; return nil })
			return err
		})
		// Right after the call, in one read: the grants are gone from the key and from the
		// target index, and the staying workspace keeps its grant.
		view(t, s, func(r store.Reader) error {
			got, err := r.Key(key.ID)
			wantErr(t, "key", err, nil)
			if len(got.Grants) != 1 || got.Grants[0].TargetID != staying.ID {
				t.Errorf("grants after leaving = %+v, want only the staying workspace's", got.Grants)
			}
			gs, err := r.Grants(key.ID)
			wantErr(t, "grants", err, nil)
			if len(gs) != 1 || gs[0].TargetID != staying.ID {
				t.Errorf("Reader.Grants after leaving = %+v", gs)
			}
			for _, tgt := range []string{leaving.ID, wf.ID} {
				ids, err := r.KeysTargeting(tgt)
				wantErr(t, "keys targeting", err, nil)
				if len(ids) != 0 {
					t.Errorf("KeysTargeting(%s) = %v after leaving", tgt, ids)
				}
			}
			ids, _ := r.KeysTargeting(staying.ID)
			if !slices.Equal(ids, []string{key.ID}) {
				t.Errorf("KeysTargeting(staying) = %v, want [%s]", ids, key.ID)
			}
			return nil
		})
		// The workspace is outside the org now: no new grant may reach it.
		err := s.CreateKey(ctx, &store.APIKey{Type: store.KeyOrganization, OrgID: org.ID, Name: "k2", Suffix: "efgh",
			Digest: []byte("d2"), Ciphertext: []byte("c"), CreatedAt: t0, UpdatedAt: t0,
			Grants: []store.Grant{{TargetType: store.TargetWorkspace, TargetID: leaving.ID, Level: store.LevelRead}}})
		wantErr(t, "grant outside the org", err, store.ErrInvalid)
		// Moving between orgs is leaving too.
		wantErr(t, "back into the org", func() error {
			_, err := s.UpdateWorkspace(ctx, leaving.ID, func(w *store.Workspace) error { w.OrgID = org.ID; return nil })
			return err
		}(), nil)
		wantErr(t, "grant again", s.SetKeyGrants(ctx, key.ID, []store.Grant{
			{TargetType: store.TargetWorkflow, TargetID: wf.ID, Level: store.LevelRead},
			{TargetType: store.TargetWorkspace, TargetID: staying.ID, Level: store.LevelWrite},
		}), nil)
		other := mustOrg(t, s, "Other", u.ID)
		_, err = s.UpdateWorkspace(ctx, leaving.ID, func(w *store.Workspace) error { w.OrgID = other.ID; return nil })
		wantErr(t, "move to another org", err, nil)
		got, err := s.GetKey(ctx, key.ID)
		wantErr(t, "key", err, nil)
		if len(got.Grants) != 1 || got.Grants[0].TargetID != staying.ID {
			t.Errorf("grants after moving to another org = %+v", got.Grants)
		}
	})
}
