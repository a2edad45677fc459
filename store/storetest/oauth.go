package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func testOAuth(t *testing.T, open Opener) {
	t.Run("Clients", func(t *testing.T) { testOAuthClients(t, open) })
	t.Run("Grants", func(t *testing.T) { testOAuthGrants(t, open) })
	t.Run("Refresh", func(t *testing.T) { testOAuthRefresh(t, open) })
	t.Run("Revoke", func(t *testing.T) { testOAuthRevoke(t, open) })
	t.Run("ListNewestFirst", func(t *testing.T) { testOAuthList(t, open) })
	t.Run("LastUsedKeepsEpoch", func(t *testing.T) { testOAuthLastUsed(t, open) })
	t.Run("ConcurrentRefresh", func(t *testing.T) { testOAuthConcurrentRefresh(t, open) })
	t.Run("CopyAsIs", func(t *testing.T) { testOAuthCopy(t, open) })
	t.Run("Codes", func(t *testing.T) { testOAuthCodes(t, open) })
	t.Run("CodesPruned", func(t *testing.T) { testOAuthCodesPruned(t, open) })
	t.Run("ConcurrentCodeUse", func(t *testing.T) { testOAuthConcurrentCodeUse(t, open) })
	t.Run("CodesPerUser", func(t *testing.T) { testOAuthCodesPerUser(t, open) })
}

const day = 24 * time.Hour

func oauthClient(id string, lastUsed time.Time) *store.OAuthClient {
	return &store.OAuthClient{ID: id, Name: "client " + id, RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1:7777/cb"},
		CreatedAt: lastUsed, LastUsedAt: lastUsed}
}

// oauthWorld is a keyWorld with one registered client.
func oauthWorld(t *testing.T, open Opener) (*keyWorld, *store.OAuthClient) {
	w := newKeyWorld(t, open)
	c := oauthClient("client-1", t0)
	w.must(t, "create oauth client", w.s.CreateOAuthClient(ctx, c, time.Time{}))
	return w, c
}

func (w *keyWorld) grant(id string, c *store.OAuthClient, u *store.User, ws *store.Workspace, created time.Time) *store.OAuthGrant {
	return &store.OAuthGrant{ID: id, ClientID: c.ID, ClientName: c.Name, RedirectHost: "app.example", UserID: u.ID,
		WorkspaceID: ws.ID, Level: store.LevelWrite, Resource: "https://se.example/mcp", CreatedAt: created,
		ExpiresAt: created.Add(30 * day)}
}

func token(digest string, refresh bool, expires time.Time) *store.OAuthToken {
	return &store.OAuthToken{Digest: []byte(digest), Refresh: refresh, ExpiresAt: expires}
}

func (w *keyWorld) token(t *testing.T, digest string) (*store.OAuthToken, error) {
	t.Helper()
	var tok *store.OAuthToken
	err := w.s.View(ctx, func(r store.Reader) error {
		var err error
		tok, err = r.OAuthToken([]byte(digest))
		return err
	})
	return tok, err
}

func (w *keyWorld) getGrant(t *testing.T, id string) *store.OAuthGrant {
	t.Helper()
	g, err := w.s.GetOAuthGrant(ctx, id)
	if err != nil {
		t.Fatalf("get oauth grant %s: %v", id, err)
	}
	return g
}

