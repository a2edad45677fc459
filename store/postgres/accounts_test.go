package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// Access changes to users, memberships, organizations and invitations made through one
// replica reach another within a second, through NOTIFY (the second replica polls every 10 s),
// and the second replica's reads show the change once its epoch has moved.
func TestAccessChangesReachOtherReplica(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	openStore := func(opts Options) *Store {
		s, err := OpenStore(ctx, url, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := openStore(Options{})
	b := openStore(Options{PollInterval: 10 * time.Second})
	eventually(t, 5*time.Second, "b listening", func() bool { return b.listener.up.Load() })

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	owner := &store.User{Email: "owner@x.io"}
	v := &store.User{Email: "v@x.io"}
	must(a.CreateUser(ctx, owner))
	must(a.CreateUser(ctx, v))
	org := &store.Org{Name: "O"}
	must(a.CreateOrg(ctx, org, owner.ID))
	ws := store.NewWorkspace("W", owner.ID, org.ID)
	must(a.CreateWorkspace(ctx, ws))
	key := &store.APIKey{Type: store.KeyOrganization, OrgID: org.ID, Name: "k", Suffix: "abcd", Digest: []byte("d"), Ciphertext: []byte("c"),
		Grants: []store.Grant{{TargetType: store.TargetWorkspace, TargetID: ws.ID, Level: store.LevelRead}}}
	must(a.CreateKey(ctx, key))
	inv := &store.Invitation{TargetType: store.TargetOrg, TargetID: org.ID, Email: v.Email, Role: store.RoleAdmin,
		InvitedBy: owner.ID, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}

	for _, step := range []struct {
		name   string
		change func() error
		seen   func(r store.Reader) error
	}{
		{"disable user", func() error { _, err := a.DisableUser(ctx, v.ID, true); return err },
			func(r store.Reader) error {
				if u, err := r.User(v.ID); err != nil || u.DisabledAt == nil {
					return fmt.Errorf("user %+v, %v: want disabled", u, err)
				}
				return nil
			}},
		{"add workspace member", func() error { return a.SetWorkspaceMember(ctx, ws.ID, v.ID, store.LevelWrite) },
			func(r store.Reader) error {
				if perm, _ := r.Membership(ws.ID, v.ID); perm != store.LevelWrite {
					return fmt.Errorf("permission %q, want write", perm)
				}
				return nil
			}},
		{"remove workspace member", func() error { return a.RemoveWorkspaceMember(ctx, ws.ID, v.ID) },
			func(r store.Reader) error {
				if perm, _ := r.Membership(ws.ID, v.ID); perm != store.LevelNone {
					return fmt.Errorf("permission %q, want none", perm)
				}
				return nil
			}},
		{"accept an organization invitation", func() error {
			if err := a.PutInvitation(ctx, inv); err != nil {
				return err
			}
			_, err := a.AcceptInvitation(ctx, inv.ID, v.ID, time.Now())
			return err
		}, func(r store.Reader) error {
			if role, _ := r.OrgRole(org.ID, v.ID); role != store.RoleAdmin {
				return fmt.Errorf("role %q, want admin", role)
			}
			return nil
		}},
		{"workspace leaves its organization", func() error {
			_, err := a.UpdateWorkspace(ctx, ws.ID, func(w *store.Workspace) error { w.OrgID = ""; return nil })
			return err
		}, func(r store.Reader) error {
			if ids, _ := r.KeysTargeting(ws.ID); len(ids) != 0 {
				return fmt.Errorf("keys still targeting the workspace: %v", ids)
			}
			return nil
		}},
	} {
		before := b.AuthEpoch()
		must(step.change())
		took := eventually(t, time.Second, step.name+" reaches b", func() bool { return b.AuthEpoch() > before })
		if err := b.View(ctx, step.seen); err != nil {
			t.Errorf("%s: b reads after its epoch moved (%v): %v", step.name, took, err)
		}
	}
}
