package mcp_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// sessionReq sends one MCP HTTP request with a key and a session id.
func sessionReq(t *testing.T, method, url, key, sid, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	req.Header.Set("X-API-Key", key)
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2e9)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // a GET stream ends with the context
	return resp.StatusCode, string(b)
}

// An MCP session belongs to the key that opened it: another key presenting its id —
// even one that may use the same endpoint and tools — gets 404 and nothing from it.
func TestSessionBoundToItsKey(t *testing.T) {
	e := testenv.New(t)
	url := e.URL + "/mcp"
	resp := rawInit(t, url, e.WSKey, nil)
	resp.Body.Close()
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize: %d, session %q", resp.StatusCode, sid)
	}
	const list = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	if st, body := sessionReq(t, "POST", url, e.WSKey, sid, list); st != 200 || !strings.Contains(body, `"echo"`) {
		t.Fatalf("owner's tools/list: %d %s", st, body)
	}
	for name, key := range map[string]string{"admin key": e.AdminKey, "org key": e.OrgKey, "same workspace key": e.WSReadKey} {
		for _, m := range []struct{ method, body string }{{"POST", list}, {"GET", ""}, {"DELETE", ""}} {
			st, body := sessionReq(t, m.method, url, key, sid, m.body)
			if st != 404 || strings.Contains(body, "echo") || !strings.Contains(body, `"session_not_found"`) {
				t.Errorf("%s %s on another key's session: %d %s", name, m.method, st, body)
			}
		}
	}
	// The owner's session survived the attempts to end it.
	if st, body := sessionReq(t, "POST", url, e.WSKey, sid, list); st != 200 || !strings.Contains(body, `"echo"`) {
		t.Fatalf("owner after foreign DELETE: %d %s", st, body)
	}
	// Ids nobody opened, and ids from another endpoint, do not exist either.
	if st, _ := sessionReq(t, "POST", url, e.WSKey, "mcp-session-made-up", list); st != 404 {
		t.Errorf("made-up session: %d", st)
	}
	m := &store.MCPServer{WorkspaceID: e.WS.ID, Name: "s", WorkflowIDs: []string{e.Echo.ID}}
	if err := e.App.Service.CreateMCPServer(context.Background(), auth.Operator(), m); err != nil {
		t.Fatal(err)
	}
	if st, _ := sessionReq(t, "POST", e.URL+"/api/mcp/serve/"+m.ID, e.WSKey, sid, list); st != 404 {
		t.Errorf("/mcp session on a server object endpoint: %d", st)
	}
	// The owner ends it; then it is gone for the owner too.
	if st, _ := sessionReq(t, "DELETE", url, e.WSKey, sid, ""); st != 200 {
		t.Fatalf("owner DELETE: %d", st)
	}
	if st, _ := sessionReq(t, "POST", url, e.WSKey, sid, list); st != 404 {
		t.Errorf("ended session: %d", st)
	}

	// A real client keeps working across requests on its own session.
	c := connect(t, url, e.WSKey)
	for range 3 {
		if _, err := c.ListTools(context.Background(), mcp.ListToolsRequest{}); err != nil {
			t.Fatal(err)
		}
	}
}
