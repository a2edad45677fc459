package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// fakeOpenAI answers chat completions from a script and records the requests.
type fakeOpenAI struct {
	srv     *httptest.Server
	mu      sync.Mutex
	bodies  []map[string]any
	auth    []string
	replies []map[string]any
	next    int // index into replies of the next answer
}

// script replaces the replies still to come.
func (f *fakeOpenAI) script(replies ...map[string]any) {
	f.mu.Lock()
	f.replies, f.next = replies, 0
	f.mu.Unlock()
}

func newFakeOpenAI(t *testing.T, replies ...map[string]any) *fakeOpenAI {
	f := &fakeOpenAI{replies: replies}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if r.URL.Path != "/v1/chat/completions" || json.Unmarshal(raw, &body) != nil {
			http.Error(w, "bad request", 400)
			return
		}
		f.mu.Lock()
		f.bodies = append(f.bodies, body)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		rep := f.replies[min(f.next, len(f.replies)-1)]
		f.next++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) requests() ([]map[string]any, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.bodies...), append([]string(nil), f.auth...)
}

func chatText(s string) map[string]any {
	return map[string]any{"model": "gpt-4o", "choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": s}}},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 2}}
}

func chatTools(calls ...[2]string) map[string]any {
	var tc []any
	for i, c := range calls {
		tc = append(tc, map[string]any{"id": "call_" + string(rune('a'+i)), "type": "function", "function": map[string]any{"name": c[0], "arguments": c[1]}})
	}
	return map[string]any{"model": "gpt-4o", "choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "tool_calls": tc}}},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 2}}
}

// simAgentExport is a Sim export: start → agent with the given tools → nothing else.
func simAgentExport(name string, agentParams map[string]any) []byte {
	sub := map[string]any{}
	for k, v := range agentParams {
		sub[k] = map[string]any{"id": k, "type": "short-input", "value": v}
	}
	doc := map[string]any{"version": "1.0", "exportedAt": "2026-01-01T00:00:00Z", "state": map[string]any{
		"blocks": map[string]any{
			"start": map[string]any{"id": "start", "type": "start_trigger", "name": "Start", "position": map[string]any{"x": 0, "y": 0}, "enabled": true,
				"subBlocks": map[string]any{"inputFormat": map[string]any{"id": "inputFormat", "type": "input-format",
					"value": []any{map[string]any{"id": "f1", "name": "question", "type": "string"}}}}, "outputs": map[string]any{}, "data": map[string]any{}},
			"agent": map[string]any{"id": "agent", "type": "agent", "name": "Agent", "position": map[string]any{"x": 300, "y": 0}, "enabled": true,
				"subBlocks": sub, "outputs": map[string]any{}, "data": map[string]any{}},
		},
		"edges":     []any{map[string]any{"id": "e1", "source": "start", "target": "agent", "sourceHandle": "source", "targetHandle": "target"}},
		"loops":     map[string]any{},
		"parallels": map[string]any{},
		"variables": map[string]any{},
		"metadata":  map[string]any{"name": name},
	}}
	b, _ := json.Marshal(doc)
	return b
}

func TestModelProvidersAndAgentOverHTTP(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.AllowLoopback = true }})
	admin := mgKey(t, e, e.AdminKey)
	base := "/api/workspaces/" + e.WS.ID + "/model-providers"
	const secret = "sk-live-provider-0123456789"

	// Tool round, then the answer; the provider test call gets the answer too.
	fake := newFakeOpenAI(t,
		chatText("OK"),
		chatTools([2]string{"workflow_executor_" + e.Echo.ID, `{"inputMapping":{"message":"hi","count":2}}`}, [2]string{"custom_Shout", `{"text":"hey"}`}),
		chatText("all done"))

	for _, k := range []string{e.MemberKey, e.WSKey, e.WSReadKey, e.OutsiderKey} {
		mgKey(t, e, k).want(403, "", "POST", base, map[string]any{"name": "openai", "kind": "openai", "baseUrl": fake.srv.URL + "/v1", "apiKey": secret})
	}
	admin.want(400, "invalid_provider", "POST", base, map[string]any{"name": "x", "kind": "gemini"})
	admin.want(400, "invalid_provider", "POST", base, map[string]any{"name": "a/b", "kind": "openai"})
	admin.want(400, "invalid_provider", "POST", base, map[string]any{"name": "x", "kind": "openai", "baseUrl": "ftp://host"})
	m := admin.want(201, "", "POST", base, map[string]any{"name": "openai", "kind": "openai", "baseUrl": fake.srv.URL + "/v1", "apiKey": secret,
		"defaultModel": "gpt-4o", "models": []string{"gpt-*"}, "isDefault": true})
	prov := mgObj(m, "provider")
	if prov["hasApiKey"] != true || prov["isDefault"] != true || prov["kind"] != "openai" {
		t.Fatalf("created %v", m)
	}
	admin.want(409, "conflict", "POST", base, map[string]any{"name": "OpenAI", "kind": "openai"})
	for _, k := range []string{e.AdminKey, e.WSReadKey, e.MemberKey} {
		_, raw := xraw(t, e, "GET", base, k, "", nil)
		if !strings.Contains(string(raw), `"name":"openai"`) || strings.Contains(string(raw), secret) || strings.Contains(string(raw), "keySealed") {
			t.Fatalf("list: %s", raw)
		}
	}
	mgKey(t, e, e.OutsiderKey).want(403, "", "GET", base, nil)
	mgKey(t, e, e.WSKey).want(403, "", "POST", base+"/openai/test", nil)
	tr := admin.want(200, "", "POST", base+"/"+prov["id"].(string)+"/test", map[string]any{})
	if tr["ok"] != true || tr["model"] != "gpt-4o" {
		t.Fatalf("test: %v", tr)
	}

	// A Sim agent with a workflow tool (Echo, same workspace) and a custom tool.
	tools := []any{
		map[string]any{"type": "workflow_input", "title": "Echo", "params": map[string]any{"workflowId": e.Echo.ID}},
		map[string]any{"type": "custom-tool", "title": "Shout", "code": "return text.toUpperCase()",
			"schema": map[string]any{"type": "function", "function": map[string]any{"name": "shout", "description": "upper-cases",
				"parameters": map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}}}}},
	}
	doc := simAgentExport("Agent flow", map[string]any{"messages": []any{map[string]any{"role": "user", "content": "<start.question>"}}, "model": "gpt-4o", "tools": tools})
	ctx := context.Background()
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	res := xwant(t, e, 200, "", "POST", execPath(wf.ID), e.WSKey, map[string]any{"question": "go"}, nil)
	out := xobj(t, res, "output")
	if res["success"] != true || out["content"] != "all done" {
		t.Fatalf("execute: %v", res)
	}
	calls := xobj(t, out, "toolCalls")["list"].([]any)
	echo := calls[0].(map[string]any)["result"].(map[string]any)
	if len(calls) != 2 || echo["childWorkflowName"] != "Echo" || calls[1].(map[string]any)["result"] != "HEY" {
		t.Fatalf("tool calls %v", calls)
	}
	reqs, auths := fake.requests()
	if len(reqs) != 3 || auths[1] != "Bearer "+secret {
		t.Fatalf("%d requests, auth %v", len(reqs), auths)
	}
	second, _ := json.Marshal(reqs[2]["messages"])
	if !strings.Contains(string(second), `\"message\":\"hi\"`) || !strings.Contains(string(second), `\"count\":2`) {
		t.Fatalf("tool results sent back: %s", second)
	}
	// The key never reaches the logs.
	execID, _ := res["executionId"].(string)
	_, raw := xraw(t, e, "GET", "/api/v1/logs/"+execID, e.AdminKey, "", nil)
	if strings.Contains(string(raw), secret) {
		t.Fatal("provider key in the execution log")
	}

	// Remove: the agent then fails with a message naming the missing configuration.
	mgKey(t, e, e.MemberKey).want(403, "", "DELETE", base+"/openai", nil)
	admin.want(200, "", "DELETE", base+"/openai", nil)
	admin.want(404, "", "DELETE", base+"/openai", nil)
	res = xwant(t, e, 500, "", "POST", execPath(wf.ID), e.WSKey, map[string]any{"question": "go"}, nil) // a failed run: 500, as Sim
	if res["success"] != false || !strings.Contains(res["error"].(string), "steelengine providers add") {
		t.Fatalf("without a provider: %v", res)
	}
}

