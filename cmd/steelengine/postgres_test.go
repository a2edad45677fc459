package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/bolt"
	"github.com/steelengine/steelengine/store/postgres"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// Commands that work on bbolt files refuse a PostgreSQL store by name instead of opening
// the data directory's (absent) files.
func TestBoltOnlyCommandsRefuseDatabaseURL(t *testing.T) {
	data := newDataDir(t)
	for _, args := range [][]string{
		{"compact"},
		{"check"},
		{"restore", "archive.tar"},
	} {
		t.Run(args[0], func(t *testing.T) {
			_, stderr, code := runCLIEnv(t, []string{"STEELENGINE_DATABASE_URL=postgres://nobody@127.0.0.1:1/none"},
				append([]string{"--data-dir", data}, args...)...)
			if code != 2 || !strings.Contains(stderr, "bbolt files") {
				t.Fatalf("%v with a database URL: exit %d, stderr %q; want 2 naming the bbolt files", args, code, stderr)
			}
		})
	}
}

// migrate-store moves a bbolt data directory into an empty PostgreSQL database: a dry run
// counts and writes nothing, the copy verifies its counts, and a replica on the database
// with the same master key answers the same API key, resumes a run paused for approval,
// accepts a pending invitation, lists the key audit trail and keeps the schedule's fire
// state; a second copy is refused.
func TestMigrateStoreKeepsKeysWorking(t *testing.T) {
	srv, w, data := freshInstance(t, "1")
	client := &http.Client{Timeout: 20 * time.Second}
	key := map[string]string{"X-API-Key": w.key}
	if code, out, _ := call(client, "POST", srv.url+"/api/workflows/"+w.greet+"/execute", key, map[string]any{"name": "before"}); code != 200 {
		t.Fatalf("run before the move: %d %v", code, out)
	}
	code, out, _ := call(client, "POST", srv.url+"/api/users/me/api-keys", w.session, map[string]any{"name": "revoked-before"})
	if code != http.StatusCreated {
		t.Fatalf("create key: %d %v", code, out)
	}
	revoked := out["key"].(map[string]any)
	call(client, "DELETE", srv.url+"/api/users/me/api-keys/"+revoked["id"].(string), w.session, nil)

	// A run waiting for approval, an invitation nobody has answered, a deployed schedule.
	approval, err := w.importDeploy(client, srv.url, testenv.Workflow(t, "approval.json"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = call(client, "POST", srv.url+"/api/workflows/"+approval+"/execute", key, map[string]any{"amount": 4})
	if code != 200 || out["status"] != "paused" {
		t.Fatalf("execute approval: %d %v", code, out)
	}
	pausedID := out["executionId"].(string)
	code, out, _ = call(client, "POST", srv.url+"/api/workspaces/"+w.wsID+"/invitations", w.session, map[string]any{"email": "bob@example.com", "permission": "write"})
	if code != http.StatusAccepted {
		t.Fatalf("invite: %d %v", code, out)
	}
	invID := out["invitation"].(map[string]any)["id"].(string)
	sched, err := w.importDeploy(client, srv.url, testenv.Workflow(t, "schedule-every-minute.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Listing the triggers arms the schedule (stores its fire state).
	if code, out, _ := call(client, "GET", srv.url+"/api/v1/triggers", key, nil); code != 200 || len(objs(out["data"].(map[string]any), "schedules")) != 1 {
		t.Fatalf("triggers before the move: %d %v", code, out)
	}
	stopServer(t, srv)
	if _, stderr, exit := runCLI(t, "--data-dir", data, "users", "create", "--email", "bob@example.com", "--password", "bob-password-123"); exit != 0 {
		t.Fatalf("create bob: %s", stderr)
	}
	// Fire state a rebuild from the deployed version could not produce.
	nextFire, lastFire := time.Date(2031, 1, 2, 3, 4, 0, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	ctx := context.Background()
	// An MCP app connected through OAuth, holding tokens only their digests are stored of,
	// and an agent's conversation, last updated an hour ago.
	oauthApp := newOAuthApp(t, readMasterKey(t, data))
	bst, err := bolt.Open(ctx, data, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	scheds, err := bst.Schedules(ctx)
	if err != nil || len(scheds) != 1 || scheds[0].WorkflowID != sched {
		t.Fatalf("bbolt schedules: %v %v", scheds, err)
	}
	err = bst.SyncSchedules(ctx, scheds, func(old, _ *store.Schedule) *store.Schedule {
		old.NextRunAt, old.LastRunAt, old.LastExecutionID = nextFire, &lastFire, "exec-before-the-move"
		return old
	})
	if err == nil {
		err = seedMemoryAndOAuth(ctx, bst, w.wsID, oauthApp)
	}
	if cerr := bst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	url := pgtest.URL(t)
	stdout, stderr, exit := runCLI(t, "--data-dir", data, "--json", "migrate-store", "--to", url, "--dry-run")
	if exit != 0 {
		t.Fatalf("dry run: exit %d\n%s%s", exit, stdout, stderr)
	}
	var dry struct {
		Counts []struct {
			Kind                   string
			Source, Copied, Target int
		}
		NotCopied []string
	}
	if err := json.Unmarshal([]byte(stdout), &dry); err != nil {
		t.Fatalf("dry run output: %v\n%s", err, stdout)
	}
	if len(dry.NotCopied) != 2 || !strings.Contains(dry.NotCopied[0], "sessions") || !strings.Contains(dry.NotCopied[1], "authorization codes") {
		t.Errorf("dry run says it leaves behind %q; want the dashboard sessions and OAuth codes only", dry.NotCopied)
	}
	want := map[string]int{"users": 2, "organizations": 1, "workspaces": 1, "workflows": 4, "deployed versions": 4, "API keys": 2,
		"pending invitations": 1, "paused runs": 1, "schedules": 1,
		"agent conversations": 1, "OAuth clients": 1, "OAuth grants": 1, "OAuth tokens": 3}
	for _, c := range dry.Counts {
		if n, ok := want[c.Kind]; ok && (c.Source != n || c.Copied != 0) {
			t.Errorf("dry run %s: %d to copy, %d copied; want %d and 0", c.Kind, c.Source, c.Copied, n)
		}
		delete(want, c.Kind)
		// The schedule may fire before the server stops: at least the two runs.
		if c.Kind == "executions" && c.Source < 2 {
			t.Errorf("dry run: %d executions to copy; want the greeting and the paused run at least", c.Source)
		}
		if c.Kind == "audit events" && c.Source < 2 {
			t.Errorf("dry run: %d audit events to copy; want the key's creation and revocation at least", c.Source)
		}
	}
	if len(want) > 0 {
		t.Errorf("dry run does not count %v", want)
	}

	stdout, stderr, exit = runCLI(t, "--data-dir", data, "migrate-store", "--to", url)
	if exit != 0 || !strings.Contains(stdout, "done") {
		t.Fatalf("migrate-store: exit %d\n%s%s", exit, stdout, stderr)
	}
	t.Logf("migrate-store:\n%s", stdout)
	if _, stderr, exit = runCLI(t, "--data-dir", data, "migrate-store", "--to", url); exit == 0 || !strings.Contains(stderr, "not empty") {
		t.Fatalf("second migrate-store into the same database: exit %d %s", exit, stderr)
	}

	// The schedule's fire state, read straight from the database before a server's
	// trigger sync could touch it.
	pst, err := postgres.OpenStore(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	scheds, err = pst.Schedules(ctx)
	if err != nil || len(scheds) != 1 || !scheds[0].NextRunAt.Equal(nextFire) || scheds[0].LastRunAt == nil ||
		!scheds[0].LastRunAt.Equal(lastFire) || scheds[0].LastExecutionID != "exec-before-the-move" {
		t.Fatalf("schedules on PostgreSQL: %+v %v", scheds, err)
	}
	// The conversation kept its messages and its update time (retention prunes by it).
	conv, err := pst.Conversation(ctx, w.wsID, "support-42")
	pst.Close()
	if err != nil || len(conv.Messages) != 2 || conv.Messages[1].Content != "Paris" || !conv.UpdatedAt.Equal(oauthApp.convAt) {
		t.Fatalf("conversation on PostgreSQL: %+v %v; want 2 messages updated at %v", conv, err, oauthApp.convAt)
	}

	// A replica on the database, with the data directory's master key file.
	pg := startServer(t, t.TempDir(), "--database-url", url, "--master-key", readMasterKey(t, data))
	if code, out, _ := call(client, "GET", pg.url+"/api/v1/workflows/"+w.greet, key, nil); code != 200 {
		t.Fatalf("the admin key on PostgreSQL: %d %v", code, out)
	}
	if code, _, _ := call(client, "GET", pg.url+"/api/v1/workflows/"+w.greet, map[string]string{"X-API-Key": revoked["key"].(string)}, nil); code != http.StatusUnauthorized {
		t.Fatalf("a key revoked before the move works after it: %d", code)
	}
	// The revoked key's audit trail came along.
	code, out, _ = call(client, "GET", pg.url+"/api/api-keys/"+revoked["id"].(string)+"/audit", key, nil)
	if evs, _ := out["events"].([]any); code != 200 || len(evs) < 2 {
		t.Fatalf("audit of the revoked key on PostgreSQL: %d %v", code, out)
	}
	// The MCP app's access token from before the move opens an MCP session, and its
	// refresh token rotates, on PostgreSQL.
	if code, body := oauthApp.mcpInitialize(t, pg.url, oauthApp.access); code != 200 {
		t.Fatalf("MCP with an access token issued before the move: %d %s", code, body)
	}
	code, out = oauthApp.refresh(t, pg.url, oauthApp.refreshToken)
	if code != 200 || !strings.HasPrefix(str(out, "access_token"), "seo_at_") || !strings.HasPrefix(str(out, "refresh_token"), "seo_rt_") {
		t.Fatalf("refresh with a token issued before the move: %d %v", code, out)
	}
	if code, body := oauthApp.mcpInitialize(t, pg.url, str(out, "access_token")); code != 200 {
		t.Fatalf("MCP with the access token of the refresh: %d %s", code, body)
	}
	// The refresh token rotated before the move is still known as used: presenting it
	// revokes the grant.
	if code, out := oauthApp.refresh(t, pg.url, oauthApp.rotated); code != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("a refresh token rotated before the move: %d %v", code, out)
	}
	if code, _ := oauthApp.mcpInitialize(t, pg.url, str(out, "access_token")); code != http.StatusUnauthorized {
		t.Fatalf("MCP after the grant was revoked for reuse: %d", code)
	}
	// The trigger sync at start keeps the copied fire state.
	code, out, _ = call(client, "GET", pg.url+"/api/v1/triggers", key, nil)
	if s := objs(out["data"].(map[string]any), "schedules"); code != 200 || len(s) != 1 || !strings.HasPrefix(str(s[0], "nextRunAt"), "2031-01-02T03:04") {
		t.Fatalf("triggers on PostgreSQL: %d %v", code, out)
	}
	// The run paused before the move resumes by its id after it.
	code, out, _ = call(client, "POST", pg.url+"/api/resume/"+approval+"/"+pausedID+"/approval", key,
		map[string]any{"input": map[string]any{"approved": true, "comment": "after the move"}})
	if code != 200 || out["status"] != "completed" {
		t.Fatalf("resume on PostgreSQL: %d %v", code, out)
	}
	if got := out["output"].(map[string]any)["result"]; got != "approved 8: after the move" {
		t.Fatalf("resumed result %v", got)
	}
	// The invitation is still there for bob to accept.
	bob := &crashWorld{password: "bob-password-123"}
	bob.loginAs(t, pg.url, "bob@example.com")
	if code, out, _ := call(client, "POST", pg.url+"/api/invitations/"+invID+"/accept", bob.session, nil); code != 200 {
		t.Fatalf("accept the invitation on PostgreSQL: %d %v", code, out)
	}
	if code, out, _ := call(client, "GET", pg.url+"/api/v1/workflows/"+w.greet, bob.session, nil); code != 200 {
		t.Fatalf("bob reads the workspace after accepting: %d %v", code, out)
	}
	stopServer(t, pg)
	// Another master key is refused by the database's check.
	_, stderr, exit = runCLI(t, "--data-dir", t.TempDir(), "--database-url", url, "--master-key", base64.StdEncoding.EncodeToString(make([]byte, 32)), "keys", "list")
	if exit == 0 || !strings.Contains(stderr, "another master key") {
		t.Fatalf("another master key on the migrated database: exit %d %s", exit, stderr)
	}
}

func readMasterKey(t *testing.T, data string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// oauthApp is an MCP client connected through OAuth before a move: its raw tokens, and
// the time of an agent conversation stored with it.
type oauthApp struct {
	sec                           *auth.Secrets
	clientID                      string
	access, refreshToken, rotated string
	convAt                        time.Time
}

func newOAuthApp(t *testing.T, masterKey string) *oauthApp {
	t.Helper()
	sec, err := auth.SecretsFromKey(masterKey)
	if err != nil {
		t.Fatal(err)
	}
	return &oauthApp{sec: sec, clientID: "client-before-the-move",
		access:       auth.AccessTokenPrefix + "accesstokenbeforethemove0123456789",
		refreshToken: auth.RefreshTokenPrefix + "refreshtokenbeforethemove0123456789",
		rotated:      auth.RefreshTokenPrefix + "rotatedrefreshtokenbeforethemove0123",
		convAt:       time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)}
}

func (a *oauthApp) digest(tok string) []byte { return a.sec.Digest("oauth:" + tok) }

// seedMemoryAndOAuth stores, straight into the stopped instance's bbolt files, an agent
// conversation and what an MCP app's OAuth authorization and one refresh leave behind:
// the client, the grant on wsID for the instance admin (for the MCP endpoint as reached
// at http://localhost), a live access and refresh token, and the rotated refresh token.
func seedMemoryAndOAuth(ctx context.Context, st *bolt.Store, wsID string, a *oauthApp) error {
	err := st.PutConversation(ctx, &store.Conversation{WorkspaceID: wsID, ID: "support-42", UpdatedAt: a.convAt,
		Messages: []store.MemoryMessage{{Role: "user", Content: "Capital of France?"}, {Role: "assistant", Content: "Paris"}}})
	if err != nil {
		return err
	}
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	var admin string
	for _, u := range users {
		if u.InstanceAdmin {
			admin = u.ID
		}
	}
	now := time.Now().UTC()
	if err := st.CreateOAuthClient(ctx, &store.OAuthClient{ID: a.clientID, Name: "Desktop app",
		RedirectURIs: []string{"http://127.0.0.1:7777/cb"}, CreatedAt: now, LastUsedAt: now}, time.Time{}); err != nil {
		return err
	}
	rotatedAt := now.Add(-time.Minute)
	g := &store.OAuthGrant{ID: store.NewID(), ClientID: a.clientID, ClientName: "Desktop app", RedirectHost: "127.0.0.1:7777",
		UserID: admin, WorkspaceID: wsID, Level: store.LevelWrite, Resource: "http://localhost/mcp",
		CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(30 * 24 * time.Hour)}
	return st.PutOAuthGrant(ctx, g,
		&store.OAuthToken{Digest: a.digest(a.access), ExpiresAt: now.Add(time.Hour)},
		&store.OAuthToken{Digest: a.digest(a.refreshToken), Refresh: true, ExpiresAt: g.ExpiresAt},
		&store.OAuthToken{Digest: a.digest(a.rotated), Refresh: true, ExpiresAt: g.ExpiresAt, RotatedAt: &rotatedAt})
}

// mcpInitialize opens an MCP session at base with an OAuth access token, naming the
// host the grant's resource names.
func (a *oauthApp) mcpInitialize(t *testing.T, base, token string) (int, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	req, err := http.NewRequest("POST", base+"/mcp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "localhost"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// refresh exchanges a refresh token at base's token endpoint.
func (a *oauthApp) refresh(t *testing.T, base, token string) (int, map[string]any) {
	t.Helper()
	form := "grant_type=refresh_token&client_id=" + a.clientID + "&refresh_token=" + token
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Post(base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