func testOAuthClients(t *testing.T, open Opener) {
	s := open(t)
	c := oauthClient("client-a", t0)
	if err := s.CreateOAuthClient(ctx, c, time.Time{}); err != nil {
		t.Fatal(err)
	}
	epoch := s.AuthEpoch()
	for name, bad := range map[string]*store.OAuthClient{
		"no id":           {Name: "x", RedirectURIs: []string{"https://x/cb"}},
		"no redirect URI": {ID: "x", Name: "x"},
	} {
		wantErr(t, name, s.CreateOAuthClient(ctx, bad, time.Time{}), store.ErrInvalid)
	}
	got, err := s.GetOAuthClient(ctx, c.ID)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("GetOAuthClient = %+v, %v; want %+v", got, err, c)
	}
	err = s.View(ctx, func(r store.Reader) error {
		got, err := r.OAuthClient(c.ID)
		if err == nil && !reflect.DeepEqual(got, c) {
			t.Errorf("Reader.OAuthClient = %+v", got)
		}
		_, err2 := r.OAuthClient("nope")
		wantErr(t, "Reader.OAuthClient unknown", err2, store.ErrNotFound)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.GetOAuthClient(ctx, "nope")
	wantErr(t, "GetOAuthClient unknown", err, store.ErrNotFound)

	// A registration forgets at most 100 clients idle since the cut-off, in id order.
	idle := t0.Add(-40 * day)
	for i := range 101 {
		if err := s.CreateOAuthClient(ctx, oauthClient(fmt.Sprintf("idle-%03d", i), idle), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	cut := t0.Add(-30 * day)
	if err := s.CreateOAuthClient(ctx, oauthClient("client-b", t0), cut); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		_, err := s.GetOAuthClient(ctx, fmt.Sprintf("idle-%03d", i))
		wantErr(t, "pruned client", err, store.ErrNotFound)
	}
	for _, id := range []string{"idle-100", "client-a", "client-b"} {
		if _, err := s.GetOAuthClient(ctx, id); err != nil {
			t.Errorf("client %s: %v", id, err)
		}
	}
	if err := s.CreateOAuthClient(ctx, oauthClient("client-c", t0), cut); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetOAuthClient(ctx, "idle-100")
	wantErr(t, "last idle client, next registration", err, store.ErrNotFound)
	if s.AuthEpoch() != epoch {
		t.Errorf("registering clients moved the auth epoch from %d to %d", epoch, s.AuthEpoch())
	}
}

func testOAuthGrants(t *testing.T, open Opener) {
	w, c := oauthWorld(t, open)
	g := w.grant("grant-1", c, w.user, w.orgWS, t0.Add(time.Hour))
	g.Workflows = []string{w.orgWF.ID}
	cases := []struct {
		name string
		edit func(g *store.OAuthGrant)
		want error
	}{
		{"no id", func(g *store.OAuthGrant) { g.ID = "" }, store.ErrInvalid},
		{"no user", func(g *store.OAuthGrant) { g.UserID = "" }, store.ErrInvalid},
		{"no workspace", func(g *store.OAuthGrant) { g.WorkspaceID = "" }, store.ErrInvalid},
		{"no client", func(g *store.OAuthGrant) { g.ClientID = "" }, store.ErrInvalid},
		{"unknown user", func(g *store.OAuthGrant) { g.UserID = "nope" }, store.ErrNotFound},
		{"unknown workspace", func(g *store.OAuthGrant) { g.WorkspaceID = "nope" }, store.ErrNotFound},
		{"unknown client", func(g *store.OAuthGrant) { g.ClientID = "nope" }, store.ErrNotFound},
	}
	for _, tc := range cases {
		bad := *g
		tc.edit(&bad)
		before := w.s.AuthEpoch()
		wantErr(t, tc.name, w.s.CreateOAuthGrant(ctx, &bad, token("bad-"+tc.name, true, t0.Add(day))), tc.want)
		if w.s.AuthEpoch() != before {
			t.Errorf("%s: a refused grant bumped the epoch", tc.name)
		}
		if _, err := w.token(t, "bad-"+tc.name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: the refused grant's token was stored (%v)", tc.name, err)
		}
	}
	access, refresh := token("at-1", false, t0.Add(2*time.Hour)), token("rt-1", true, g.ExpiresAt)
	before := w.s.AuthEpoch()
	if err := w.s.CreateOAuthGrant(ctx, g, access, refresh); err != nil {
		t.Fatal(err)
	}
	if w.s.AuthEpoch() <= before {
		t.Error("a new grant must bump the auth epoch (resolvers cache unknown token digests per epoch)")
	}
	if access.GrantID != g.ID || refresh.GrantID != g.ID {
		t.Errorf("tokens not tied to the grant: %+v %+v", access, refresh)
	}
	if got := w.getGrant(t, g.ID); !reflect.DeepEqual(got, g) {
		t.Fatalf("GetOAuthGrant:\n got %+v\nwant %+v", got, g)
	}
	if got, err := w.s.GetOAuthClient(ctx, c.ID); err != nil || !got.LastUsedAt.Equal(g.CreatedAt) {
		t.Errorf("client last used = %+v, %v; want the grant's creation %v", got, err, g.CreatedAt)
	}
	err := w.s.View(ctx, func(r store.Reader) error {
		got, err := r.OAuthGrant(g.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, g) {
			t.Errorf("Reader.OAuthGrant = %+v", got)
		}
		for _, want := range []*store.OAuthToken{access, refresh} {
			got, err := r.OAuthToken(want.Digest)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Reader.OAuthToken:\n got %+v\nwant %+v", got, want)
			}
		}
		_, err = r.OAuthGrant("nope")
		wantErr(t, "Reader.OAuthGrant unknown", err, store.ErrNotFound)
		_, err = r.OAuthToken([]byte("nope"))
		wantErr(t, "Reader.OAuthToken unknown", err, store.ErrNotFound)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.s.GetOAuthGrant(ctx, "nope")
	wantErr(t, "GetOAuthGrant unknown", err, store.ErrNotFound)
}

func testOAuthRefresh(t *testing.T, open Opener) {
	w, c := oauthWorld(t, open)
	g := w.grant("grant-1", c, w.user, w.orgWS, t0)
	oldAccess := token("at-old", false, t0.Add(time.Hour))
	liveAccess := token("at-live", false, t0.Add(10*time.Hour))
	shortRefresh := token("rt-short", true, t0.Add(time.Hour))
	if err := w.s.CreateOAuthGrant(ctx, g, oldAccess, liveAccess, token("rt-1", true, g.ExpiresAt), shortRefresh); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(2 * time.Hour)
	t.Run("refused", func(t *testing.T) {
		for name, digest := range map[string]string{
			"unknown":         "nope",
			"access token":    "at-live",
			"expired refresh": "rt-short",
		} {
			before := w.s.AuthEpoch()
			_, err := w.s.RotateOAuthRefresh(ctx, []byte(digest), t1, token("never-"+name, true, t1.Add(day)))
			wantErr(t, name, err, store.ErrNotFound)
			if w.s.AuthEpoch() != before {
				t.Errorf("%s: a refused refresh bumped the epoch", name)
			}
			if _, err := w.token(t, "never-"+name); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: a refused refresh stored its new token", name)
			}
		}
		// After the grant's own expiry even a fresh refresh token is dead.
		_, err := w.s.RotateOAuthRefresh(ctx, []byte("rt-1"), g.ExpiresAt, token("never", true, g.ExpiresAt.Add(day)))
		wantErr(t, "grant expired", err, store.ErrNotFound)
	})

	newExp := t1.Add(60 * day)
	before := w.s.AuthEpoch()
	got, err := w.s.RotateOAuthRefresh(ctx, []byte("rt-1"), t1, token("at-2", false, t1.Add(time.Hour)), token("rt-2", true, newExp))
	if err != nil {
		t.Fatal(err)
	}
	if w.s.AuthEpoch() <= before {
		t.Error("a refresh must bump the auth epoch")
	}
	want := *g
	want.ExpiresAt, want.LastUsedAt = newExp, &t1
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("rotated grant:\n got %+v\nwant %+v", got, &want)
	}
	if stored := w.getGrant(t, g.ID); !reflect.DeepEqual(stored, &want) {
		t.Fatalf("stored grant after refresh:\n got %+v\nwant %+v", stored, &want)
	}
	if cl, err := w.s.GetOAuthClient(ctx, c.ID); err != nil || !cl.LastUsedAt.Equal(t1) {
		t.Errorf("client last used = %+v, %v; want %v", cl, err, t1)
	}
	// The rotated token is kept (marked) so its reuse is recognised; expired tokens go;
	// live ones and the new ones stay.
	if old, err := w.token(t, "rt-1"); err != nil || old.RotatedAt == nil || !old.RotatedAt.Equal(t1) {
		t.Fatalf("rotated refresh token = %+v, %v", old, err)
	}
	for _, d := range []string{"at-old", "rt-short"} {
		if _, err := w.token(t, d); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired token %s kept (%v)", d, err)
		}
	}
	for _, d := range []string{"at-live", "at-2", "rt-2"} {
		if tok, err := w.token(t, d); err != nil || tok.GrantID != g.ID {
			t.Errorf("token %s = %+v, %v", d, tok, err)
		}
	}

	// The new refresh token works in turn.
	t2 := t1.Add(time.Hour)
	if _, err := w.s.RotateOAuthRefresh(ctx, []byte("rt-2"), t2, token("rt-3", true, t2.Add(60*day))); err != nil {
		t.Fatalf("second refresh: %v", err)
	}

	// rt-1 again: it leaked. The grant is revoked, committed, and returned.
	t3 := t2.Add(time.Hour)
	before = w.s.AuthEpoch()
	got, err = w.s.RotateOAuthRefresh(ctx, []byte("rt-1"), t3, token("rt-evil", true, t3.Add(day)))
	wantErr(t, "reused refresh token", err, store.ErrRefreshReused)
	if got == nil || got.ID != g.ID || got.RevokedAt == nil || !got.RevokedAt.Equal(t3) {
		t.Fatalf("reuse returned grant %+v", got)
	}
	if w.s.AuthEpoch() <= before {
		t.Error("revoking on reuse must bump the auth epoch")
	}
	if stored := w.getGrant(t, g.ID); stored.RevokedAt == nil || !stored.RevokedAt.Equal(t3) {
		t.Fatalf("the revocation on reuse was not committed: %+v", stored)
	}
	for _, d := range []string{"rt-1", "rt-2", "rt-3", "at-live", "at-2", "rt-evil"} {
		if _, err := w.token(t, d); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("token %s of the revoked grant kept (%v)", d, err)
		}
	}
	_, err = w.s.RotateOAuthRefresh(ctx, []byte("rt-3"), t3, token("rt-4", true, t3.Add(day)))
	wantErr(t, "refresh on a revoked grant", err, store.ErrNotFound)
}

