package embed_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

func seedGrant(t *testing.T, e *testenv.Env, userID string) *store.OAuthGrant {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	cl := &store.OAuthClient{ID: "seoc_" + store.NewID(), Name: "Claude <b>", RedirectURIs: []string{"https://app.example/cb"}, CreatedAt: now, LastUsedAt: now}
	if err := e.App.Store.CreateOAuthClient(ctx, cl, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	g := &store.OAuthGrant{ID: store.NewID(), ClientID: cl.ID, ClientName: cl.Name, RedirectHost: "app.example", UserID: userID,
		WorkspaceID: e.WS.ID, Workflows: []string{e.Echo.ID}, Level: store.LevelWrite, Resource: e.URL + "/mcp", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.App.Store.CreateOAuthGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestConnectedAppsPage: a user sees their app (escaped) and disconnects it; the
// workspace admin sees which apps reach the workspace; another user sees none and
// cannot disconnect it.
func TestConnectedAppsPage(t *testing.T) {
	e := testenv.New(t)
	g := seedGrant(t, e, e.Member.ID)
	member := signIn(t, e, e.Member.Email, e.AdminPassword)
	st, body := member.get("/dashboard/account/connected-apps")
	if st != 200 || !strings.Contains(body, "Claude &lt;b&gt;") || !strings.Contains(body, e.Echo.Name) || !strings.Contains(body, g.ID+"/revoke") {
		t.Fatalf("member page: %d %s", st, body)
	}
	admin := signIn(t, e, e.Admin.Email, e.AdminPassword)
	if st, body := admin.get("/dashboard/workspaces/" + e.WS.ID + "/settings/api-keys"); st != 200 || !strings.Contains(body, "Claude &lt;b&gt;") || !strings.Contains(body, e.Member.Email) {
		t.Fatalf("admin's workspace page: %d", st)
	}
	if st, body := admin.get("/dashboard/account/connected-apps"); st != 200 || strings.Contains(body, "Claude") {
		t.Fatalf("admin's own apps: %d", st)
	}
	if st, _, _ := admin.post("/dashboard/account/connected-apps/"+g.ID+"/revoke", url.Values{}); st != http.StatusNotFound {
		t.Fatalf("another user's revoke: %d", st)
	}
	st, _, resp := member.post("/dashboard/account/connected-apps/"+g.ID+"/revoke", url.Values{})
	if st != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=app-revoked") {
		t.Fatalf("revoke: %d %s", st, resp.Header.Get("Location"))
	}
	if got, _ := e.App.Store.GetOAuthGrant(context.Background(), g.ID); got.RevokedAt == nil {
		t.Fatal("grant not revoked")
	}
	if _, body := member.get("/dashboard/account/connected-apps"); strings.Contains(body, "Claude") {
		t.Fatal("revoked app still listed")
	}
}

// TestConsentPage: signed out, the authorization request goes through sign-in and
// comes back; the page shows the client and only the user's workspaces, allows the
// redirect origin as a form target, and refuses an unregistered redirect URI.
func TestConsentPage(t *testing.T) {
	e := testenv.New(t)
	g := seedGrant(t, e, e.Member.ID)
	q := url.Values{"response_type": {"code"}, "client_id": {g.ClientID}, "redirect_uri": {"https://app.example/cb"}, "state": {"s"},
		"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}
	path := "/oauth/authorize?" + q.Encode()
	anon := newBrowser(t, e)
	resp := anon.do("GET", path, nil, "")
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?next="+url.QueryEscape(path) {
		t.Fatalf("signed out: %d %s", resp.StatusCode, loc)
	}
	member := signIn(t, e, e.Member.Email, e.AdminPassword)
	resp = member.do("GET", path, nil, "")
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'self' https://app.example;") {
		t.Fatalf("consent page: %d %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	_, body := member.get(path)
	if !strings.Contains(body, "Claude &lt;b&gt;") || !strings.Contains(body, "app.example") || !strings.Contains(body, e.WS.Name) || strings.Contains(body, e.OtherWS.Name) {
		t.Fatalf("consent page body: %s", body)
	}
	q.Set("redirect_uri", "https://evil.example/cb")
	resp = member.do("GET", "/oauth/authorize?"+q.Encode(), nil, "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("unregistered redirect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
