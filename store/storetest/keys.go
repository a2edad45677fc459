package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

// keyWorld holds the owners the key and OAuth tests need, created through store.Store:
// a user, an organization with two workspaces (one with a workflow), a workspace of
// another organization and a workspace outside any.
type keyWorld struct {
	s                            store.Store
	user, other                  *store.User
	org, org2                    *store.Org
	orgWS, orgWS2, foreign, solo *store.Workspace
	orgWF, soloWF, foreignWF     *store.Workflow
	digests                      atomic.Int64
}

// newKeyWorld opens a store and fills it.
func newKeyWorld(t *testing.T, open Opener) *keyWorld {
	t.Helper()
	w := &keyWorld{s: open(t)}
	w.user = &store.User{Email: "owner@example.com", Name: "Owner", CreatedAt: t0}
	w.other = &store.User{Email: "other@example.com", Name: "Other", CreatedAt: t0}
	for _, u := range []*store.User{w.user, w.other} {
		w.must(t, "create user", w.s.CreateUser(ctx, u))
	}
	w.org = &store.Org{Name: "acme", CreatedAt: t0}
	w.org2 = &store.Org{Name: "globex", CreatedAt: t0}
	for _, o := range []*store.Org{w.org, w.org2} {
		w.must(t, "create org", w.s.CreateOrg(ctx, o, w.user.ID))
	}
	w.orgWS = store.NewWorkspace("acme-main", w.user.ID, w.org.ID)
	w.orgWS2 = store.NewWorkspace("acme-side", w.user.ID, w.org.ID)
	w.foreign = store.NewWorkspace("globex-main", w.user.ID, w.org2.ID)
	w.solo = store.NewWorkspace("solo", w.user.ID, "")
	for _, ws := range []*store.Workspace{w.orgWS, w.orgWS2, w.foreign, w.solo} {
		ws.CreatedAt = t0
		w.must(t, "create workspace", w.s.CreateWorkspace(ctx, ws))
	}
	w.orgWF = &store.Workflow{WorkspaceID: w.orgWS.ID, Name: "acme-flow"}
	w.soloWF = &store.Workflow{WorkspaceID: w.solo.ID, Name: "solo-flow"}
	w.foreignWF = &store.Workflow{WorkspaceID: w.foreign.ID, Name: "globex-flow"}
	for _, wf := range []*store.Workflow{w.orgWF, w.soloWF, w.foreignWF} {
		w.must(t, "create workflow", w.s.CreateWorkflow(ctx, wf))
	}
	return w
}

func (w *keyWorld) must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// digest returns a digest no other key of the world has.
func (w *keyWorld) digest() []byte {
	return []byte(fmt.Sprintf("digest-%04d", w.digests.Add(1)))
}

func (w *keyWorld) personal(name string) *store.APIKey {
	return &store.APIKey{Type: store.KeyPersonal, UserID: w.user.ID, Name: name, Suffix: "abcd",
		Digest: w.digest(), Ciphertext: []byte("sealed")}
}

func (w *keyWorld) workspaceKey(name string) *store.APIKey {
	return &store.APIKey{Type: store.KeyWorkspace, WorkspaceID: w.solo.ID, Name: name, Suffix: "wxyz",
		Digest: w.digest(), Ciphertext: []byte("sealed")}
}

func (w *keyWorld) orgKey(name string, grants ...store.Grant) *store.APIKey {
	if len(grants) == 0 {
		grants = []store.Grant{{TargetType: store.TargetWorkspace, TargetID: w.orgWS.ID, Level: store.LevelRead}}
	}
	return &store.APIKey{Type: store.KeyOrganization, OrgID: w.org.ID, Name: name, Suffix: "orgk",
		Digest: w.digest(), Ciphertext: []byte("sealed"), Grants: grants}
}

func (w *keyWorld) create(t *testing.T, k *store.APIKey) *store.APIKey {
	t.Helper()
	if err := w.s.CreateKey(ctx, k); err != nil {
		t.Fatalf("create key %q: %v", k.Name, err)
	}
	return k
}

func (w *keyWorld) get(t *testing.T, id string) *store.APIKey {
	t.Helper()
	k, err := w.s.GetKey(ctx, id)
	if err != nil {
		t.Fatalf("get key %s: %v", id, err)
	}
	return k
}

// sortedGrants is how a key's grants read back: by target id.
func sortedGrants(gs []store.Grant) []store.Grant {
	out := slices.Clone(gs)
	slices.SortFunc(out, func(a, b store.Grant) int { return strings.Compare(a.TargetID, b.TargetID) })
	return out
}

func keyIDs(ks []*store.APIKey) []string {
	ids := make([]string, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	return ids
}

func sameKey(t *testing.T, what string, got, want *store.APIKey) {
	t.Helper()
	w := *want
	w.Grants = sortedGrants(want.Grants)
	if len(w.Grants) == 0 {
		w.Grants = nil
	}
	if !reflect.DeepEqual(got, &w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, &w)
	}
}