func testOAuthRevoke(t *testing.T, open Opener) {
	w, c := oauthWorld(t, open)
	g := w.grant("grant-1", c, w.user, w.orgWS, t0)
	if err := w.s.CreateOAuthGrant(ctx, g, token("at", false, t0.Add(time.Hour)), token("rt", true, g.ExpiresAt)); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	before := w.s.AuthEpoch()
	got, err := w.s.RevokeOAuthGrant(ctx, g.ID, at)
	if err != nil {
		t.Fatal(err)
	}
	if got.RevokedAt == nil || !got.RevokedAt.Equal(at) || got.Live(at) {
		t.Fatalf("revoked grant = %+v", got)
	}
	if w.s.AuthEpoch() <= before {
		t.Error("revoking a grant must bump the auth epoch")
	}
	if !reflect.DeepEqual(w.getGrant(t, g.ID), got) {
		t.Errorf("stored grant differs from the returned one")
	}
	for _, d := range []string{"at", "rt"} {
		if _, err := w.token(t, d); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("token %s kept after revocation (%v)", d, err)
		}
	}
	// Again: a no-op returning the grant as it was revoked.
	before = w.s.AuthEpoch()
	again, err := w.s.RevokeOAuthGrant(ctx, g.ID, at.Add(time.Hour))
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Fatalf("second revoke = %+v, %v", again, err)
	}
	if w.s.AuthEpoch() != before {
		t.Error("revoking a revoked grant bumped the epoch")
	}
	_, err = w.s.RevokeOAuthGrant(ctx, "nope", at)
	wantErr(t, "unknown grant", err, store.ErrNotFound)
}