func TestDeployRefusesUnsupportedAgentTools(t *testing.T) {
	e := testenv.New(t)
	doc := simAgentExport("Slack agent", map[string]any{"userPrompt": "x", "tools": []any{map[string]any{"type": "slack", "title": "Send Slack"}}})
	m := mgKey(t, e, e.AdminKey).want(201, "", "POST", "/api/v1/workflows/import?workspaceId="+e.WS.ID, doc)
	id := mgObj(m, "data")["id"].(string)
	_, raw := xraw(t, e, "POST", "/api/v1/workflows/"+id+"/deploy", e.AdminKey, "", nil)
	if !strings.Contains(string(raw), "unsupported_blocks") || !strings.Contains(string(raw), `\"Send Slack\" (type \"slack\")`) || !strings.Contains(string(raw), `"blockName":"Agent"`) {
		t.Fatalf("deploy: %s", raw)
	}
}

func TestChildWorkflowInAnotherWorkspaceRefused(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	other, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.OtherWS.ID, testenv.Workflow(t, "echo.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), other.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{"version": "1.0", "state": map[string]any{
		"blocks": map[string]any{
			"start": map[string]any{"id": "start", "type": "start_trigger", "name": "Start", "position": map[string]any{"x": 0, "y": 0}, "enabled": true, "subBlocks": map[string]any{}},
			"child": map[string]any{"id": "child", "type": "workflow", "name": "Child", "position": map[string]any{"x": 0, "y": 0}, "enabled": true,
				"subBlocks": map[string]any{"workflowId": map[string]any{"id": "workflowId", "value": other.ID},
					"inputMapping": map[string]any{"id": "inputMapping", "value": `{"message":"x"}`}}}},
		"edges": []any{map[string]any{"id": "e1", "source": "start", "target": "child", "sourceHandle": "source"}}, "metadata": map[string]any{"name": "Parent"}}})
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	// The workspace key may not execute the other workspace's workflow.
	res := xwant(t, e, 500, "", "POST", execPath(wf.ID), e.WSKey, map[string]any{}, nil) // a failed run: 500, as Sim
	if res["success"] != false || !strings.Contains(res["error"].(string), "not found or not executable") {
		t.Fatalf("cross-workspace child: %v", res)
	}
	// A same-workspace child runs, and its trace nests under the parent's block.
	doc = []byte(strings.ReplaceAll(string(doc), other.ID, e.Echo.ID))
	wf2, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf2.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	res = xwant(t, e, 200, "", "POST", execPath(wf2.ID), e.WSKey, map[string]any{}, nil)
	out := xobj(t, res, "output")
	if res["success"] != true || out["childWorkflowName"] != "Echo" || xobj(t, out, "result")["result"].(map[string]any)["message"] != "x" {
		t.Fatalf("same-workspace child: %v", res)
	}
	execID, _ := res["executionId"].(string)
	_, raw := xraw(t, e, "GET", "/api/v1/logs/"+execID, e.AdminKey, "", nil)
	// The child's block spans are the workflow block span's children, as in Sim
	// (lib/logs/execution/trace-spans/span-factory.ts attachChildWorkflowSpans).
	var lg struct {
		Data struct {
			ExecutionData struct {
				TraceSpans []any `json:"traceSpans"`
			} `json:"executionData"`
		} `json:"data"`
	}
	_ = json.Unmarshal(raw, &lg)
	child := spanOf(lg.Data.ExecutionData.TraceSpans, "child")
	kids, _ := child["children"].([]any)
	if child == nil || len(kids) != 2 || kids[1].(map[string]any)["blockId"] != "echo" || child["childWorkflowId"] == nil {
		t.Fatalf("trace not nested: %s", raw)
	}
}

