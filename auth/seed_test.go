package auth

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

// One test per sentence of the SteelEngine authentication seed, by name.

type world struct {
	*testEnv
	admin, member, other *store.User
	org                  *store.Org
	ws, otherWS          *store.Workspace
	wf1, wf2, otherWF    *store.Workflow
}

func newWorld(t *testing.T) *world {
	e := newEnv(t)
	w := &world{testEnv: e}
	ctx := context.Background()
	w.admin, w.member, w.other = e.user(t, "admin@x.io"), e.user(t, "member@x.io"), e.user(t, "other@x.io")
	w.org = &store.Org{Name: "acme"}
	e.must(t, e.st.CreateOrg(ctx, w.org, w.admin.ID))
	w.ws = e.workspace(t, "main", w.admin.ID, w.org.ID)
	w.otherWS = e.workspace(t, "side", w.other.ID, "")
	e.must(t, e.st.SetWorkspaceMember(ctx, w.ws.ID, w.member.ID, store.LevelWrite))
	w.wf1, w.wf2 = e.workflow(t, w.ws.ID, "one"), e.workflow(t, w.ws.ID, "two")
	w.otherWF = e.workflow(t, w.otherWS.ID, "three")
	return w
}

type accessCase struct {
	name   string
	target Target
	need   store.Level
	want   string
}

func (w *world) expectAll(t *testing.T, key string, cases []accessCase) {
	t.Helper()
	for _, c := range cases {
		if got := w.check(t, key, c.target, c.need); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestPersonalKeyFollowsMembership(t *testing.T) {
	w := newWorld(t)
	key, _ := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.member.ID})
	w.expectAll(t, key, []accessCase{
		{"read own workspace", WorkspaceTarget(w.ws.ID), store.LevelRead, ""},
		{"execute workflow", WorkflowTarget(w.wf1.ID), store.LevelWrite, ""},
		{"deploy needs admin", WorkflowTarget(w.wf1.ID), store.LevelAdmin, "forbidden"},
		{"foreign workspace", WorkspaceTarget(w.otherWS.ID), store.LevelRead, "forbidden"},
		{"foreign workflow", WorkflowTarget(w.otherWF.ID), store.LevelRead, "forbidden"},
		{"unknown workflow", WorkflowTarget("nope"), store.LevelRead, "not_found"},
	})
	// Removing the user from the workspace cuts access on the next request.
	w.must(t, w.st.RemoveWorkspaceMember(context.Background(), w.ws.ID, w.member.ID))
	w.expectAll(t, key, []accessCase{{"after removal", WorkflowTarget(w.wf1.ID), store.LevelRead, "forbidden"}})
}

func TestPersonalKeysDisabledByWorkspaceAdmin(t *testing.T) {
	w := newWorld(t)
	key, _ := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.member.ID})
	wsKey, _ := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID})
	if got := w.check(t, key, WorkflowTarget(w.wf1.ID), store.LevelWrite); got != "" {
		t.Fatalf("before: %q", got)
	}
	_, err := w.st.UpdateWorkspace(context.Background(), w.ws.ID, func(ws *store.Workspace) error { ws.AllowPersonalKeys = false; return nil })
	w.must(t, err)
	w.expectAll(t, key, []accessCase{{"personal key", WorkflowTarget(w.wf1.ID), store.LevelRead, "personal_keys_disabled"}})
	// "only workspace and organization keys can be used"
	w.expectAll(t, wsKey, []accessCase{{"workspace key", WorkflowTarget(w.wf1.ID), store.LevelWrite, ""}})
}

func TestWorkspaceKeyScopedToItsWorkspace(t *testing.T) {
	w := newWorld(t)
	def, k := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID})
	if k.Level != store.LevelWrite {
		t.Fatalf("default level %q, want write", k.Level)
	}
	read, _ := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, Level: store.LevelRead})
	w.expectAll(t, def, []accessCase{
		{"execute", WorkflowTarget(w.wf2.ID), store.LevelWrite, ""},
		{"admin", WorkflowTarget(w.wf2.ID), store.LevelAdmin, "forbidden"},
		{"other workspace", WorkflowTarget(w.otherWF.ID), store.LevelRead, "forbidden"},
	})
	w.expectAll(t, read, []accessCase{
		{"read", WorkflowTarget(w.wf2.ID), store.LevelRead, ""},
		{"execute", WorkflowTarget(w.wf2.ID), store.LevelWrite, "forbidden"},
	})
}