func testKeys(t *testing.T, open Opener) {
	t.Run("CreateAndRead", func(t *testing.T) { testKeyCreateAndRead(t, open) })
	t.Run("Validation", func(t *testing.T) { testKeyValidation(t, open) })
	t.Run("NamesUniquePerOwner", func(t *testing.T) { testKeyNames(t, open) })
	t.Run("Update", func(t *testing.T) { testKeyUpdate(t, open) })
	t.Run("Revoke", func(t *testing.T) { testKeyRevoke(t, open) })
	t.Run("Rotate", func(t *testing.T) { testKeyRotate(t, open) })
	t.Run("SetGrants", func(t *testing.T) { testKeySetGrants(t, open) })
	t.Run("ListOldestFirst", func(t *testing.T) { testKeyList(t, open) })
	t.Run("OrgKeysReachingWorkspace", func(t *testing.T) { testOrgKeysReaching(t, open) })
	t.Run("LastUsedKeepsEpoch", func(t *testing.T) { testKeyLastUsed(t, open) })
	t.Run("ConcurrentSameName", func(t *testing.T) { testKeyConcurrentName(t, open) })
	t.Run("ConcurrentRotate", func(t *testing.T) { testKeyConcurrentRotate(t, open) })
	t.Run("GrantRacesOrgLeave", func(t *testing.T) { testKeyGrantRacesOrgLeave(t, open) })
}

