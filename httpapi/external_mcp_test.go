package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// TestAgentCallsExternalMCPTool: an external MCP server (mcp-go, streamable HTTP,
// bearer token) is configured over the API; an agent's "mcp" tool calls it and the
// result goes back to the model.
func TestAgentCallsExternalMCPTool(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.AllowLoopback = true }})
	const token = "calc-7f3a9e2b41"
	ms := server.NewMCPServer("calc", "1.0")
	ms.AddTool(mcp.NewTool("add", mcp.WithDescription("adds two numbers"), mcp.WithNumber("a"), mcp.WithNumber("b")),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(fmt.Sprint(req.GetFloat("a", 0) + req.GetFloat("b", 0))), nil
		})
	type authKey struct{}
	// A careless server echoes the caller's credentials; the run's logs must not.
	ms.AddTool(mcp.NewTool("whoami"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("you sent " + fmt.Sprint(ctx.Value(authKey{}))), nil
	})
	streamable := server.NewStreamableHTTPServer(ms, server.WithHTTPContextFunc(func(ctx context.Context, r *http.Request) context.Context {
		return context.WithValue(ctx, authKey{}, r.Header.Get("X-Calc-Key"))
	}))
	mcpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Calc-Key") != token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		streamable.ServeHTTP(w, r)
	}))
	defer mcpSrv.Close()

	admin := mgKey(t, e, e.AdminKey)
	base := "/api/workspaces/" + e.WS.ID + "/external-mcp-servers"
	mgKey(t, e, e.WSKey).want(403, "", "POST", base, map[string]any{"name": "calc", "url": mcpSrv.URL + "/mcp"})
	m := admin.want(201, "", "POST", base, map[string]any{"name": "calc", "url": mcpSrv.URL + "/mcp", "headers": map[string]string{"X-Calc-Key": token}})
	if s := mgObj(m, "server"); s["headerNames"].([]any)[0] != "X-Calc-Key" {
		t.Fatalf("created %v", m)
	}
	_, raw := xraw(t, e, "GET", base, e.WSReadKey, "", nil)
	if strings.Contains(string(raw), token) || !strings.Contains(string(raw), `"name":"calc"`) {
		t.Fatalf("list %s", raw)
	}

	fake := newFakeOpenAI(t, chatTools([2]string{"mcp-calc-add", `{"a":2,"b":3}`}), chatText("the sum is 5"))
	ctx := context.Background()
	if _, err := e.App.Service.AddModelProvider(ctx, auth.Operator(), e.WS.ID, core.ModelProviderInput{Name: "fake", Kind: "openai",
		BaseURL: fake.srv.URL + "/v1", DefaultModel: "gpt-4o"}); err != nil {
		t.Fatal(err)
	}
	tools := []any{map[string]any{"type": "mcp", "title": "add", "params": map[string]any{"serverId": "calc", "toolName": "add", "serverName": "Calculator"},
		"schema": map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"type": "number"}, "b": map[string]any{"type": "number"}}}}}
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, simAgentExport("MCP agent", map[string]any{"userPrompt": "add 2 and 3", "tools": tools}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	res := xwant(t, e, 200, "", "POST", execPath(wf.ID), e.WSKey, map[string]any{}, nil)
	out := xobj(t, res, "output")
	call := xobj(t, out, "toolCalls")["list"].([]any)[0].(map[string]any)
	if res["success"] != true || out["content"] != "the sum is 5" || call["result"] != "5" || call["success"] != true {
		t.Fatalf("run %v", res)
	}
	reqs, _ := fake.requests()
	first, _ := json.Marshal(reqs[0]["tools"])
	second, _ := json.Marshal(reqs[1]["messages"])
	if !strings.Contains(string(first), `"name":"mcp-calc-add"`) || !strings.Contains(string(first), "MCP tool add from Calculator") ||
		!strings.Contains(string(second), `"content":"\"5\""`) {
		t.Fatalf("tools %s\nmessages %s", first, second)
	}
	// Header values are secrets of the run: an echo of them is masked in the log.
	who := []any{map[string]any{"type": "mcp", "title": "whoami", "params": map[string]any{"serverId": "calc", "toolName": "whoami"}}}
	wf2, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, simAgentExport("Who agent", map[string]any{"userPrompt": "who", "tools": who}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf2.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	fake.script(chatTools([2]string{"mcp-calc-whoami", `{}`}), chatText("ok"))
	res = xwant(t, e, 200, "", "POST", execPath(wf2.ID), e.WSKey, map[string]any{}, nil)
	execID, _ := res["executionId"].(string)
	_, raw = xraw(t, e, "GET", "/api/v1/logs/"+execID, e.AdminKey, "", nil)
	if res["success"] != true || !strings.Contains(string(raw), "you sent") || strings.Contains(string(raw), token) {
		t.Fatalf("log %s", raw)
	}
	fake.script(chatTools([2]string{"mcp-calc-add", `{"a":1,"b":1}`}), chatText("could not"))

	// Removed: the model is told the tool failed.
	admin.want(200, "", "DELETE", base+"/calc", nil)
	admin.want(404, "", "DELETE", base+"/calc", nil)
	res = xwant(t, e, 200, "", "POST", execPath(wf.ID), e.WSKey, map[string]any{}, nil)
	call = xobj(t, xobj(t, res, "output"), "toolCalls")["list"].([]any)[0].(map[string]any)
	if call["success"] != false || !strings.Contains(fmt.Sprint(call["error"]), "not configured in this workspace") {
		t.Fatalf("after remove %v", call)
	}
}