func TestWorkspaceKeyNarrowedToWorkflows(t *testing.T) {
	w := newWorld(t)
	key, _ := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, Workflows: []string{w.wf1.ID}})
	w.expectAll(t, key, []accessCase{
		{"listed workflow", WorkflowTarget(w.wf1.ID), store.LevelWrite, ""},
		{"unlisted workflow", WorkflowTarget(w.wf2.ID), store.LevelRead, "forbidden"},
		{"whole workspace", WorkspaceTarget(w.ws.ID), store.LevelRead, "forbidden"},
	})
	// Narrowing to another workspace's workflow is refused at creation.
	_, _, err := w.r.CreateKey(context.Background(), Operator(), CreateKeyRequest{Type: store.KeyWorkspace, Name: "x", WorkspaceID: w.ws.ID, Workflows: []string{w.otherWF.ID}})
	if err == nil {
		t.Fatal("narrowing to a foreign workflow was accepted")
	}
}

func TestOrgKeyPerGrantLevels(t *testing.T) {
	w := newWorld(t)
	key, _ := w.key(t, CreateKeyRequest{Type: store.KeyOrganization, OrgID: w.org.ID, Grants: []store.Grant{
		{TargetType: store.TargetWorkspace, TargetID: w.ws.ID, Level: store.LevelRead},
		{TargetType: store.TargetWorkflow, TargetID: w.wf1.ID, Level: store.LevelAdmin},
	}})
	w.expectAll(t, key, []accessCase{
		{"workspace read", WorkspaceTarget(w.ws.ID), store.LevelRead, ""},
		{"workspace write", WorkspaceTarget(w.ws.ID), store.LevelWrite, "forbidden"},
		{"granted workflow: highest grant", WorkflowTarget(w.wf1.ID), store.LevelAdmin, ""},
		{"other workflow: workspace grant", WorkflowTarget(w.wf2.ID), store.LevelRead, ""},
		{"other workflow write", WorkflowTarget(w.wf2.ID), store.LevelWrite, "forbidden"},
		{"outside grants", WorkflowTarget(w.otherWF.ID), store.LevelRead, "forbidden"},
	})
}