func testOAuthList(t *testing.T, open Opener) {
	w, c := oauthWorld(t, open)
	// Ids order the list (the store's ids are time-ordered ULIDs), not CreatedAt.
	mine1 := w.grant("grant-1", c, w.user, w.orgWS, t0.Add(time.Hour))
	theirs := w.grant("grant-2", c, w.other, w.orgWS, t0)
	mine3 := w.grant("grant-3", c, w.user, w.solo, t0)
	mine4 := w.grant("grant-4", c, w.user, w.orgWS, t0)
	revoked := w.grant("grant-5", c, w.user, w.orgWS, t0)
	expiring := w.grant("grant-6", c, w.user, w.orgWS, t0)
	expiring.ExpiresAt = t0.Add(time.Hour)
	for _, g := range []*store.OAuthGrant{mine1, theirs, mine3, mine4, revoked, expiring} {
		if err := w.s.CreateOAuthGrant(ctx, g, token("rt-"+g.ID, true, g.ExpiresAt)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.s.RevokeOAuthGrant(ctx, revoked.ID, t0); err != nil {
		t.Fatal(err)
	}
	ids := func(gs []*store.OAuthGrant) []string {
		out := []string{}
		for _, g := range gs {
			out = append(out, g.ID)
		}
		return out
	}
	at := t0.Add(time.Minute)
	later := t0.Add(2 * time.Hour)
	cases := []struct {
		name string
		f    store.OAuthGrantFilter
		at   time.Time
		want []string
	}{
		{"user", store.OAuthGrantFilter{UserID: w.user.ID}, at, []string{"grant-6", "grant-4", "grant-3", "grant-1"}},
		{"user, later", store.OAuthGrantFilter{UserID: w.user.ID}, later, []string{"grant-4", "grant-3", "grant-1"}},
		{"workspace", store.OAuthGrantFilter{WorkspaceID: w.orgWS.ID}, at, []string{"grant-6", "grant-4", "grant-2", "grant-1"}},
		{"workspace and user", store.OAuthGrantFilter{WorkspaceID: w.orgWS.ID, UserID: w.other.ID}, at, []string{"grant-2"}},
		{"other workspace", store.OAuthGrantFilter{WorkspaceID: w.orgWS2.ID}, at, []string{}},
		{"no filter", store.OAuthGrantFilter{}, at, []string{}},
	}
	for _, tc := range cases {
		got, err := w.s.ListOAuthGrants(ctx, tc.f, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(got), tc.want) {
			t.Errorf("ListOAuthGrants %s = %v, want newest first %v", tc.name, ids(got), tc.want)
		}
	}
	got, _ := w.s.ListOAuthGrants(ctx, store.OAuthGrantFilter{UserID: w.other.ID}, at)
	if len(got) != 1 || !reflect.DeepEqual(got[0], theirs) {
		t.Errorf("listed grant differs: %+v", got)
	}
}

func testOAuthLastUsed(t *testing.T, open Opener) {
	w, c := oauthWorld(t, open)
	a := w.grant("grant-a", c, w.user, w.orgWS, t0)
	b := w.grant("grant-b", c, w.user, w.orgWS, t0)
	for _, g := range []*store.OAuthGrant{a, b} {
		if err := w.s.CreateOAuthGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(time.Minute)
	before := w.s.AuthEpoch()
	if err := w.s.SetOAuthGrantsLastUsed(ctx, map[string]time.Time{a.ID: at, b.ID: at.Add(time.Second), "gone": at}); err != nil {
		t.Fatal(err)
	}
	if err := w.s.SetOAuthGrantsLastUsed(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.s.SetOAuthGrantsLastUsed(ctx, map[string]time.Time{a.ID: at.Add(-time.Hour), b.ID: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if w.s.AuthEpoch() != before {
		t.Error("recording grant use bumped the auth epoch")
	}
	for id, want := range map[string]time.Time{a.ID: at, b.ID: at.Add(time.Hour)} {
		if got := w.getGrant(t, id); got.LastUsedAt == nil || !got.LastUsedAt.Equal(want) {
			t.Errorf("grant %s last used %v, want %v (never backwards)", id, got.LastUsedAt, want)
		}
	}
}

func testOAuthConcurrentRefresh(t *testing.T, open Opener) {
	w, c := oauthWorld(t, open)
	g := w.grant("grant-1", c, w.user, w.orgWS, t0)
	if err := w.s.CreateOAuthGrant(ctx, g, token("rt", true, g.ExpiresAt)); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Hour)
	errs := race(2, func(i int) error {
		_, err := w.s.RotateOAuthRefresh(ctx, []byte("rt"), t1,
			token(fmt.Sprintf("at-%d", i), false, t1.Add(time.Hour)), token(fmt.Sprintf("rt-%d", i), true, t1.Add(day)))
		return err
	})
	ok, reused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrRefreshReused):
			reused++
		default:
			t.Errorf("racing refresh err = %v", err)
		}
	}
	// Serialised, the second exchange presents a rotated token: a replay.
	if ok != 1 || reused != 1 {
		t.Fatalf("two racing refreshes of one token: %d succeeded, %d saw reuse; want 1 and 1", ok, reused)
	}
	if got := w.getGrant(t, g.ID); got.RevokedAt == nil {
		t.Error("the replay did not revoke the grant")
	}
}

type grantWithTokens struct {
	G    *store.OAuthGrant
	Toks []*store.OAuthToken
}

func eachGrant(t *testing.T, s store.Store) []grantWithTokens {
	t.Helper()
	var out []grantWithTokens
	err := s.EachOAuthGrant(ctx, func(g *store.OAuthGrant, toks []*store.OAuthToken) error {
		out = append(out, grantWithTokens{g, toks})
		return nil
	})
	if err != nil {
		t.Fatalf("each oauth grant: %v", err)
	}
	return out
}

// testOAuthCopy is what migrate-store relies on: every client, and every grant with its
// tokens (revoked, rotated, expired and orphaned ones too), can be read and stored as it
// was into another store, where the refresh tokens rotate and the access tokens resolve
// as they would have on the source.
func testOAuthCopy(t *testing.T, open Opener) {
	w, c := oauthWorld(t, open)
	if cs, err := w.s.ListOAuthClients(ctx); err != nil || len(cs) != 1 || !reflect.DeepEqual(cs[0], c) {
		t.Fatalf("ListOAuthClients = %+v, %v; want the one client", cs, err)
	}
	// A client that is forgotten after granting: its grant stays (as on the source).
	old := oauthClient("client-0-old", t0.Add(-40*day))
	w.must(t, "create old client", w.s.CreateOAuthClient(ctx, old, time.Time{}))
	orphan := w.grant("grant-orphan", old, w.other, w.solo, t0.Add(-40*day))
	w.must(t, "grant the old client", w.s.CreateOAuthGrant(ctx, orphan, token("at-orphan", false, t0.Add(-40*day).Add(time.Hour))))
	w.must(t, "forget the old client", w.s.CreateOAuthClient(ctx, oauthClient("client-2", t0), t0.Add(-30*day)))

	// More grants than a page, each with an access and a refresh token.
	for i := range 40 {
		g := w.grant(fmt.Sprintf("grant-%03d", i), c, w.user, w.orgWS, t0.Add(time.Duration(i)*time.Minute))
		if i%2 == 0 {
			g.Workflows = []string{w.orgWF.ID}
		}
		w.must(t, "create grant", w.s.CreateOAuthGrant(ctx, g,
			token(fmt.Sprintf("at-%03d", i), false, g.CreatedAt.Add(time.Hour)), token(fmt.Sprintf("rt-%03d", i), true, g.ExpiresAt)))
	}
	t1 := t0.Add(2 * time.Hour)
	if _, err := w.s.RotateOAuthRefresh(ctx, []byte("rt-000"), t1, token("at-000b", false, t1.Add(time.Hour)), token("rt-000b", true, t1.Add(30*day))); err != nil {
		t.Fatal(err)
	}
	if _, err := w.s.RevokeOAuthGrant(ctx, "grant-001", t1); err != nil {
		t.Fatal(err)
	}
	w.must(t, "last used", w.s.SetOAuthGrantsLastUsed(ctx, map[string]time.Time{"grant-002": t1}))

	srcClients, err := w.s.ListOAuthClients(ctx)
	if err != nil || len(srcClients) != 2 || srcClients[0].ID != "client-1" || srcClients[1].ID != "client-2" {
		t.Fatalf("ListOAuthClients = %+v, %v; want client-1 and client-2, in id order", srcClients, err)
	}
	src := eachGrant(t, w.s)
	if len(src) != 41 || src[0].G.ID != "grant-000" || src[40].G.ID != "grant-orphan" {
		t.Fatalf("EachOAuthGrant walked %d grants; want 41 in id order", len(src))
	}
	if g := src[0]; len(g.Toks) != 3 || g.G.LastUsedAt == nil {
		t.Fatalf("the rotated grant walked with %d tokens (%+v); want 3: the rotated refresh token (kept until it expires) and the new two", len(g.Toks), g.G)
	}
	if g := src[1]; g.G.RevokedAt == nil || len(g.Toks) != 0 {
		t.Fatalf("the revoked grant walked as %+v with %d tokens", g.G, len(g.Toks))
	}
	for _, g := range src {
		for i, tok := range g.Toks {
			if tok.GrantID != g.G.ID || (i > 0 && string(g.Toks[i-1].Digest) >= string(tok.Digest)) {
				t.Fatalf("tokens of %s not the grant's, in digest order: %+v", g.G.ID, g.Toks)
			}
		}
	}

	// The copy: a store that knows none of the users, workspaces or clients' grants.
	dst := open(t)
	wantErr(t, "put a grant without id", dst.PutOAuthGrant(ctx, &store.OAuthGrant{ClientID: "c", UserID: "u", WorkspaceID: "w"}), store.ErrInvalid)
	for _, c := range srcClients {
		wantErr(t, "copy client", dst.CreateOAuthClient(ctx, c, time.Time{}), nil)
	}
	for i, g := range src {
		bumps(t, dst, "put oauth grant", true, func() error { return dst.PutOAuthGrant(ctx, g.G, src[i].Toks...) })
	}
	if got, err := dst.ListOAuthClients(ctx); err != nil || !reflect.DeepEqual(got, srcClients) {
		t.Fatalf("copied clients = %+v, %v; want %+v", got, err, srcClients)
	}
	if got := eachGrant(t, dst); !reflect.DeepEqual(got, src) {
		for i := range min(len(got), len(src)) {
			if !reflect.DeepEqual(got[i], src[i]) {
				t.Fatalf("copied grant %d:\n got %+v %+v\nwant %+v %+v", i, got[i].G, got[i].Toks, src[i].G, src[i].Toks)
			}
		}
		t.Fatalf("copied %d grants, want %d", len(got), len(src))
	}
	// Putting grants touched no client.
	if got, err := dst.GetOAuthClient(ctx, c.ID); err != nil || !reflect.DeepEqual(got, srcClients[0]) {
		t.Fatalf("client after the grants were put = %+v, %v; want %+v", got, err, srcClients[0])
	}

	// An access token resolves; a refresh token rotates; a rotated one is still
	// recognised as reused.
	var at *store.OAuthToken
	view(t, dst, func(r store.Reader) error {
		at, err = r.OAuthToken([]byte("at-005"))
		return err
	})
	if at.GrantID != "grant-005" || at.Refresh || !at.ExpiresAt.Equal(t0.Add(5*time.Minute+time.Hour)) {
		t.Fatalf("copied access token = %+v", at)
	}
	t2 := t1.Add(time.Hour)
	g, err := dst.RotateOAuthRefresh(ctx, []byte("rt-000b"), t2, token("rt-000c", true, t2.Add(30*day)))
	if err != nil || g.ID != "grant-000" {
		t.Fatalf("refresh with a copied refresh token = %+v, %v", g, err)
	}
	_, err = dst.RotateOAuthRefresh(ctx, []byte("rt-000"), t2, token("rt-evil", true, t2.Add(day)))
	wantErr(t, "a refresh token rotated before the copy", err, store.ErrRefreshReused)
	_, err = dst.RotateOAuthRefresh(ctx, []byte("rt-001"), t2, token("rt-evil2", true, t2.Add(day)))
	wantErr(t, "a refresh token of a grant revoked before the copy", err, store.ErrNotFound)
	if live, err := dst.ListOAuthGrants(ctx, store.OAuthGrantFilter{UserID: w.user.ID}, t2); err != nil || len(live) != 38 {
		t.Fatalf("live copied grants of the user = %d, %v; want 38 (40 less the revoked and the reused)", len(live), err)
	}

	// A put replaces the grant's tokens with exactly the ones given.
	g3 := src[3].G
	wantErr(t, "put over a grant", dst.PutOAuthGrant(ctx, g3, token("at-003-only", false, t2.Add(time.Hour))), nil)
	for _, gt := range eachGrant(t, dst) {
		if gt.G.ID == g3.ID && (len(gt.Toks) != 1 || string(gt.Toks[0].Digest) != "at-003-only") {
			t.Fatalf("grant put again has tokens %+v", gt.Toks)
		}
	}
	_, err = dst.RotateOAuthRefresh(ctx, []byte("rt-003"), t2, token("rt-never", true, t2.Add(day)))
	wantErr(t, "a token the grant was put again without", err, store.ErrNotFound)

	// An error from fn stops the walk and comes back.
	stop, n := errors.New("stop"), 0
	err = dst.EachOAuthGrant(ctx, func(*store.OAuthGrant, []*store.OAuthToken) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("each with a failing fn = %v after %d calls; want stop after 1", err, n)
	}
}

func oauthCode(digest string, expires time.Time) *store.OAuthCode {
	return &store.OAuthCode{Digest: []byte(digest), ClientID: "client-1", RedirectURI: "http://127.0.0.1:7777/cb",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Resource: "https://se.example/api/mcp/serve/srv-1",
		ServerID: "srv-1", WorkspaceID: "ws-1", Workflows: []string{"wf-a", "wf-b"}, Level: store.LevelWrite,
		UserID: "user-1", ExpiresAt: expires}
}

// testOAuthCodes is the life of an authorization code: stored with its consent, used
// once, and every later presentation seen as a replay carrying the first use's grant.
func testOAuthCodes(t *testing.T, open Opener) {
	s := open(t)
	exp := t0.Add(time.Minute)
	want := oauthCode("code-1", exp)
	wantErr(t, "create", s.CreateOAuthCode(ctx, want, time.Time{}, 0), nil)
	epoch := s.AuthEpoch()
	for name, bad := range map[string]*store.OAuthCode{
		"no digest":    {ClientID: "c", UserID: "u", WorkspaceID: "w", ExpiresAt: exp},
		"no user":      {Digest: []byte("x"), ClientID: "c", WorkspaceID: "w", ExpiresAt: exp},
		"no expiry":    {Digest: []byte("x"), ClientID: "c", UserID: "u", WorkspaceID: "w"},
		"already used": {Digest: []byte("x"), ClientID: "c", UserID: "u", WorkspaceID: "w", ExpiresAt: exp, UsedAt: &t0},
	} {
		wantErr(t, name, s.CreateOAuthCode(ctx, bad, time.Time{}, 0), store.ErrInvalid)
	}
	wantErr(t, "same digest again", s.CreateOAuthCode(ctx, oauthCode("code-1", exp), time.Time{}, 0), store.ErrConflict)
	_, err := s.UseOAuthCode(ctx, []byte("no-such-code"), t0)
	wantErr(t, "unknown digest", err, store.ErrNotFound)
	_, err = s.SetOAuthCodeGrant(ctx, []byte("no-such-code"), "g")
	wantErr(t, "grant of an unknown digest", err, store.ErrNotFound)

	first, err := s.UseOAuthCode(ctx, []byte("code-1"), t0.Add(time.Second))
	wantErr(t, "first use", err, nil)
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("first use returned\n%+v\nwant it as stored\n%+v", first, want)
	}
	second, err := s.UseOAuthCode(ctx, []byte("code-1"), t0.Add(2*time.Second))
	wantErr(t, "second use", err, nil)
	if second.UsedAt == nil || !second.UsedAt.Equal(t0.Add(time.Second)) || second.GrantID != "" || second.Replayed {
		t.Fatalf("second use before any grant = used %v grant %q replayed %v; want used at the first use, no grant, not yet replayed",
			second.UsedAt, second.GrantID, second.Replayed)
	}
	// The replay came while the first exchange was creating its grant: recording the
	// grant says so, and the exchange revokes it.
	replayed, err := s.SetOAuthCodeGrant(ctx, []byte("code-1"), "grant-1")
	wantErr(t, "set grant", err, nil)
	if !replayed {
		t.Error("SetOAuthCodeGrant after a replay reported no replay")
	}
	third, err := s.UseOAuthCode(ctx, []byte("code-1"), t0.Add(3*time.Second))
	wantErr(t, "third use", err, nil)
	if third.UsedAt == nil || third.GrantID != "grant-1" {
		t.Errorf("use after the grant was recorded = used %v grant %q; want used, grant-1", third.UsedAt, third.GrantID)
	}

	// A code used once, its grant recorded before any replay.
	wantErr(t, "create code-2", s.CreateOAuthCode(ctx, oauthCode("code-2", exp), time.Time{}, 0), nil)
	if _, err := s.UseOAuthCode(ctx, []byte("code-2"), t0); err != nil {
		t.Fatal(err)
	}
	if replayed, err := s.SetOAuthCodeGrant(ctx, []byte("code-2"), "grant-2"); err != nil || replayed {
		t.Fatalf("set grant of a code used once = %v, %v; want false, nil", replayed, err)
	}
	again, err := s.UseOAuthCode(ctx, []byte("code-2"), t0.Add(time.Second))
	if err != nil || again.UsedAt == nil || again.GrantID != "grant-2" || again.Replayed {
		t.Fatalf("replay of code-2 = %+v, %v; want used with grant-2", again, err)
	}

	// Expired: at ExpiresAt the code is gone for good, and nothing is recorded.
	wantErr(t, "create code-3", s.CreateOAuthCode(ctx, oauthCode("code-3", exp), time.Time{}, 0), nil)
	_, err = s.UseOAuthCode(ctx, []byte("code-3"), exp)
	wantErr(t, "use at expiry", err, store.ErrNotFound)
	if c, err := s.UseOAuthCode(ctx, []byte("code-3"), exp.Add(-time.Nanosecond)); err != nil || c.UsedAt != nil {
		t.Fatalf("use just before expiry after a refused late use = %+v, %v; want a first use", c, err)
	}
	_, err = s.UseOAuthCode(ctx, []byte("code-1"), exp.Add(time.Hour))
	wantErr(t, "used code after expiry", err, store.ErrNotFound)

	// Without workflows the consent is all workflows: nil, as stored.
	all := oauthCode("code-4", exp)
	all.Workflows, all.ServerID = nil, ""
	wantErr(t, "create code-4", s.CreateOAuthCode(ctx, all, time.Time{}, 0), nil)
	if c, err := s.UseOAuthCode(ctx, []byte("code-4"), t0); err != nil || !reflect.DeepEqual(c, all) {
		t.Fatalf("use code-4 = %+v, %v; want %+v", c, err, all)
	}
	if got := s.AuthEpoch(); got != epoch {
		t.Errorf("codes moved the auth epoch %d → %d; nothing caches them", epoch, got)
	}
}

// testOAuthCodesPruned: a new code deletes the codes expired before the given time, used
// or not, and keeps the others.
func testOAuthCodesPruned(t *testing.T, open Opener) {
	s := open(t)
	for i, exp := range []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)} {
		wantErr(t, "create", s.CreateOAuthCode(ctx, oauthCode(fmt.Sprintf("code-%d", i), exp), time.Time{}, 0), nil)
	}
	if _, err := s.UseOAuthCode(ctx, []byte("code-0"), t0.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "create code-new", s.CreateOAuthCode(ctx, oauthCode("code-new", t0.Add(time.Hour)), t0.Add(90*time.Second), 0), nil)
	// Presented at a time before every expiry, only pruning explains ErrNotFound.
	at := t0.Add(-time.Minute)
	for digest, wantGone := range map[string]bool{"code-0": true, "code-1": true, "code-2": false, "code-new": false} {
		_, err := s.UseOAuthCode(ctx, []byte(digest), at)
		if gone := errors.Is(err, store.ErrNotFound); gone != wantGone || (err != nil && !gone) {
			t.Errorf("%s after pruning: err = %v, want pruned %v", digest, err, wantGone)
		}
	}
	if _, err := s.SetOAuthCodeGrant(ctx, []byte("code-0"), "g"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("set grant of a pruned code: err = %v, want ErrNotFound", err)
	}
}