func testKeyCreateAndRead(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	if has, err := w.s.HasKeys(ctx); err != nil || has {
		t.Fatalf("HasKeys on an empty store = %v, %v", has, err)
	}
	exp := t0.Add(30 * 24 * time.Hour)
	p := w.personal("laptop")
	p.CreatedAt, p.CreatedBy, p.ExpiresAt = t0, w.user.ID, &exp
	p.AllowedCIDRs, p.RateLimit = []string{"10.0.0.0/8"}, 120
	// Fields of other key types are dropped.
	p.WorkspaceID, p.Level, p.Workflows = w.solo.ID, store.LevelAdmin, []string{w.soloWF.ID}

	ws := w.workspaceKey("deploy")
	ws.CreatedAt = t0.Add(time.Second)
	ws.Workflows = []string{w.soloWF.ID}
	ws.UserID = w.other.ID

	grants := []store.Grant{
		{TargetType: store.TargetWorkflow, TargetID: w.orgWF.ID, Level: store.LevelAdmin},
		{TargetType: store.TargetWorkspace, TargetID: w.orgWS2.ID, Level: store.LevelWrite},
		{TargetType: store.TargetWorkspace, TargetID: w.orgWS.ID, Level: store.LevelRead},
	}
	o := w.orgKey("org", grants...)
	o.CreatedAt = t0.Add(2 * time.Second)
	o.Level, o.Workflows = store.LevelAdmin, []string{w.orgWF.ID}

	before := w.s.AuthEpoch()
	for _, k := range []*store.APIKey{p, ws, o} {
		w.create(t, k)
		if k.ID == "" || !k.UpdatedAt.Equal(k.CreatedAt) {
			t.Fatalf("created key %q: id %q, updated %v, created %v", k.Name, k.ID, k.UpdatedAt, k.CreatedAt)
		}
	}
	if w.s.AuthEpoch() <= before {
		t.Error("creating keys must bump the auth epoch")
	}
	if p.WorkspaceID != "" || p.Level != "" || p.Workflows != nil {
		t.Errorf("personal key keeps workspace fields: %+v", p)
	}
	if ws.Level != store.LevelWrite || ws.UserID != "" {
		t.Errorf("workspace key: level %q (want the default write), user %q", ws.Level, ws.UserID)
	}
	if o.Level != "" || o.Workflows != nil {
		t.Errorf("organization key keeps workspace fields: %+v", o)
	}
	if has, err := w.s.HasKeys(ctx); err != nil || !has {
		t.Fatalf("HasKeys = %v, %v", has, err)
	}

	for _, k := range []*store.APIKey{p, ws, o} {
		sameKey(t, "GetKey "+k.Name, w.get(t, k.ID), k)
	}
	err := w.s.View(ctx, func(r store.Reader) error {
		for _, k := range []*store.APIKey{p, ws, o} {
			got, err := r.Key(k.ID)
			if err != nil {
				return err
			}
			sameKey(t, "Reader.Key "+k.Name, got, k)
			got, err = r.KeyByDigest(k.Digest)
			if err != nil {
				return err
			}
			sameKey(t, "KeyByDigest "+k.Name, got, k)
		}
		gs, err := r.Grants(o.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(gs, sortedGrants(grants)) {
			t.Errorf("Grants = %+v, want by target id %+v", gs, sortedGrants(grants))
		}
		if gs, err := r.Grants(p.ID); err != nil || len(gs) != 0 {
			t.Errorf("Grants of a personal key = %v, %v", gs, err)
		}
		for _, tgt := range []string{w.orgWF.ID, w.orgWS.ID, w.orgWS2.ID} {
			if ids, err := r.KeysTargeting(tgt); err != nil || !reflect.DeepEqual(ids, []string{o.ID}) {
				t.Errorf("KeysTargeting(%s) = %v, %v", tgt, ids, err)
			}
		}
		if ids, err := r.KeysTargeting(w.solo.ID); err != nil || len(ids) != 0 {
			t.Errorf("KeysTargeting(untargeted) = %v, %v", ids, err)
		}
		_, err = r.Key("nope")
		wantErr(t, "Reader.Key unknown", err, store.ErrNotFound)
		_, err = r.KeyByDigest([]byte("nope"))
		wantErr(t, "KeyByDigest unknown", err, store.ErrNotFound)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.s.GetKey(ctx, "nope")
	wantErr(t, "GetKey unknown", err, store.ErrNotFound)
}

func testKeyValidation(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	w.create(t, w.personal("taken"))
	grant := func(tt store.TargetType, id string, l store.Level) store.Grant {
		return store.Grant{TargetType: tt, TargetID: id, Level: l}
	}
	cases := []struct {
		name string
		key  func() *store.APIKey
		want error
	}{
		{"unknown type", func() *store.APIKey { k := w.personal("x"); k.Type = "robot"; return k }, store.ErrInvalid},
		{"empty name", func() *store.APIKey { return w.personal("") }, store.ErrInvalid},
		{"101 characters", func() *store.APIKey { return w.personal(strings.Repeat("é", 101)) }, store.ErrInvalid},
		{"no digest", func() *store.APIKey { k := w.personal("x"); k.Digest = nil; return k }, store.ErrInvalid},
		{"no ciphertext", func() *store.APIKey { k := w.personal("x"); k.Ciphertext = nil; return k }, store.ErrInvalid},
		{"unknown user", func() *store.APIKey { k := w.personal("x"); k.UserID = "nope"; return k }, store.ErrNotFound},
		{"taken name", func() *store.APIKey { return w.personal("taken") }, store.ErrConflict},
		{"unknown workspace", func() *store.APIKey { k := w.workspaceKey("x"); k.WorkspaceID = "nope"; return k }, store.ErrNotFound},
		{"bad level", func() *store.APIKey { k := w.workspaceKey("x"); k.Level = "owner"; return k }, store.ErrInvalid},
		{"unknown workflow", func() *store.APIKey { k := w.workspaceKey("x"); k.Workflows = []string{"nope"}; return k }, store.ErrNotFound},
		{"workflow of another workspace", func() *store.APIKey {
			k := w.workspaceKey("x")
			k.Workflows = []string{w.orgWF.ID}
			return k
		}, store.ErrInvalid},
		{"unknown org", func() *store.APIKey { k := w.orgKey("x"); k.OrgID = "nope"; return k }, store.ErrNotFound},
		{"org key without grants", func() *store.APIKey { k := w.orgKey("x"); k.Grants = nil; return k }, store.ErrInvalid},
		{"grant level", func() *store.APIKey {
			return w.orgKey("x", grant(store.TargetWorkspace, w.orgWS.ID, "owner"))
		}, store.ErrInvalid},
		{"grant target type", func() *store.APIKey {
			return w.orgKey("x", grant("org", w.orgWS.ID, store.LevelRead))
		}, store.ErrInvalid},
		{"grant on unknown workspace", func() *store.APIKey {
			return w.orgKey("x", grant(store.TargetWorkspace, "nope", store.LevelRead))
		}, store.ErrNotFound},
		{"grant on unknown workflow", func() *store.APIKey {
			return w.orgKey("x", grant(store.TargetWorkflow, "nope", store.LevelRead))
		}, store.ErrNotFound},
		{"grant on another org's workspace", func() *store.APIKey {
			return w.orgKey("x", grant(store.TargetWorkspace, w.orgWS.ID, store.LevelRead), grant(store.TargetWorkspace, w.foreign.ID, store.LevelRead))
		}, store.ErrInvalid},
		{"grant on a workspace in no org", func() *store.APIKey {
			return w.orgKey("x", grant(store.TargetWorkspace, w.solo.ID, store.LevelRead))
		}, store.ErrInvalid},
		{"grant on another org's workflow", func() *store.APIKey {
			return w.orgKey("x", grant(store.TargetWorkflow, w.foreignWF.ID, store.LevelRead))
		}, store.ErrInvalid},
		{"workspace id as a workflow", func() *store.APIKey {
			return w.orgKey("x", grant(store.TargetWorkflow, w.orgWS.ID, store.LevelRead))
		}, store.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := w.s.AuthEpoch()
			k := c.key()
			wantErr(t, "CreateKey", w.s.CreateKey(ctx, k), c.want)
			if w.s.AuthEpoch() != before {
				t.Error("a refused key bumped the auth epoch")
			}
			if k.ID != "" {
				_, err := w.s.GetKey(ctx, k.ID)
				wantErr(t, "refused key stored", err, store.ErrNotFound)
			}
		})
	}
	t.Run("duplicate digest", func(t *testing.T) {
		first := w.create(t, w.personal("first"))
		dup := w.personal("second")
		dup.Digest = first.Digest
		wantErr(t, "CreateKey", w.s.CreateKey(ctx, dup), store.ErrConflict)
		if got := w.get(t, first.ID); got.Name != "first" {
			t.Errorf("digest owner is now %q", got.Name)
		}
	})
	t.Run("100 characters", func(t *testing.T) {
		w.create(t, w.personal(strings.Repeat("é", 100)))
	})
}

func testKeyNames(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	ci := w.create(t, w.personal("ci"))
	wantErr(t, "same name, same owner", w.s.CreateKey(ctx, w.personal("ci")), store.ErrConflict)
	// Names are per owner: another user, a workspace and an organization may use it.
	other := w.personal("ci")
	other.UserID = w.other.ID
	w.create(t, other)
	w.create(t, w.workspaceKey("ci"))
	w.create(t, w.orgKey("ci"))
	wantErr(t, "same name, same workspace", w.s.CreateKey(ctx, w.workspaceKey("ci")), store.ErrConflict)
	wantErr(t, "same name, same org", w.s.CreateKey(ctx, w.orgKey("ci")), store.ErrConflict)
	// Case matters, as bbolt compares names exactly.
	w.create(t, w.personal("CI"))

	// Renaming into a taken name is refused too; keeping one's own name is not a clash.
	nightly := w.create(t, w.personal("nightly"))
	_, err := w.s.UpdateKey(ctx, nightly.ID, func(k *store.APIKey) error { k.Name = "ci"; return nil })
	wantErr(t, "rename to a taken name", err, store.ErrConflict)
	if _, err := w.s.UpdateKey(ctx, nightly.ID, func(k *store.APIKey) error { k.RateLimit = 5; return nil }); err != nil {
		t.Fatalf("update keeping the name: %v", err)
	}

	// A revoked key's name is free again.
	if _, err := w.s.RevokeKey(ctx, ci.ID, t0); err != nil {
		t.Fatal(err)
	}
	w.create(t, w.personal("ci"))
}

func testKeyUpdate(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	k := w.workspaceKey("deploy")
	k.CreatedAt, k.CreatedBy, k.Level, k.Workflows = t0, w.user.ID, store.LevelRead, []string{w.soloWF.ID}
	w.create(t, k)
	exp := t0.Add(time.Hour)
	before := w.s.AuthEpoch()
	got, err := w.s.UpdateKey(ctx, k.ID, func(u *store.APIKey) error {
		u.Name, u.ExpiresAt, u.AllowedCIDRs, u.RateLimit = "deploy-2", &exp, []string{"192.0.2.0/24"}, 30
		// Fixed at creation: these are put back.
		u.ID, u.Type, u.UserID, u.WorkspaceID, u.OrgID = "other", store.KeyPersonal, w.user.ID, w.orgWS.ID, w.org.ID
		u.Digest, u.Ciphertext, u.Suffix, u.CreatedAt, u.CreatedBy = []byte("x"), []byte("y"), "zzzz", t0.Add(time.Hour), "mallory"
		u.Level, u.Workflows = store.LevelAdmin, nil
		u.Grants = []store.Grant{{TargetType: store.TargetWorkspace, TargetID: w.orgWS.ID, Level: store.LevelAdmin}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if w.s.AuthEpoch() <= before {
		t.Error("updating a key must bump the auth epoch")
	}
	want := *k
	want.Name, want.ExpiresAt, want.AllowedCIDRs, want.RateLimit = "deploy-2", &exp, []string{"192.0.2.0/24"}, 30
	if !got.UpdatedAt.After(k.CreatedAt) {
		t.Errorf("UpdatedAt %v did not move past %v", got.UpdatedAt, k.CreatedAt)
	}
	want.UpdatedAt = got.UpdatedAt
	sameKey(t, "UpdateKey result", got, &want)
	sameKey(t, "after UpdateKey", w.get(t, k.ID), &want)

	// fn's error aborts: nothing saved, no bump.
	boom := errors.New("boom")
	before = w.s.AuthEpoch()
	_, err = w.s.UpdateKey(ctx, k.ID, func(u *store.APIKey) error { u.Name = "changed"; return boom })
	wantErr(t, "fn error", err, boom)
	if w.get(t, k.ID).Name != "deploy-2" || w.s.AuthEpoch() != before {
		t.Error("a failed update changed the key or the epoch")
	}
	// The record is still validated.
	_, err = w.s.UpdateKey(ctx, k.ID, func(u *store.APIKey) error { u.Name = ""; return nil })
	wantErr(t, "empty name", err, store.ErrInvalid)
	_, err = w.s.UpdateKey(ctx, "nope", func(*store.APIKey) error { return nil })
	wantErr(t, "unknown key", err, store.ErrNotFound)

	// An organization key keeps its grants through an update.
	o := w.create(t, w.orgKey("org"))
	got, err = w.s.UpdateKey(ctx, o.ID, func(u *store.APIKey) error { u.Grants = nil; u.Name = "org-2"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(w.get(t, o.ID).Grants, o.Grants) || !reflect.DeepEqual(got.Grants, o.Grants) {
		t.Errorf("grants after update = %+v, want %+v", got.Grants, o.Grants)
	}
}

func testKeyRevoke(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	k := w.create(t, w.personal("ci"))
	at := t0.Add(time.Hour)
	before := w.s.AuthEpoch()
	got, err := w.s.RevokeKey(ctx, k.ID, at)
	if err != nil {
		t.Fatal(err)
	}
	if w.s.AuthEpoch() <= before {
		t.Error("revoking must bump the auth epoch")
	}
	if got.RevokedAt == nil || !got.RevokedAt.Equal(at) || !got.UpdatedAt.Equal(at) {
		t.Fatalf("revoked key = %+v", got)
	}
	sameKey(t, "after revoke", w.get(t, k.ID), got)
	// Revoking again keeps the first time.
	again, err := w.s.RevokeKey(ctx, k.ID, at.Add(time.Hour))
	if err != nil || !again.RevokedAt.Equal(at) {
		t.Fatalf("second revoke = %+v, %v", again, err)
	}
	if ks, _ := w.s.ListKeys(ctx, store.KeyFilter{UserID: w.user.ID}); len(ks) != 0 {
		t.Errorf("revoked key listed: %v", keyIDs(ks))
	}
	if ks, _ := w.s.ListKeys(ctx, store.KeyFilter{UserID: w.user.ID, IncludeRevoked: true}); len(ks) != 1 {
		t.Errorf("IncludeRevoked lists %v", keyIDs(ks))
	}
	// A revoked key still resolves by digest (the resolver decides it is dead).
	err = w.s.View(ctx, func(r store.Reader) error {
		got, err := r.KeyByDigest(k.Digest)
		if err == nil && got.RevokedAt == nil {
			t.Error("KeyByDigest lost RevokedAt")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.s.RevokeKey(ctx, "nope", at)
	wantErr(t, "unknown key", err, store.ErrNotFound)
}

func testKeyRotate(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	t.Run("successor inherits", func(t *testing.T) {
		old := w.workspaceKey("deploy")
		old.Level, old.Workflows = store.LevelAdmin, []string{w.soloWF.ID}
		old.AllowedCIDRs, old.RateLimit = []string{"10.0.0.0/8"}, 77
		oldExp := t0.Add(time.Hour)
		old.ExpiresAt = &oldExp
		w.create(t, old)
		newExp := t0.Add(48 * time.Hour)
		nk := &store.APIKey{Digest: w.digest(), Ciphertext: []byte("sealed2"), Suffix: "new1", ExpiresAt: &newExp,
			// The caller cannot change the scope through a rotation.
			Type: store.KeyPersonal, UserID: w.user.ID, Level: store.LevelRead, RateLimit: 1}
		grace := t0.Add(10 * time.Minute)
		before := w.s.AuthEpoch()
		if err := w.s.RotateKey(ctx, old.ID, nk, grace); err != nil {
			t.Fatal(err)
		}
		if w.s.AuthEpoch() <= before {
			t.Error("rotating must bump the auth epoch")
		}
		if nk.ID == "" || nk.Type != store.KeyWorkspace || nk.WorkspaceID != old.WorkspaceID || nk.UserID != "" ||
			nk.Level != store.LevelAdmin || !reflect.DeepEqual(nk.Workflows, old.Workflows) ||
			!reflect.DeepEqual(nk.AllowedCIDRs, old.AllowedCIDRs) || nk.RateLimit != 77 || nk.Name != "deploy" ||
			!nk.ExpiresAt.Equal(newExp) {
			t.Fatalf("successor = %+v", nk)
		}
		sameKey(t, "successor read back", w.get(t, nk.ID), nk)
		got := w.get(t, old.ID)
		if got.GraceUntil == nil || !got.GraceUntil.Equal(grace) || got.RotatedTo != nk.ID ||
			got.Name != "deploy (rotated)" || got.RevokedAt != nil || !got.ExpiresAt.Equal(oldExp) {
			t.Fatalf("old key after rotate = %+v", got)
		}
		// Rotate the old one again: refused, it has a successor.
		err := w.s.RotateKey(ctx, old.ID, &store.APIKey{Digest: w.digest(), Ciphertext: []byte("c")}, grace)
		wantErr(t, "rotate a rotated key", err, store.ErrInvalid)
		// The successor rotates on; the second "(rotated)" name does not clash.
		nk2 := &store.APIKey{Digest: w.digest(), Ciphertext: []byte("c")}
		if err := w.s.RotateKey(ctx, nk.ID, nk2, grace); err != nil {
			t.Fatalf("rotate the successor: %v", err)
		}
		if got := w.get(t, nk.ID); got.Name != "deploy (rotated)" || nk2.Name != "deploy" {
			t.Errorf("second rotation names: old %q, new %q", got.Name, nk2.Name)
		}
	})
	t.Run("new name keeps the old one", func(t *testing.T) {
		old := w.create(t, w.personal("keep"))
		nk := &store.APIKey{Name: "fresh", Digest: w.digest(), Ciphertext: []byte("c")}
		if err := w.s.RotateKey(ctx, old.ID, nk, t0); err != nil {
			t.Fatal(err)
		}
		if got := w.get(t, old.ID); got.Name != "keep" || nk.Name != "fresh" || nk.UserID != w.user.ID {
			t.Errorf("old %q, new %+v", got.Name, nk)
		}
	})
	t.Run("long name truncated", func(t *testing.T) {
		name := strings.Repeat("ñ", 100)
		old := w.create(t, w.personal(name))
		if err := w.s.RotateKey(ctx, old.ID, &store.APIKey{Digest: w.digest(), Ciphertext: []byte("c")}, t0); err != nil {
			t.Fatal(err)
		}
		if got := w.get(t, old.ID).Name; got != strings.Repeat("ñ", 90)+" (rotated)" {
			t.Errorf("old name = %q", got)
		}
	})
	t.Run("org key keeps its grants", func(t *testing.T) {
		old := w.create(t, w.orgKey("org", store.Grant{TargetType: store.TargetWorkflow, TargetID: w.orgWF.ID, Level: store.LevelWrite}))
		nk := &store.APIKey{Digest: w.digest(), Ciphertext: []byte("c")}
		if err := w.s.RotateKey(ctx, old.ID, nk, t0); err != nil {
			t.Fatal(err)
		}
		if got := w.get(t, nk.ID); got.OrgID != w.org.ID || !reflect.DeepEqual(got.Grants, old.Grants) {
			t.Errorf("successor = %+v", got)
		}
		err := w.s.View(ctx, func(r store.Reader) error {
			ids, err := r.KeysTargeting(w.orgWF.ID)
			if err == nil && !reflect.DeepEqual(ids, slices.Sorted(slices.Values([]string{old.ID, nk.ID}))) {
				t.Errorf("KeysTargeting = %v", ids)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("one transaction", func(t *testing.T) {
		old := w.create(t, w.personal("atomic"))
		taken := w.create(t, w.personal("taken-digest"))
		before := w.s.AuthEpoch()
		err := w.s.RotateKey(ctx, old.ID, &store.APIKey{Digest: taken.Digest, Ciphertext: []byte("c")}, t0)
		wantErr(t, "successor with a taken digest", err, store.ErrConflict)
		sameKey(t, "old key after a failed rotation", w.get(t, old.ID), old)
		if w.s.AuthEpoch() != before {
			t.Error("a failed rotation bumped the epoch")
		}
	})
	t.Run("refused", func(t *testing.T) {
		revoked := w.create(t, w.personal("revoked"))
		if _, err := w.s.RevokeKey(ctx, revoked.ID, t0); err != nil {
			t.Fatal(err)
		}
		err := w.s.RotateKey(ctx, revoked.ID, &store.APIKey{Digest: w.digest(), Ciphertext: []byte("c")}, t0)
		wantErr(t, "rotate a revoked key", err, store.ErrInvalid)
		err = w.s.RotateKey(ctx, "nope", &store.APIKey{Digest: w.digest(), Ciphertext: []byte("c")}, t0)
		wantErr(t, "rotate an unknown key", err, store.ErrNotFound)
	})
}

func testKeySetGrants(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	o := w.create(t, w.orgKey("org"))
	next := []store.Grant{
		{TargetType: store.TargetWorkspace, TargetID: w.orgWS2.ID, Level: store.LevelAdmin},
		{TargetType: store.TargetWorkflow, TargetID: w.orgWF.ID, Level: store.LevelRead},
	}
	before := w.s.AuthEpoch()
	if err := w.s.SetKeyGrants(ctx, o.ID, next); err != nil {
		t.Fatal(err)
	}
	if w.s.AuthEpoch() <= before {
		t.Error("SetKeyGrants must bump the auth epoch")
	}
	if got := w.get(t, o.ID).Grants; !reflect.DeepEqual(got, sortedGrants(next)) {
		t.Fatalf("grants = %+v, want %+v", got, sortedGrants(next))
	}
	err := w.s.View(ctx, func(r store.Reader) error {
		if ids, err := r.KeysTargeting(w.orgWS.ID); err != nil || len(ids) != 0 {
			t.Errorf("the replaced grant still targets: %v, %v", ids, err)
		}
		if ids, err := r.KeysTargeting(w.orgWS2.ID); err != nil || !reflect.DeepEqual(ids, []string{o.ID}) {
			t.Errorf("KeysTargeting new target = %v, %v", ids, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p := w.create(t, w.personal("p"))
	cases := []struct {
		name   string
		id     string
		grants []store.Grant
		want   error
	}{
		{"personal key", p.ID, next, store.ErrInvalid},
		{"no grants", o.ID, nil, store.ErrInvalid},
		{"outside the org", o.ID, append(slices.Clone(next), store.Grant{TargetType: store.TargetWorkspace, TargetID: w.foreign.ID, Level: store.LevelRead}), store.ErrInvalid},
		{"bad level", o.ID, []store.Grant{{TargetType: store.TargetWorkspace, TargetID: w.orgWS.ID, Level: "root"}}, store.ErrInvalid},
		{"unknown key", "nope", next, store.ErrNotFound},
	}
	for _, c := range cases {
		before := w.s.AuthEpoch()
		wantErr(t, c.name, w.s.SetKeyGrants(ctx, c.id, c.grants), c.want)
		if w.s.AuthEpoch() != before {
			t.Errorf("%s: refused grants bumped the epoch", c.name)
		}
	}
	if got := w.get(t, o.ID).Grants; !reflect.DeepEqual(got, sortedGrants(next)) {
		t.Fatalf("refused SetKeyGrants changed the grants: %+v", got)
	}
}

func testKeyList(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	// Created out of time order: lists are by CreatedAt.
	mk := func(k *store.APIKey, at time.Duration) *store.APIKey {
		k.CreatedAt = t0.Add(at)
		return w.create(t, k)
	}
	p3 := mk(w.personal("p3"), 3*time.Second)
	p1 := mk(w.personal("p1"), time.Second)
	ws2 := mk(w.workspaceKey("ws2"), 2*time.Second)
	o4 := mk(w.orgKey("o4"), 4*time.Second)
	p0 := mk(w.personal("p0"), 0)
	op := w.personal("other")
	op.UserID = w.other.ID
	mk(op, 5*time.Second)
	if _, err := w.s.RevokeKey(ctx, p0.ID, t0); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    store.KeyFilter
		want []*store.APIKey
	}{
		{"all live", store.KeyFilter{}, []*store.APIKey{p1, ws2, p3, o4, op}},
		{"all", store.KeyFilter{IncludeRevoked: true}, []*store.APIKey{p0, p1, ws2, p3, o4, op}},
		{"user", store.KeyFilter{UserID: w.user.ID}, []*store.APIKey{p1, p3}},
		{"user with revoked", store.KeyFilter{UserID: w.user.ID, IncludeRevoked: true}, []*store.APIKey{p0, p1, p3}},
		{"workspace", store.KeyFilter{WorkspaceID: w.solo.ID}, []*store.APIKey{ws2}},
		{"org", store.KeyFilter{OrgID: w.org.ID}, []*store.APIKey{o4}},
		{"type", store.KeyFilter{Type: store.KeyPersonal}, []*store.APIKey{p1, p3, op}},
		{"type and owner", store.KeyFilter{Type: store.KeyWorkspace, UserID: w.user.ID}, nil},
		{"unknown owner", store.KeyFilter{UserID: "nope"}, nil},
	}
	for _, c := range cases {
		got, err := w.s.ListKeys(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(keyIDs(got), keyIDs(c.want)) {
			t.Errorf("ListKeys %s = %v, want %v", c.name, keyIDs(got), keyIDs(c.want))
		}
		err = w.s.View(ctx, func(r store.Reader) error {
			got, err := r.Keys(c.f)
			if err == nil && !reflect.DeepEqual(keyIDs(got), keyIDs(c.want)) {
				t.Errorf("Reader.Keys %s = %v, want %v", c.name, keyIDs(got), keyIDs(c.want))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := w.s.ListKeys(ctx, store.KeyFilter{OrgID: w.org.ID})
	if len(got) != 1 || !reflect.DeepEqual(got[0].Grants, o4.Grants) {
		t.Errorf("listed org key without its grants: %+v", got)
	}
}

func testOrgKeysReaching(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	onWS := w.orgKey("on-ws", store.Grant{TargetType: store.TargetWorkspace, TargetID: w.orgWS.ID, Level: store.LevelRead},
		store.Grant{TargetType: store.TargetWorkspace, TargetID: w.orgWS2.ID, Level: store.LevelAdmin})
	onWS.CreatedAt = t0.Add(2 * time.Second)
	onWF := w.orgKey("on-wf", store.Grant{TargetType: store.TargetWorkflow, TargetID: w.orgWF.ID, Level: store.LevelWrite})
	onWF.CreatedAt = t0.Add(time.Second)
	elsewhere := w.orgKey("elsewhere", store.Grant{TargetType: store.TargetWorkspace, TargetID: w.orgWS2.ID, Level: store.LevelRead})
	revoked := w.orgKey("revoked")
	for _, k := range []*store.APIKey{onWS, onWF, elsewhere, revoked} {
		w.create(t, k)
	}
	w.create(t, w.workspaceKey("not-org"))
	if _, err := w.s.RevokeKey(ctx, revoked.ID, t0); err != nil {
		t.Fatal(err)
	}
	got, err := w.s.OrgKeysReachingWorkspace(ctx, w.orgWS.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(keyIDs(got), []string{onWF.ID, onWS.ID}) {
		t.Fatalf("reaching = %v, want oldest first %v", keyIDs(got), []string{onWF.ID, onWS.ID})
	}
	if !reflect.DeepEqual(got[1].Grants, sortedGrants(onWS.Grants)) {
		t.Errorf("a reaching key comes with all its grants: %+v", got[1].Grants)
	}
	if got, err := w.s.OrgKeysReachingWorkspace(ctx, w.solo.ID); err != nil || len(got) != 0 {
		t.Errorf("workspace in no org: %v, %v", keyIDs(got), err)
	}
	_, err = w.s.OrgKeysReachingWorkspace(ctx, "nope")
	wantErr(t, "unknown workspace", err, store.ErrNotFound)
}

func testKeyLastUsed(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	a := w.create(t, w.personal("a"))
	b := w.create(t, w.workspaceKey("b"))
	at := t0.Add(time.Minute)
	before := w.s.AuthEpoch()
	err := w.s.SetKeysLastUsed(ctx, map[string]store.LastUsed{
		a.ID:   {At: at, Via: "http"},
		b.ID:   {At: at.Add(time.Second), Via: "mcp"},
		"gone": {At: at, Via: "http"}, // deleted since: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.s.SetKeysLastUsed(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if w.s.AuthEpoch() != before {
		t.Error("recording last use bumped the auth epoch (warm caches would all go cold)")
	}
	check := func(id string, at time.Time, via string) {
		t.Helper()
		got := w.get(t, id)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) || got.LastUsedVia != via {
			t.Errorf("key %s last used %v via %q, want %v via %q", id, got.LastUsedAt, got.LastUsedVia, at, via)
		}
	}
	check(a.ID, at, "http")
	check(b.ID, at.Add(time.Second), "mcp")
	// Never backwards; forwards moves both fields.
	if err := w.s.SetKeysLastUsed(ctx, map[string]store.LastUsed{a.ID: {At: at.Add(-time.Hour), Via: "mcp"}, b.ID: {At: at.Add(time.Hour), Via: "http"}}); err != nil {
		t.Fatal(err)
	}
	check(a.ID, at, "http")
	check(b.ID, at.Add(time.Hour), "http")
	if got := w.get(t, a.ID); !got.UpdatedAt.Equal(a.UpdatedAt) {
		t.Errorf("last use moved UpdatedAt to %v", got.UpdatedAt)
	}

	// Batches from several replicas overlap: all land, the latest time wins.
	var ids []string
	for i := range 6 {
		ids = append(ids, w.create(t, w.personal(fmt.Sprintf("busy-%d", i))).ID)
	}
	const n = 4
	errs := race(n, func(i int) error {
		used := map[string]store.LastUsed{}
		for j, id := range ids {
			used[id] = store.LastUsed{At: t0.Add(time.Duration((i+j)%n) * time.Minute), Via: "http"}
		}
		return w.s.SetKeysLastUsed(ctx, used)
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	for _, id := range ids {
		check(id, t0.Add((n-1)*time.Minute), "http")
	}
}

func testKeyConcurrentName(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	const n = 8
	keys := make([]*store.APIKey, n)
	for i := range keys {
		keys[i] = w.personal("race")
	}
	oneWins(t, "racing creates of one name", n, store.ErrConflict, func(i int) error { return w.s.CreateKey(ctx, keys[i]) })
	if ks, _ := w.s.ListKeys(ctx, store.KeyFilter{UserID: w.user.ID}); len(ks) != 1 {
		t.Fatalf("%d keys stored", len(ks))
	}
}

func testKeyConcurrentRotate(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	old := w.create(t, w.personal("rotate-me"))
	const n = 4
	successors := make([]*store.APIKey, n)
	for i := range successors {
		successors[i] = &store.APIKey{Digest: w.digest(), Ciphertext: []byte("c")}
	}
	// Losers find the key already rotated.
	oneWins(t, "racing rotations of one key", n, store.ErrInvalid, func(i int) error { return w.s.RotateKey(ctx, old.ID, successors[i], t0) })
	if ks, _ := w.s.ListKeys(ctx, store.KeyFilter{UserID: w.user.ID}); len(ks) != 2 {
		t.Fatalf("%d keys after the race, want the old one and one successor", len(ks))
	}
}

// testKeyGrantRacesOrgLeave races an organization key's creation with a grant on a
// workspace against that workspace leaving the organization: whichever commits first,
// no grant may be left on a workspace outside the key's organization.
func testKeyGrantRacesOrgLeave(t *testing.T, open Opener) {
	w := newKeyWorld(t, open)
	for round := range 5 {
		ws := store.NewWorkspace(fmt.Sprintf("leaving-%d", round), w.user.ID, w.org.ID)
		w.must(t, "create workspace", w.s.CreateWorkspace(ctx, ws))
		k := w.orgKey(fmt.Sprintf("k-%d", round),
			store.Grant{TargetType: store.TargetWorkspace, TargetID: ws.ID, Level: store.LevelRead},
			store.Grant{TargetType: store.TargetWorkspace, TargetID: w.orgWS2.ID, Level: store.LevelRead})
		errs := race(2, func(i int) error {
			if i == 0 {
				return w.s.CreateKey(ctx, k)
			}
			_, err := w.s.UpdateWorkspace(ctx, ws.ID, func(ws *store.Workspace) error { ws.OrgID = ""; return nil })
			return err
		})
		if errs[1] != nil {
			t.Fatalf("leaving the org: %v", errs[1])
		}
		if errs[0] != nil && !errors.Is(errs[0], store.ErrInvalid) {
			t.Fatalf("create key: %v, want success or ErrInvalid", errs[0])
		}
		view(t, w.s, func(r store.Reader) error {
			if ids, err := r.KeysTargeting(ws.ID); err != nil || len(ids) != 0 {
				t.Errorf("round %d: org keys %v still target a workspace that left the org (%v)", round, ids, err)
			}
			return nil
		})
	}
}
