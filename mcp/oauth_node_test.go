package mcp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
)

// TestTypeScriptSDKOAuth: the official MCP TypeScript SDK's client, with its OAuth
// provider interface and nothing configured but the /mcp URL, finds the authorization
// server from the 401, registers, has the user consent to one workflow, gets tokens,
// lists and calls exactly that tool — and is refused once the user disconnects it.
func TestTypeScriptSDKOAuth(t *testing.T) {
	dir := nodeDir(t)
	e := testenv.New(t)
	sess := signIn(t, e, e.Member.Email, e.AdminPassword)
	consent, _ := json.Marshal(map[string]any{"workspace": e.WS.ID, "workflow_scope": "chosen", "workflow": []string{e.WS.ID + "/" + e.Echo.ID},
		"level": "write", "decision": "allow"})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "oauth_client.mjs", e.URL+"/mcp", "echo", `{"message":"over oauth"}`)
	cmd.Dir = dir
	cmd.Env = append(nodeEnv(dir), "SE_COOKIE="+sess.cookie.Name+"="+sess.cookie.Value, "SE_CSRF="+sess.csrf, "SE_CONSENT="+string(consent))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	readLine := func(v any) {
		t.Helper()
		if !lines.Scan() {
			cmd.Wait()
			t.Fatalf("oauth_client.mjs ended early: %s", stderr.String())
		}
		if err := json.Unmarshal(lines.Bytes(), v); err != nil {
			t.Fatalf("oauth_client.mjs output %q: %v\n%s", lines.Text(), err, stderr.String())
		}
	}
	var first struct {
		Registered  bool     `json:"registered"`
		PKCE        string   `json:"pkce"`
		Resource    string   `json:"resource"`
		TokenPrefix string   `json:"tokenPrefix"`
		Tools       []string `json:"tools"`
		IsError     bool     `json:"isError"`
		Text        string   `json:"text"`
	}
	readLine(&first)
	if !first.Registered || first.PKCE != "S256" || first.Resource != e.URL+"/mcp" || first.TokenPrefix != "seo_at_" ||
		strings.Join(first.Tools, ",") != "echo" || first.IsError || !strings.Contains(first.Text, "over oauth") {
		t.Fatalf("first connection: %+v\n%s", first, stderr.String())
	}

	// The user disconnects the app.
	st, apps := httpJSON(t, e, "", sess, "GET", "/api/users/me/connected-apps", nil)
	list, _ := apps["connectedApps"].([]any)
	if st != 200 || len(list) != 1 || list[0].(map[string]any)["clientName"] != "SDK test client" {
		t.Fatalf("connected apps: %d %v", st, apps)
	}
	if st, _ := httpJSON(t, e, "", sess, "DELETE", "/api/users/me/connected-apps/"+list[0].(map[string]any)["id"].(string), nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	stdin.Write([]byte("revoked\n"))
	var second struct {
		AfterRevoke string `json:"afterRevoke"`
		Reconnect   string `json:"reconnect"`
	}
	readLine(&second)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("oauth_client.mjs: %v\n%s", err, stderr.String())
	}
	if second.AfterRevoke != "refused" || second.Reconnect != "refused" {
		t.Fatalf("after revocation: %+v\n%s", second, stderr.String())
	}
}
