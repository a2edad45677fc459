package auth

import (
	"context"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

// Rotation is no way around a maximum key lifetime set after a key was made: the
// successor expires within the maximum counted from the rotation.
func TestRotationRespectsMaximumLifetime(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, wsKey := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID})
	_, orgKey := w.key(t, CreateKeyRequest{Type: store.KeyOrganization, OrgID: w.org.ID,
		Grants: []store.Grant{{TargetType: store.TargetWorkspace, TargetID: w.ws.ID, Level: store.LevelRead}}})
	_, longKey := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, ExpiresIn: 365 * 24 * time.Hour})
	if wsKey.ExpiresAt != nil || orgKey.ExpiresAt != nil {
		t.Fatal("keys made without a policy should not expire")
	}
	const max = 30 * 24 * time.Hour
	_, err := w.st.UpdateWorkspace(ctx, w.ws.ID, func(ws *store.Workspace) error { ws.MaxKeyLifetime = max; return nil })
	w.must(t, err)
	_, err = w.st.UpdateOrg(ctx, w.org.ID, func(o *store.Org) error { o.MaxKeyLifetime = max; return nil })
	w.must(t, err)

	session := &Principal{UserID: w.admin.ID, Session: true}
	for _, old := range []*store.APIKey{wsKey, orgKey, longKey} {
		_, nk, err := w.r.RotateKey(ctx, session, old.ID, 0)
		w.must(t, err)
		limit := w.clk.Now().Add(max)
		if nk.ExpiresAt == nil || nk.ExpiresAt.After(limit) {
			t.Errorf("successor of %s expires %v, want by %v", old.Name, nk.ExpiresAt, limit)
		}
	}
	// A key that expires sooner than the maximum keeps its own expiry.
	_, short := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, ExpiresIn: 24 * time.Hour})
	_, nk, err := w.r.RotateKey(ctx, session, short.ID, 0)
	w.must(t, err)
	if nk.ExpiresAt == nil || !nk.ExpiresAt.Equal(*short.ExpiresAt) {
		t.Errorf("successor of a short-lived key expires %v, want %v", nk.ExpiresAt, short.ExpiresAt)
	}
}

// API keys never create, rotate or re-scope keys; a key may revoke itself only.
func TestKeysCannotManageKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	resolve := func(plain string) *Principal {
		t.Helper()
		p, err := w.r.Resolve(ctx, plain, "127.0.0.1", TransportHTTP)
		w.must(t, err)
		return p
	}
	orgPlain, _ := w.key(t, CreateKeyRequest{Type: store.KeyOrganization, OrgID: w.org.ID,
		Grants: []store.Grant{{TargetType: store.TargetWorkspace, TargetID: w.ws.ID, Level: store.LevelAdmin}}})
	adminPlain, _ := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.admin.ID})
	wsPlain, wsKey := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, Level: store.LevelAdmin})
	for name, p := range map[string]*Principal{"org": resolve(orgPlain), "personal": resolve(adminPlain), "workspace": resolve(wsPlain)} {
		if _, _, err := w.r.CreateKey(ctx, p, CreateKeyRequest{Type: store.KeyWorkspace, Name: "x", WorkspaceID: w.ws.ID}); status(err) != 403 {
			t.Errorf("%s key creates a workspace key: %v", name, err)
		}
		if _, _, err := w.r.CreateKey(ctx, p, CreateKeyRequest{Type: store.KeyPersonal, Name: "x", UserID: w.admin.ID}); status(err) != 403 {
			t.Errorf("%s key creates a personal key: %v", name, err)
		}
		if _, _, err := w.r.RotateKey(ctx, p, wsKey.ID, 0); status(err) != 403 {
			t.Errorf("%s key rotates a key: %v", name, err)
		}
		if _, err := w.r.UpdateKey(ctx, p, wsKey.ID, func(k *store.APIKey) error { k.Workflows = nil; return nil }); status(err) != 403 {
			t.Errorf("%s key updates a key: %v", name, err)
		}
	}
	if _, err := w.r.RevokeKey(ctx, resolve(orgPlain), wsKey.ID); status(err) != 403 {
		t.Errorf("org key revokes another key: %v", err)
	}
	if _, err := w.r.RevokeKey(ctx, resolve(wsPlain), wsKey.ID); err != nil {
		t.Errorf("key revokes itself: %v", err)
	}
	if _, err := w.r.Resolve(ctx, wsPlain, "127.0.0.1", TransportHTTP); status(err) != 401 {
		t.Errorf("self-revoked key still resolves: %v", err)
	}
}
