package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

// mustOrg creates an organization owned by ownerID.
func mustOrg(t *testing.T, s store.Store, name, ownerID string) *store.Org {
	t.Helper()
	o := &store.Org{Name: name, CreatedAt: t0}
	if err := s.CreateOrg(ctx, o, ownerID); err != nil {
		t.Fatalf("create organization %s: %v", name, err)
	}
	return o
}

// orgMembers reads an organization's members as user id -> role.
func orgMembers(t *testing.T, s store.Store, orgID string) map[string]store.OrgRole {
	t.Helper()
	out := map[string]store.OrgRole{}
	view(t, s, func(r store.Reader) error {
		ms, err := r.OrgMembers(orgID)
		for _, m := range ms {
			if m.OrgID != orgID {
				t.Errorf("member %+v listed under %s", m, orgID)
			}
			out[m.UserID] = m.Role
		}
		return err
	})
	return out
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	return out
}

func testOrgs(t *testing.T, open Opener) {
	t.Run("CreateAndRead", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		other := mustUser(t, s, "other@x.io")
		o := &store.Org{Name: "  Acme  ", CreatedAt: t0, MaxKeyLifetime: 90 * 24 * time.Hour}
		bumps(t, s, "create organization", true, func() error { return s.CreateOrg(ctx, o, owner.ID) })
		if o.ID == "" || o.Name != "Acme" {
			t.Fatalf("created organization %+v: want an id and the trimmed name", o)
		}
		got, err := s.GetOrg(ctx, o.ID)
		wantErr(t, "get", err, nil)
		if got.ID != o.ID || got.Name != "Acme" || !got.CreatedAt.Equal(t0) || got.MaxKeyLifetime != o.MaxKeyLifetime {
			t.Errorf("GetOrg = %+v, want %+v", got, o)
		}
		list, err := s.ListOrgs(ctx)
		wantErr(t, "list", err, nil)
		if len(list) != 1 || list[0].ID != o.ID {
			t.Errorf("ListOrgs = %+v", list)
		}
		view(t, s, func(r store.Reader) error {
			got, err := r.Org(o.ID)
			wantErr(t, "reader org", err, nil)
			if got.Name != "Acme" {
				t.Errorf("Reader.Org = %+v", got)
			}
			os, err := r.Orgs()
			wantErr(t, "reader orgs", err, nil)
			if len(os) != 1 {
				t.Errorf("Reader.Orgs = %+v", os)
			}
			role, err := r.OrgRole(o.ID, owner.ID)
			wantErr(t, "owner role", err, nil)
			if role != store.RoleOwner {
				t.Errorf("creator's role = %q, want owner", role)
			}
			role, err = r.OrgRole(o.ID, other.ID)
			wantErr(t, "non-member role", err, nil)
			if role != "" {
				t.Errorf("non-member's role = %q, want empty", role)
			}
			role, err = r.OrgRole("no-org", owner.ID)
			wantErr(t, "role in a missing org", err, nil)
			if role != "" {
				t.Errorf("role in a missing org = %q", role)
			}
			ids, err := r.UserOrgs(owner.ID)
			wantErr(t, "user orgs", err, nil)
			if !slices.Equal(ids, []string{o.ID}) {
				t.Errorf("UserOrgs(owner) = %v", ids)
			}
			ids, err = r.UserOrgs(other.ID)
			wantErr(t, "user orgs of non-member", err, nil)
			if len(ids) != 0 {
				t.Errorf("UserOrgs(non-member) = %v", ids)
			}
			ids, err = r.OrgWorkspaces(o.ID)
			wantErr(t, "org workspaces", err, nil)
			if len(ids) != 0 {
				t.Errorf("new org has workspaces %v", ids)
			}
			return nil
		})
		if m := orgMembers(t, s, o.ID); len(m) != 1 || m[owner.ID] != store.RoleOwner {
			t.Errorf("members = %v, want only the owner", m)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		u := mustUser(t, s, "u@x.io")
		wantErr(t, "empty name", s.CreateOrg(ctx, &store.Org{Name: "  "}, owner.ID), store.ErrInvalid)
		wantErr(t, "unknown owner", s.CreateOrg(ctx, &store.Org{Name: "O"}, "nobody"), store.ErrNotFound)
		if os, _ := s.ListOrgs(ctx); len(os) != 0 {
			t.Fatalf("refused creations stored %+v", os)
		}
		o := mustOrg(t, s, "O", owner.ID)
		_, err := s.GetOrg(ctx, "no-org")
		wantErr(t, "get missing", err, store.ErrNotFound)
		_, err = s.UpdateOrg(ctx, "no-org", func(*store.Org) error { return nil })
		wantErr(t, "update missing", err, store.ErrNotFound)
		_, err = s.UpdateOrg(ctx, o.ID, func(o *store.Org) error { o.Name = " "; return nil })
		wantErr(t, "update to an empty name", err, store.ErrInvalid)
		wantErr(t, "member of a missing org", s.SetOrgMember(ctx, "no-org", u.ID, store.RoleMember), store.ErrNotFound)
		wantErr(t, "missing user as member", s.SetOrgMember(ctx, o.ID, "nobody", store.RoleMember), store.ErrNotFound)
		for _, role := range []store.OrgRole{"", "write", "Owner"} {
			wantErr(t, "role "+string(role), s.SetOrgMember(ctx, o.ID, u.ID, role), store.ErrInvalid)
		}
		wantErr(t, "remove a non-member", s.RemoveOrgMember(ctx, o.ID, u.ID), store.ErrNotFound)
		wantErr(t, "remove from a missing org", s.RemoveOrgMember(ctx, "no-org", u.ID), store.ErrNotFound)
		if m := orgMembers(t, s, o.ID); len(m) != 1 {
			t.Errorf("members after refused changes = %v", m)
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		o := mustOrg(t, s, "O", owner.ID)
		var out *store.Org
		bumps(t, s, "update", true, func() (err error) {
			out, err = s.UpdateOrg(ctx, o.ID, func(o *store.Org) error {
				o.Name = "  Renamed " // trimmed, as CreateOrg trims
				o.MaxKeyLifetime = time.Hour
				o.ID = "ignored"
				return nil
			})
			return err
		})
		if out.ID != o.ID || out.Name != "Renamed" || out.MaxKeyLifetime != time.Hour {
			t.Errorf("UpdateOrg returned %+v", out)
		}
		view(t, s, func(r store.Reader) error {
			got, err := r.Org(o.ID)
			wantErr(t, "reader org", err, nil)
			if got.Name != "Renamed" || got.MaxKeyLifetime != time.Hour {
				t.Errorf("org after update = %+v", got)
			}
			return nil
		})
		boom := errors.New("boom")
		_, err := s.UpdateOrg(ctx, o.ID, func(o *store.Org) error { o.Name = "lost"; return boom })
		wantErr(t, "fn error", err, boom)
		if got, _ := s.GetOrg(ctx, o.ID); got.Name != "Renamed" {
			t.Errorf("name after a failed update = %q", got.Name)
		}
	})

	t.Run("Members", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		a := mustUser(t, s, "a@x.io")
		b := mustUser(t, s, "b@x.io")
		o := mustOrg(t, s, "O", owner.ID)
		o2 := mustOrg(t, s, "O2", a.ID)
		bumps(t, s, "add admin", true, func() error { return s.SetOrgMember(ctx, o.ID, a.ID, store.RoleAdmin) })
		bumps(t, s, "add member", true, func() error { return s.SetOrgMember(ctx, o.ID, b.ID, store.RoleMember) })
		want := map[string]store.OrgRole{owner.ID: store.RoleOwner, a.ID: store.RoleAdmin, b.ID: store.RoleMember}
		if m := orgMembers(t, s, o.ID); !maps.Equal(m, want) {
			t.Errorf("members = %v, want %v", m, want)
		}
		view(t, s, func(r store.Reader) error {
			ms, err := r.OrgMembers(o.ID)
			wantErr(t, "members", err, nil)
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.UserID)
			}
			if !slices.Equal(ids, sortedIDs(owner.ID, a.ID, b.ID)) {
				t.Errorf("OrgMembers order = %v, want by user id", ids)
			}
			got, err := r.UserOrgs(a.ID)
			wantErr(t, "user orgs", err, nil)
			if !slices.Equal(got, sortedIDs(o.ID, o2.ID)) {
				t.Errorf("UserOrgs(a) = %v, want %v", got, sortedIDs(o.ID, o2.ID))
			}
			return nil
		})
		bumps(t, s, "change role", true, func() error { return s.SetOrgMember(ctx, o.ID, b.ID, store.RoleAdmin) })
		view(t, s, func(r store.Reader) error {
			if role, _ := r.OrgRole(o.ID, b.ID); role != store.RoleAdmin {
				t.Errorf("role right after the change = %q, want admin", role)
			}
			return nil
		})
		bumps(t, s, "remove member", true, func() error { return s.RemoveOrgMember(ctx, o.ID, b.ID) })
		view(t, s, func(r store.Reader) error {
			if role, _ := r.OrgRole(o.ID, b.ID); role != "" {
				t.Errorf("role right after removal = %q", role)
			}
			if ids, _ := r.UserOrgs(b.ID); len(ids) != 0 {
				t.Errorf("UserOrgs after removal = %v", ids)
			}
			return nil
		})
	})

	t.Run("LastOwnerStays", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		second := mustUser(t, s, "second@x.io")
		o := mustOrg(t, s, "O", owner.ID)
		before := s.AuthEpoch()
		wantErr(t, "demote the last owner", s.SetOrgMember(ctx, o.ID, owner.ID, store.RoleAdmin), store.ErrInvalid)
		wantErr(t, "remove the last owner", s.RemoveOrgMember(ctx, o.ID, owner.ID), store.ErrInvalid)
		if s.AuthEpoch() != before {
			t.Errorf("refused changes moved the auth epoch %d -> %d", before, s.AuthEpoch())
		}
		wantErr(t, "owner stays owner", s.SetOrgMember(ctx, o.ID, owner.ID, store.RoleOwner), nil)
		wantErr(t, "add a second owner", s.SetOrgMember(ctx, o.ID, second.ID, store.RoleOwner), nil)
		wantErr(t, "demote one of two owners", s.SetOrgMember(ctx, o.ID, owner.ID, store.RoleMember), nil)
		wantErr(t, "remove the now last owner", s.RemoveOrgMember(ctx, o.ID, second.ID), store.ErrInvalid)
		wantErr(t, "the demoted owner leaves", s.RemoveOrgMember(ctx, o.ID, owner.ID), nil)
		if m := orgMembers(t, s, o.ID); len(m) != 1 || m[second.ID] != store.RoleOwner {
			t.Errorf("members = %v, want only the second owner", m)
		}
	})

	t.Run("ConcurrentOwnersLeave", func(t *testing.T) {
		s := open(t)
		for round := range 5 {
			a := mustUser(t, s, "a"+string(rune('0'+round))+"@x.io")
			b := mustUser(t, s, "b"+string(rune('0'+round))+"@x.io")
			o := mustOrg(t, s, "O", a.ID)
			wantErr(t, "second owner", s.SetOrgMember(ctx, o.ID, b.ID, store.RoleOwner), nil)
			oneWins(t, fmt.Sprintf("round %d: two changes that each leave one owner", round), 2, store.ErrInvalid, func(i int) error {
				if i == 0 {
					return s.RemoveOrgMember(ctx, o.ID, a.ID)
				}
				return s.SetOrgMember(ctx, o.ID, b.ID, store.RoleMember)
			})
			owners := 0
			for _, role := range orgMembers(t, s, o.ID) {
				if role == store.RoleOwner {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("round %d: %d owners left, want 1", round, owners)
			}
		}
	})

	t.Run("FindOrg", func(t *testing.T) {
		s := open(t)
		owner := mustUser(t, s, "owner@x.io")
		acme := mustOrg(t, s, "Acme", owner.ID)
		twin1 := mustOrg(t, s, "Twin", owner.ID)
		twin2 := mustOrg(t, s, "twin", owner.ID)
		view(t, s, func(r store.Reader) error {
			for _, ref := range []string{acme.ID, "Acme", "ACME", "acme"} {
				got, err := r.FindOrg(ref)
				wantErr(t, "find "+ref, err, nil)
				if got.ID != acme.ID {
					t.Errorf("FindOrg(%q) = %s, want %s", ref, got.ID, acme.ID)
				}
			}
			for _, o := range []*store.Org{twin1, twin2} {
				got, err := r.FindOrg(o.ID)
				wantErr(t, "find a twin by id", err, nil)
				if got.ID != o.ID {
					t.Errorf("FindOrg(%s) = %s", o.ID, got.ID)
				}
			}
			_, err := r.FindOrg("TWIN")
			wantErr(t, "ambiguous name", err, store.ErrInvalid)
			_, err = r.FindOrg("nothing")
			wantErr(t, "unknown", err, store.ErrNotFound)
			os, err := r.Orgs()
			wantErr(t, "orgs", err, nil)
			var ids []string
			for _, o := range os {
				ids = append(ids, o.ID)
			}
			if !slices.Equal(ids, sortedIDs(acme.ID, twin1.ID, twin2.ID)) {
				t.Errorf("Orgs order = %v, want by id", ids)
			}
			return nil
		})
	})
}