// TestAgentMemoryOverHTTP: two runs with the same conversationId; the second sends
// the first run's turns to the model (memory kept in the store per workspace).
func TestAgentMemoryOverHTTP(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.AllowLoopback = true }})
	fake := newFakeOpenAI(t, chatText("Nice to meet you, Ada"), chatText("You are Ada"))
	ctx := context.Background()
	if _, err := e.App.Service.AddModelProvider(ctx, auth.Operator(), e.WS.ID, core.ModelProviderInput{Name: "fake", Kind: "openai",
		BaseURL: fake.srv.URL + "/v1", DefaultModel: "gpt-4o"}); err != nil {
		t.Fatal(err)
	}
	doc := simAgentExport("Chat", map[string]any{"messages": []any{map[string]any{"role": "user", "content": "<start.question>"}},
		"memoryType": "conversation", "conversationId": "<start.question>"})
	// The conversation id comes from the caller: use a fixed one instead.
	doc = []byte(strings.Replace(string(doc), `"conversationId","type":"short-input","value":"\u003cstart.question\u003e"`, `"conversationId","type":"short-input","value":"chat-42"`, 1))
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"I am Ada", "Who am I?"} {
		if res := xwant(t, e, 200, "", "POST", execPath(wf.ID), e.WSKey, map[string]any{"question": q}, nil); res["success"] != true {
			t.Fatalf("%q: %v", q, res)
		}
	}
	reqs, _ := fake.requests()
	second, _ := json.Marshal(reqs[1]["messages"])
	want := `[{"content":"I am Ada","role":"user"},{"content":"Nice to meet you, Ada","role":"assistant"},{"content":"Who am I?","role":"user"}]`
	if string(second) != want {
		t.Fatalf("second run sent %s", second)
	}
}
