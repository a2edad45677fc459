package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

// TestOAuthClientExpiresWhenUnused: a client nobody used for ClientIdleTTL is unknown
// (invalid_client), and the next registration forgets it; use keeps it alive.
func TestOAuthClientExpiresWhenUnused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := ClientRegistration{ClientName: "x", RedirectURIs: []string{"https://app.example/cb"}}
	idle, err := e.r.RegisterClient(ctx, reg, "192.0.2.1")
	e.must(t, err)
	e.clk.Advance(ClientIdleTTL - time.Minute)
	if _, err := e.r.OAuthClient(ctx, idle.ID, "https://app.example/cb"); err != nil {
		t.Fatalf("client before its idle limit: %v", err)
	}
	if _, err := e.r.OAuthClient(ctx, idle.ID, "https://app.example/other"); err == nil {
		t.Fatal("a redirect URI that was not registered matched")
	}
	e.clk.Advance(2 * time.Minute)
	_, err = e.r.OAuthClient(ctx, idle.ID, "https://app.example/cb")
	if oe, ok := err.(*OAuthError); !ok || oe.Code != "invalid_client" {
		t.Fatalf("idle client: %v", err)
	}
	if _, err := e.r.RegisterClient(ctx, reg, "192.0.2.2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.GetOAuthClient(ctx, idle.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("idle client kept after the next registration: %v", err)
	}
}

// codeWorld is a signed-in owner of a workspace and a registered client, ready to
// consent.
func codeWorld(t *testing.T, e *testEnv) (*Principal, Consent) {
	t.Helper()
	ctx := context.Background()
	u := e.user(t, "owner@example.com")
	ws := e.workspace(t, "ws", u.ID, "")
	cl, err := e.r.RegisterClient(ctx, ClientRegistration{ClientName: "app", RedirectURIs: []string{"http://127.0.0.1/cb"}}, "192.0.2.1")
	e.must(t, err)
	return &Principal{UserID: u.ID, Session: true}, Consent{ClientID: cl.ID, RedirectURI: "http://127.0.0.1/cb",
		CodeChallenge: "9fmNdsN3PGfkA1S6m7W4b3DMkZ3x0jsQxTGhQ6H4K5g", Resource: "https://se.example/mcp", WorkspaceID: ws.ID, Level: store.LevelWrite}
}

// TestOAuthPendingCodesBoundedPerUser: a user holds at most maxPendingCodes codes until
// they expire and are pruned; a flood is refused with temporarily_unavailable.
func TestOAuthPendingCodesBoundedPerUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p, c := codeWorld(t, e)
	for i := range maxPendingCodes {
		if _, err := e.r.IssueCode(ctx, p, c); err != nil {
			t.Fatalf("code %d: %v", i, err)
		}
	}
	_, err := e.r.IssueCode(ctx, p, c)
	if oe, ok := err.(*OAuthError); !ok || oe.Code != "temporarily_unavailable" || oe.Status != 503 {
		t.Fatalf("code beyond the bound: %v", err)
	}
	e.clk.Advance(2*CodeTTL + time.Second)
	if _, err := e.r.IssueCode(ctx, p, c); err != nil {
		t.Fatalf("code after the others expired: %v", err)
	}
}

// replayingStore presents the code again while the first exchange creates its grant.
type replayingStore struct {
	store.Store
	during func()
}

func (s *replayingStore) CreateOAuthGrant(ctx context.Context, g *store.OAuthGrant, tokens ...*store.OAuthToken) error {
	if f := s.during; f != nil {
		s.during = nil
		f()
	}
	return s.Store.CreateOAuthGrant(ctx, g, tokens...)
}

// TestOAuthCodeReplayedDuringExchange: a code presented again while its first exchange
// is still creating the grant fails, and so does the first exchange, which revokes the
// grant it created (audited as a reused code).
func TestOAuthCodeReplayedDuringExchange(t *testing.T) {
	base := newEnv(t)
	rs := &replayingStore{Store: base.st}
	e := envOn(t, rs, base.dir)
	ctx := context.Background()
	p, c := codeWorld(t, e)
	code, err := e.r.IssueCode(ctx, p, c)
	e.must(t, err)
	x := CodeExchange{ClientID: c.ClientID, Code: code, RedirectURI: c.RedirectURI, CodeVerifier: "model-verifier-model-verifier-model-verifier-0123"}
	var replay error
	rs.during = func() { _, replay = e.r.ExchangeCode(ctx, x) }
	ts, err := e.r.ExchangeCode(ctx, x)
	for name, err := range map[string]error{"replay": replay, "first exchange": err} {
		if oe, ok := err.(*OAuthError); !ok || oe.Code != "invalid_grant" {
			t.Errorf("%s: %v %v, want invalid_grant", name, ts, err)
		}
	}
	gs, err := e.st.ListOAuthGrants(ctx, store.OAuthGrantFilter{UserID: p.UserID}, e.clk.Now())
	e.must(t, err)
	if len(gs) != 0 {
		t.Fatalf("live grants after the replay: %d", len(gs))
	}
	evs, err := e.st.ListAudit(ctx, "", 10)
	e.must(t, err)
	var revoked bool
	for _, ev := range evs {
		revoked = revoked || (ev.Action == "oauth_revoked" && strings.HasSuffix(ev.Reason, "authorization code reused"))
	}
	if !revoked {
		t.Error("no oauth_revoked audit event for the reused code")
	}
}