func TestOrgKeyNeedsGrantsInsideItsOrg(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	cases := map[string][]store.Grant{
		"no grants":          nil,
		"foreign workspace":  {{TargetType: store.TargetWorkspace, TargetID: w.otherWS.ID, Level: store.LevelRead}},
		"foreign workflow":   {{TargetType: store.TargetWorkflow, TargetID: w.otherWF.ID, Level: store.LevelRead}},
		"bad level":          {{TargetType: store.TargetWorkspace, TargetID: w.ws.ID, Level: "owner"}},
		"unknown target":     {{TargetType: store.TargetWorkflow, TargetID: "nope", Level: store.LevelRead}},
		"unknown targettype": {{TargetType: "org", TargetID: w.org.ID, Level: store.LevelRead}},
	}
	for name, grants := range cases {
		if _, _, err := w.r.CreateKey(ctx, Operator(), CreateKeyRequest{Type: store.KeyOrganization, Name: name, OrgID: w.org.ID, Grants: grants}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOrgKeyLosesWorkspaceThatLeavesOrg(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	key, k := w.key(t, CreateKeyRequest{Type: store.KeyOrganization, OrgID: w.org.ID, Grants: []store.Grant{
		{TargetType: store.TargetWorkspace, TargetID: w.ws.ID, Level: store.LevelWrite},
		{TargetType: store.TargetWorkflow, TargetID: w.wf1.ID, Level: store.LevelAdmin},
	}})
	if got := w.check(t, key, WorkflowTarget(w.wf1.ID), store.LevelAdmin); got != "" {
		t.Fatalf("before leaving: %q", got)
	}
	_, err := w.st.UpdateWorkspace(ctx, w.ws.ID, func(ws *store.Workspace) error { ws.OrgID = ""; return nil })
	w.must(t, err)
	w.expectAll(t, key, []accessCase{
		{"workspace", WorkspaceTarget(w.ws.ID), store.LevelRead, "forbidden"},
		{"workflow", WorkflowTarget(w.wf1.ID), store.LevelRead, "forbidden"},
	})
	// The grants are gone, so re-joining does not bring access back by itself.
	_, err = w.st.UpdateWorkspace(ctx, w.ws.ID, func(ws *store.Workspace) error { ws.OrgID = w.org.ID; return nil })
	w.must(t, err)
	w.expectAll(t, key, []accessCase{{"after re-joining", WorkflowTarget(w.wf1.ID), store.LevelRead, "forbidden"}})
	got, err := w.st.GetKey(ctx, k.ID)
	w.must(t, err)
	if len(got.Grants) != 0 {
		t.Fatalf("grants survived leaving the org: %+v", got.Grants)
	}
}

func TestInvalidKeysAre401WithOneMessage(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	good, _ := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.member.ID})
	revoked, rk := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.member.ID})
	_, err := w.r.RevokeKey(ctx, Operator(), rk.ID)
	w.must(t, err)
	expired, _ := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.member.ID, ExpiresIn: time.Minute})
	rotated, ok := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.member.ID})
	_, _, err = w.r.RotateKey(ctx, Operator(), ok.ID, time.Minute)
	w.must(t, err)
	w.clk.Advance(2 * time.Minute)
	unknown, _ := NewKey()
	cases := map[string]string{
		"missing": "", "malformed": "sk-steelengine-short", "bad checksum": good[:len(good)-1] + flipChar(good[len(good)-1]),
		"unknown": unknown, "revoked": revoked, "expired": expired, "rotated past grace": rotated,
		"other prefix": "sk-sim-" + good[len(KeyPrefix):],
	}
	for name, key := range cases {
		_, err := w.r.Resolve(ctx, key, "127.0.0.1", TransportHTTP)
		ae, ok := err.(*Error)
		if !ok || ae.Status != 401 || ae.Code != "invalid_api_key" || ae.Message != InvalidKeyMessage {
			t.Errorf("%s: got %#v", name, err)
		}
	}
	if _, err := w.r.Resolve(ctx, good, "127.0.0.1", TransportHTTP); err != nil {
		t.Fatalf("good key: %v", err)
	}
}

func flipChar(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestRevocationTakesEffectOnNextRequest(t *testing.T) {
	w := newWorld(t)
	key, k := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID})
	for range 3 { // warm every cache
		if got := w.check(t, key, WorkflowTarget(w.wf1.ID), store.LevelWrite); got != "" {
			t.Fatal(got)
		}
	}
	_, err := w.r.RevokeKey(context.Background(), Operator(), k.ID)
	w.must(t, err)
	if got := w.check(t, key, WorkflowTarget(w.wf1.ID), store.LevelWrite); got != "invalid_api_key" {
		t.Fatalf("after revoke: %q", got)
	}
}

func TestRotationGraceWindow(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	old, k := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, Level: store.LevelRead})
	fresh, nk, err := w.r.RotateKey(ctx, Operator(), k.ID, time.Hour)
	w.must(t, err)
	if nk.Level != store.LevelRead || fresh == old {
		t.Fatalf("successor %+v", nk)
	}
	for _, key := range []string{old, fresh} {
		if got := w.check(t, key, WorkspaceTarget(w.ws.ID), store.LevelRead); got != "" {
			t.Fatalf("during grace: %q", got)
		}
	}
	w.clk.Advance(time.Hour)
	if got := w.check(t, old, WorkspaceTarget(w.ws.ID), store.LevelRead); got != "invalid_api_key" {
		t.Fatalf("old key after grace: %q", got)
	}
	if got := w.check(t, fresh, WorkspaceTarget(w.ws.ID), store.LevelRead); got != "" {
		t.Fatalf("new key after grace: %q", got)
	}
	// Grace 0 stops the old key at once.
	old2, k2 := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID})
	_, _, err = w.r.RotateKey(ctx, Operator(), k2.ID, 0)
	w.must(t, err)
	if got := w.check(t, old2, WorkspaceTarget(w.ws.ID), store.LevelRead); got != "invalid_api_key" {
		t.Fatalf("grace 0: %q", got)
	}
}

func TestKeyShownOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	plain, k := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.member.ID, Name: "laptop"})
	if !strings.HasPrefix(plain, KeyPrefix) || len(plain) != KeyLen {
		t.Fatalf("key %q", plain)
	}
	keys, err := w.r.Keys(ctx, Operator(), store.KeyFilter{UserID: w.member.ID})
	w.must(t, err)
	if len(keys) != 1 || keys[0].ID != k.ID {
		t.Fatalf("list %+v", keys)
	}
	if got := DisplayKey(keys[0]); got != KeyPrefix+"…"+plain[len(plain)-4:] {
		t.Fatalf("display %q", got)
	}
	// Nothing in the stored record reveals the key: only digest, ciphertext and suffix.
	rec := keys[0]
	for _, b := range [][]byte{rec.Digest, rec.Ciphertext, []byte(rec.Name), []byte(rec.Suffix)} {
		if bytes.Contains(b, []byte(plain)) || bytes.Contains(b, []byte(plain[len(KeyPrefix):])) {
			t.Fatal("stored record contains the key")
		}
	}
	// The ciphertext opens to the key only with its own id as associated data.
	got, err := w.sec.Open(rec.ID, rec.Ciphertext)
	w.must(t, err)
	if string(got) != plain {
		t.Fatal("ciphertext does not hold the key")
	}
	if _, err := w.sec.Open("other-id", rec.Ciphertext); err == nil {
		t.Fatal("ciphertext opened under another key id")
	}
}

func TestKeyNotStoredInPlaintext(t *testing.T) {
	w := newWorld(t)
	var keys []string
	for i := range 5 {
		k, _ := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, Name: "k" + string(rune('a'+i))})
		keys = append(keys, k)
	}
	w.r.Close(context.Background())
	w.must(t, w.st.Close())
	files, err := filepath.Glob(filepath.Join(w.dir, "*"))
	w.must(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		w.must(t, err)
		for _, k := range keys {
			if bytes.Contains(b, []byte(k[len(KeyPrefix):len(KeyPrefix)+20])) {
				t.Fatalf("%s contains key material of %s", filepath.Base(f), k[:20])
			}
		}
	}
}

func TestDuplicateKeyNameConflicts(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, Name: "ci"})
	_, _, err := w.r.CreateKey(ctx, Operator(), CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, Name: "ci"})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate name: %v", err)
	}
	for _, name := range []string{"", strings.Repeat("x", 101)} {
		if _, _, err := w.r.CreateKey(ctx, Operator(), CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, Name: name}); err == nil {
			t.Errorf("name of %d chars accepted", len(name))
		}
	}
}

func TestWhoManagesKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	session := func(u *store.User) *Principal { return &Principal{UserID: u.ID, Session: true} }
	cases := []struct {
		name  string
		actor *Principal
		req   CreateKeyRequest
		ok    bool
	}{
		{"user creates own personal key", session(w.member), CreateKeyRequest{Type: store.KeyPersonal, UserID: w.member.ID}, true},
		{"user creates someone else's personal key", session(w.member), CreateKeyRequest{Type: store.KeyPersonal, UserID: w.admin.ID}, false},
		{"workspace admin creates workspace key", session(w.admin), CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID}, true},
		{"writer cannot create workspace key", session(w.member), CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID}, false},
		{"org owner creates org key", session(w.admin), CreateKeyRequest{Type: store.KeyOrganization, OrgID: w.org.ID, Grants: []store.Grant{{TargetType: store.TargetWorkspace, TargetID: w.ws.ID, Level: store.LevelRead}}}, true},
		{"non-member cannot create org key", session(w.other), CreateKeyRequest{Type: store.KeyOrganization, OrgID: w.org.ID, Grants: []store.Grant{{TargetType: store.TargetWorkspace, TargetID: w.ws.ID, Level: store.LevelRead}}}, false},
	}
	for i, c := range cases {
		c.req.Name = "k" + string(rune('a'+i))
		_, _, err := w.r.CreateKey(ctx, c.actor, c.req)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
	// Org admins (not plain members) manage org keys.
	w.must(t, w.st.SetOrgMember(ctx, w.org.ID, w.member.ID, store.RoleMember))
	_, _, err := w.r.CreateKey(ctx, session(w.member), CreateKeyRequest{Type: store.KeyOrganization, Name: "m", OrgID: w.org.ID, Grants: []store.Grant{{TargetType: store.TargetWorkspace, TargetID: w.ws.ID, Level: store.LevelRead}}})
	if err == nil {
		t.Fatal("org member created an org key")
	}
	w.must(t, w.st.SetOrgMember(ctx, w.org.ID, w.member.ID, store.RoleAdmin))
	_, _, err = w.r.CreateKey(ctx, session(w.member), CreateKeyRequest{Type: store.KeyOrganization, Name: "m", OrgID: w.org.ID, Grants: []store.Grant{{TargetType: store.TargetWorkspace, TargetID: w.ws.ID, Level: store.LevelRead}}})
	w.must(t, err)
}

func TestDisabledOwnerStopsPersonalKeys(t *testing.T) {
	w := newWorld(t)
	key, _ := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.member.ID})
	_, err := w.st.DisableUser(context.Background(), w.member.ID, true)
	w.must(t, err)
	if got := w.check(t, key, WorkspaceTarget(w.ws.ID), store.LevelRead); got != "invalid_api_key" {
		t.Fatalf("disabled owner: %q", got)
	}
}

func TestIPAllowlist(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	key, _ := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, AllowedCIDRs: []string{"10.0.0.0/8", "192.0.2.7"}})
	for ip, ok := range map[string]bool{"10.1.2.3": true, "192.0.2.7": true, "192.0.2.8": false, "127.0.0.1": false, "": false, "::ffff:10.0.0.1": true} {
		_, err := w.r.Resolve(ctx, key, ip, TransportHTTP)
		if (err == nil) != ok {
			t.Errorf("ip %q: err = %v", ip, err)
		}
	}
	if _, _, err := w.r.CreateKey(ctx, Operator(), CreateKeyRequest{Type: store.KeyWorkspace, Name: "bad", WorkspaceID: w.ws.ID, AllowedCIDRs: []string{"not-an-ip"}}); err == nil {
		t.Fatal("bad CIDR accepted")
	}
}

func TestRateLimit(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	key, _ := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, RateLimit: 3})
	for i := range 3 {
		p, err := w.r.Resolve(ctx, key, "127.0.0.1", TransportHTTP)
		w.must(t, err)
		if p.Rate.Limit != 3 || p.Rate.Remaining != 2-i {
			t.Fatalf("request %d: rate %+v", i, p.Rate)
		}
	}
	_, err := w.r.Resolve(ctx, key, "127.0.0.1", TransportHTTP)
	ae, ok := err.(*Error)
	if !ok || ae.Status != 429 || ae.RetryAfter < time.Second {
		t.Fatalf("4th request: %#v", err)
	}
	w.clk.Advance(20 * time.Second) // one token back at 3/minute
	if _, err := w.r.Resolve(ctx, key, "127.0.0.1", TransportHTTP); err != nil {
		t.Fatalf("after refill: %v", err)
	}
}

func TestExpiryRespectsMaximumLifetime(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, err := w.st.UpdateWorkspace(ctx, w.ws.ID, func(ws *store.Workspace) error { ws.MaxKeyLifetime = 24 * time.Hour; return nil })
	w.must(t, err)
	_, k := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID})
	if k.ExpiresAt == nil || k.ExpiresAt.Sub(w.clk.Now()) != 24*time.Hour {
		t.Fatalf("default expiry %v", k.ExpiresAt)
	}
	if _, _, err := w.r.CreateKey(ctx, Operator(), CreateKeyRequest{Type: store.KeyWorkspace, Name: "long", WorkspaceID: w.ws.ID, ExpiresIn: 48 * time.Hour}); err == nil {
		t.Fatal("expiry beyond maximum accepted")
	}
}

