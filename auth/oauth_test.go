package auth

import (
	"context"
	"errors"
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