// testOAuthConcurrentCodeUse: of many racing presentations of one code exactly one is
// the first use, the others are replays.
func testOAuthConcurrentCodeUse(t *testing.T, open Opener) {
	s := open(t)
	wantErr(t, "create", s.CreateOAuthCode(ctx, oauthCode("code", t0.Add(time.Minute)), time.Time{}, 0), nil)
	const n = 8
	firsts := make([]bool, n)
	errs := race(n, func(i int) error {
		c, err := s.UseOAuthCode(ctx, []byte("code"), t0.Add(time.Duration(i)*time.Millisecond))
		if err == nil {
			firsts[i] = c.UsedAt == nil
		}
		return err
	})
	count := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("use %d: %v", i, err)
		}
		if firsts[i] {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d racing uses of one code: %d saw a first use, want exactly 1", n, count)
	}
	if replayed, err := s.SetOAuthCodeGrant(ctx, []byte("code"), "grant"); err != nil || !replayed {
		t.Errorf("set grant after racing replays = %v, %v; want replayed", replayed, err)
	}
}

// testOAuthCodesPerUser: a user holds at most maxPerUser codes until they are pruned;
// other users are not held back.
func testOAuthCodesPerUser(t *testing.T, open Opener) {
	s := open(t)
	exp := t0.Add(time.Minute)
	for i := range 3 {
		wantErr(t, "create", s.CreateOAuthCode(ctx, oauthCode(fmt.Sprintf("code-%d", i), exp), time.Time{}, 3), nil)
	}
	wantErr(t, "one code too many", s.CreateOAuthCode(ctx, oauthCode("code-3", exp), time.Time{}, 3), store.ErrTooManyCodes)
	if _, err := s.UseOAuthCode(ctx, []byte("code-3"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused code was stored: %v", err)
	}
	other := oauthCode("other-user", exp)
	other.UserID = "user-2"
	wantErr(t, "another user", s.CreateOAuthCode(ctx, other, time.Time{}, 3), nil)
	wantErr(t, "no bound", s.CreateOAuthCode(ctx, oauthCode("code-4", exp), time.Time{}, 0), nil)
	// Once pruned, the user's codes no longer count.
	wantErr(t, "after pruning", s.CreateOAuthCode(ctx, oauthCode("code-5", exp.Add(time.Hour)), exp.Add(time.Second), 3), nil)
}