func TestLastUsedFlushedInBatch(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	key, k := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID})
	epoch := w.st.AuthEpoch()
	_, err := w.r.Resolve(ctx, key, "127.0.0.1", TransportMCP)
	w.must(t, err)
	got, _ := w.st.GetKey(ctx, k.ID)
	if got.LastUsedAt != nil {
		t.Fatal("last-used written on the request path")
	}
	w.must(t, w.r.Flush(ctx))
	got, _ = w.st.GetKey(ctx, k.ID)
	if got.LastUsedAt == nil || got.LastUsedVia != TransportMCP {
		t.Fatalf("after flush: %+v", got)
	}
	if w.st.AuthEpoch() != epoch {
		t.Fatal("last-used flush invalidated the auth caches")
	}
}

func TestDenialsAudited(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	key, k := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID})
	_, err := w.r.RevokeKey(ctx, Operator(), k.ID)
	w.must(t, err)
	w.r.Resolve(ctx, key, "203.0.113.9", TransportHTTP)
	evs, err := w.r.KeyAudit(ctx, Operator(), k.ID, 10)
	w.must(t, err)
	var actions []string
	for _, e := range evs {
		actions = append(actions, e.Action+":"+e.Reason)
	}
	joined := strings.Join(actions, ",")
	for _, want := range []string{"created:", "revoked:", "denied:revoked"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit %v lacks %s", actions, want)
		}
	}
}

func TestWrongMasterKeyRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSecrets(dir, ""); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, masterKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", fi, err)
	}
	if _, err := LoadSecrets(dir, ""); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	other := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if _, err := LoadSecrets(dir, other); err != ErrWrongMasterKey {
		t.Fatalf("wrong env key: %v", err)
	}
	os.Remove(filepath.Join(dir, masterKeyFile))
	if _, err := LoadSecrets(dir, ""); err == nil || !strings.Contains(err.Error(), "master key missing") {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := LoadSecrets(t.TempDir(), "bm90LTMyLWJ5dGVz"); err == nil {
		t.Fatal("short env key accepted")
	}
}

func TestCancelOwnRunsOnly(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	writer, wk := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID})
	admin, _ := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID, Level: store.LevelAdmin})
	other, _ := w.key(t, CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: w.ws.ID})
	resolve := func(k string) *Principal {
		p, err := w.r.Resolve(ctx, k, "127.0.0.1", TransportHTTP)
		w.must(t, err)
		return p
	}
	if err := w.az.AuthorizeCancel(ctx, resolve(writer), w.wf1.ID, wk.ID, ""); err != nil {
		t.Fatalf("own run: %v", err)
	}
	if err := w.az.AuthorizeCancel(ctx, resolve(other), w.wf1.ID, wk.ID, ""); err == nil {
		t.Fatal("writer cancelled another key's run")
	}
	if err := w.az.AuthorizeCancel(ctx, resolve(admin), w.wf1.ID, wk.ID, ""); err != nil {
		t.Fatalf("admin: %v", err)
	}
}

func TestPersonalKeyCannotMintKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	key, _ := w.key(t, CreateKeyRequest{Type: store.KeyPersonal, UserID: w.admin.ID})
	p, err := w.r.Resolve(ctx, key, "127.0.0.1", TransportHTTP)
	w.must(t, err)
	if _, _, err := w.r.CreateKey(ctx, p, CreateKeyRequest{Type: store.KeyPersonal, Name: "n", UserID: w.admin.ID}); err == nil {
		t.Fatal("personal key minted a personal key")
	}
	session := &Principal{UserID: w.admin.ID, Session: true}
	if _, _, err := w.r.CreateKey(ctx, session, CreateKeyRequest{Type: store.KeyPersonal, Name: "n", UserID: w.admin.ID}); err != nil {
		t.Fatalf("session: %v", err)
	}
}
