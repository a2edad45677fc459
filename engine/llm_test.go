package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/engine/netguard"
	"github.com/steelengine/steelengine/engine/sandbox"
)

// fakeProvider is an OpenAI-compatible or Anthropic endpoint that records every
// request and answers from a script (one entry per request; the last one repeats).
type fakeProvider struct {
	t      *testing.T
	kind   string
	key    string
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []map[string]any
	script []fakeReply
}

type fakeReply struct {
	status int
	header map[string]string
	body   string
}

func newFakeProvider(t *testing.T, kind, key string, script ...fakeReply) *fakeProvider {
	f := &fakeProvider{t: t, kind: kind, key: key, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wantPath, authOK := "/v1/chat/completions", r.Header.Get("Authorization") == "Bearer "+key
		if kind == ProviderAnthropic {
			wantPath, authOK = "/v1/messages", r.Header.Get("x-api-key") == key && r.Header.Get("anthropic-version") != ""
		}
		if r.URL.Path != wantPath || !authOK {
			http.Error(w, `{"error":{"message":"bad path or key"}}`, http.StatusUnauthorized)
			return
		}
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		n := len(f.reqs)
		rep := f.script[min(n, len(f.script))-1]
		f.mu.Unlock()
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		if rep.status == 0 {
			rep.status = 200
		}
		w.WriteHeader(rep.status)
		_, _ = w.Write([]byte(rep.body))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvider) requests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.reqs...)
}

func (f *fakeProvider) resolver() ModelResolver {
	base := f.srv.URL + "/v1"
	if f.kind == ProviderAnthropic {
		base = f.srv.URL
	}
	return func(_ context.Context, model string) (*ModelEndpoint, error) {
		if model == "" {
			model = "default-model"
		}
		return &ModelEndpoint{Provider: "fake", Kind: f.kind, BaseURL: base, APIKey: f.key, Model: model}, nil
	}
}

func oaiText(content string) fakeReply {
	b, _ := json.Marshal(map[string]any{"model": "gpt-4o", "choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": content}}},
		"usage": map[string]any{"prompt_tokens": 1000, "completion_tokens": 100}})
	return fakeReply{body: string(b)}
}

func oaiTools(calls ...[2]string) fakeReply {
	var tc []any
	for i, c := range calls {
		tc = append(tc, map[string]any{"id": fmt.Sprintf("call_%d", i), "type": "function", "function": map[string]any{"name": c[0], "arguments": c[1]}})
	}
	b, _ := json.Marshal(map[string]any{"model": "gpt-4o", "choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": nil, "tool_calls": tc}}},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 5}})
	return fakeReply{body: string(b)}
}

func anthText(content string) fakeReply {
	b, _ := json.Marshal(map[string]any{"model": "claude-sonnet-4-5", "content": []any{map[string]any{"type": "text", "text": content}},
		"usage": map[string]any{"input_tokens": 1000, "output_tokens": 100}})
	return fakeReply{body: string(b)}
}

func anthTool(id, name string, input map[string]any) fakeReply {
	b, _ := json.Marshal(map[string]any{"model": "claude-sonnet-4-5", "content": []any{map[string]any{"type": "text", "text": "calling"},
		map[string]any{"type": "tool_use", "id": id, "name": name, "input": input}}, "usage": map[string]any{"input_tokens": 10, "output_tokens": 5}})
	return fakeReply{body: string(b)}
}

func loopback() *http.Client { return netguard.NewClient(netguard.Options{AllowLoopback: true}) }

func agentWF(params map[string]any) *wfBuilder {
	b := newWF()
	return startBlock(b, map[string]any{"name": "q", "type": "string"}).
		block("ag", TypeAgent, "Agent 1", params, nil).edge("start", "ag", "")
}

func TestAgentStructuredOutputDrivesCondition(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "sk-test-1234", oaiText(`{"sentiment":"positive","score":0.9}`))
	b := agentWF(map[string]any{
		"messages":       []any{map[string]any{"role": "system", "content": "classify"}, map[string]any{"role": "user", "content": "Text: <start.q>"}},
		"model":          "gpt-4o",
		"temperature":    0.2,
		"maxTokens":      "256",
		"responseFormat": `{"name":"sentiment","schema":{"type":"object","properties":{"sentiment":{"type":"string"},"score":{"type":"number"}},"required":["sentiment"]}}`,
	})
	b.block("cond", TypeCondition, "Check", map[string]any{"conditions": `[{"id":"c-if","title":"if","value":"<agent1.sentiment> === 'positive'"},{"id":"c-else","title":"else","value":""}]`}, nil).
		fn("pos", "Pos", "return 'yes ' + <agent1.score>").fn("neg", "Neg", "return 'no'").
		edge("ag", "cond", "").edge("cond", "pos", "condition-c-if").edge("cond", "neg", "condition-c-else")
	res := b.plan(t).Run(context.Background(), RunInput{Input: map[string]any{"q": "great"}, Sandbox: sandbox.NewInProcess(), HTTPClient: loopback(), Models: fp.resolver()})
	if !res.Success || res.Output["result"] != "yes 0.9" {
		t.Fatalf("run: %s / %s", res.Error, mustJSON(res.Output))
	}
	reqs := fp.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r["model"] != "gpt-4o" || r["temperature"] != 0.2 || r["max_tokens"] != float64(256) {
		t.Errorf("request params: %s", mustJSON(r))
	}
	if mustJSON(r["messages"]) != `[{"content":"classify","role":"system"},{"content":"Text: great","role":"user"}]` {
		t.Errorf("messages: %s", mustJSON(r["messages"]))
	}
	rf, _ := r["response_format"].(map[string]any)
	js, _ := rf["json_schema"].(map[string]any)
	if rf["type"] != "json_schema" || js["name"] != "sentiment" || !strings.Contains(mustJSON(js["schema"]), `"sentiment"`) {
		t.Errorf("response_format: %s", mustJSON(rf))
	}
	out := res.BlockOutputs["ag"]
	if out["sentiment"] != "positive" || out["content"] != nil {
		t.Errorf("structured output not spread: %s", mustJSON(out))
	}
	if mustJSON(out["tokens"]) != `{"input":1000,"output":100,"total":1100}` {
		t.Errorf("tokens %s", mustJSON(out["tokens"]))
	}
	// gpt-4o: $2.5 / $10 per million tokens.
	if c := out["cost"].(map[string]any); fmt.Sprintf("%.4f", c["total"]) != "0.0035" {
		t.Errorf("cost %s", mustJSON(c))
	}
	if pt, _ := out["providerTiming"].(map[string]any); pt["iterations"] != float64(1) {
		t.Errorf("providerTiming %s", mustJSON(pt))
	}
	for _, l := range res.BlockLogs {
		if strings.Contains(mustJSON(l), "sk-test-1234") {
			t.Error("provider key in logs")
		}
	}
}

func TestAgentMalformedStructuredReplyIsBlockError(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "k-1", oaiText(`sure! here you go`))
	b := agentWF(map[string]any{"userPrompt": "hi", "model": "gpt-4o", "responseFormat": `{"type":"object","properties":{"a":{"type":"string"}}}`})
	res := b.plan(t).Run(context.Background(), RunInput{HTTPClient: loopback(), Models: fp.resolver()})
	if res.Success || !strings.Contains(res.Error, "not a JSON object matching the response format") {
		t.Fatalf("want a clear block error, got success=%v %q", res.Success, res.Error)
	}
}

func TestAgentMalformedProviderJSON(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "k-1", fakeReply{body: `{"choices": [`})
	res := agentWF(map[string]any{"userPrompt": "hi"}).plan(t).Run(context.Background(), RunInput{HTTPClient: loopback(), Models: fp.resolver()})
	if res.Success || !strings.Contains(res.Error, "model provider fake: response is not valid JSON") {
		t.Fatalf("got %v %q", res.Success, res.Error)
	}
}

// Two rounds: the model calls a workflow tool and a custom tool, gets both results,
// then answers.
func TestAgentWorkflowAndCustomToolsTwoRounds(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "k-1",
		oaiTools([2]string{"workflow_executor_child-1", `{"inputMapping":{"city":"Oslo"}}`}, [2]string{"custom_Add_Numbers", `{"a":2,"b":3}`}),
		oaiText("It is 5 degrees and 2+3=5"))
	var childReq ChildRequest
	children := func(_ context.Context, req ChildRequest) (*ChildRun, error) {
		childReq = req
		return &ChildRun{Name: "Weather", Result: &Result{Success: true, Output: map[string]any{"temp": float64(5)},
			TraceSpans: []TraceSpan{{ID: "c1", Name: "Lookup", Type: "function", Status: "success"}}}}, nil
	}
	tools := []any{
		map[string]any{"type": "workflow_input", "title": "Weather", "params": map[string]any{"workflowId": "child-1"}, "usageControl": "auto"},
		map[string]any{"type": "custom-tool", "title": "Add Numbers", "code": "return a + b + (params.offset || 0)",
			"schema": map[string]any{"type": "function", "function": map[string]any{"name": "add", "description": "adds",
				"parameters": map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"type": "number"}, "b": map[string]any{"type": "number"}},
					"required": []any{"a", "b"}}}}},
		map[string]any{"type": "api", "title": "unused", "usageControl": "none"},
	}
	b := agentWF(map[string]any{"systemPrompt": "helpful", "userPrompt": "<start.q>", "model": "gpt-4o", "tools": tools})
	res := b.plan(t).Run(context.Background(), RunInput{Input: map[string]any{"q": "weather?"}, Sandbox: sandbox.NewInProcess(), HTTPClient: loopback(),
		Models: fp.resolver(), Children: children, Deployed: true})
	if !res.Success {
		t.Fatalf("run: %s", res.Error)
	}
	out := res.BlockOutputs["ag"]
	if out["content"] != "It is 5 degrees and 2+3=5" {
		t.Errorf("content %v", out["content"])
	}
	if childReq.WorkflowID != "child-1" || childReq.Input["city"] != "Oslo" || len(childReq.Via) != 0 || !childReq.Deployed {
		t.Errorf("child request %+v", childReq)
	}
	tc := out["toolCalls"].(map[string]any)
	list := tc["list"].([]any)
	if tc["count"] != float64(2) || len(list) != 2 {
		t.Fatalf("toolCalls %s", mustJSON(tc))
	}
	wfCall, addCall := list[0].(map[string]any), list[1].(map[string]any)
	if wfCall["name"] != "workflow_executor_child-1" || mustJSON(wfCall["result"].(map[string]any)["result"]) != `{"temp":5}` {
		t.Errorf("workflow call %s", mustJSON(wfCall))
	}
	if addCall["name"] != "Add_Numbers" || mustJSON(addCall["result"]) != "5" || addCall["success"] != true {
		t.Errorf("custom call %s", mustJSON(addCall))
	}
	reqs := fp.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests", len(reqs))
	}
	first := mustJSON(reqs[0]["tools"])
	if strings.Count(first, `"type":"function"`) != 2 || !strings.Contains(first, `"name":"custom_Add_Numbers"`) || strings.Contains(first, "http_request") {
		t.Errorf("tools sent: %s", first)
	}
	msgs := reqs[1]["messages"].([]any)
	if len(msgs) != 5 {
		t.Fatalf("second round messages: %s", mustJSON(msgs))
	}
	asst, tool1, tool2 := msgs[2].(map[string]any), msgs[3].(map[string]any), msgs[4].(map[string]any)
	if asst["role"] != "assistant" || len(asst["tool_calls"].([]any)) != 2 {
		t.Errorf("assistant turn %s", mustJSON(asst))
	}
	if tool1["role"] != "tool" || tool1["tool_call_id"] != "call_0" || !strings.Contains(tool1["content"].(string), `"temp":5`) {
		t.Errorf("tool result 1 %s", mustJSON(tool1))
	}
	if tool2["tool_call_id"] != "call_1" || tool2["content"] != "5" {
		t.Errorf("tool result 2 %s", mustJSON(tool2))
	}
	// The agent's span has a "model" child per model call and a "tool" child per tool
	// call, from its time segments (Sim's span-factory.ts buildChildrenFromTimeSegments);
	// the child workflow's spans sit under its tool span.
	agentSpan := findSpan(res.TraceSpans, "ag")
	if agentSpan == nil || len(agentSpan.Children) != 4 {
		t.Fatalf("agent span %s", mustJSON(agentSpan))
	}
	m0, t1, t2, m3 := agentSpan.Children[0], agentSpan.Children[1], agentSpan.Children[2], agentSpan.Children[3]
	if m0.Type != "model" || m0.ID != agentSpan.ID+"-segment-0" || len(m0.ModelToolCalls) != 2 || m0.Tokens == nil || m0.Tokens.Total != 15 {
		t.Errorf("first model span %s", mustJSON(m0))
	}
	if t1.Type != "tool" || t1.ToolCallID != "call_0" || len(t1.Children) != 1 || t1.Children[0].Name != "Lookup" {
		t.Errorf("workflow tool span %s", mustJSON(t1))
	}
	if t2.Type != "tool" || t2.Name != "Add_Numbers" || fmt.Sprint(t2.Output["value"]) != "5" || t2.Input["a"] == nil {
		t.Errorf("custom tool span %s", mustJSON(t2))
	}
	if m3.Type != "model" || m3.Output["content"] == nil || !m3.EndTime.Equal(agentSpan.EndTime) {
		t.Errorf("last model span %s", mustJSON(m3))
	}
}

func TestAgentAnthropicToolLoop(t *testing.T) {
	fp := newFakeProvider(t, ProviderAnthropic, "ant-key-1", anthTool("tu_1", "custom_Echo", map[string]any{"text": "hi"}), anthText(`{"answer":"hi back"}`))
	tools := []any{map[string]any{"type": "custom-tool", "title": "Echo", "code": "return text.toUpperCase()",
		"schema": map[string]any{"function": map[string]any{"name": "echo", "parameters": map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}}}}}}
	b := agentWF(map[string]any{"messages": []any{map[string]any{"role": "system", "content": "sys"}, map[string]any{"role": "user", "content": "say hi"}},
		"model": "claude-sonnet-4-5", "tools": tools, "responseFormat": `{"schema":{"type":"object","properties":{"answer":{"type":"string"}}}}`})
	res := b.plan(t).Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess(), HTTPClient: loopback(), Models: fp.resolver()})
	if !res.Success || res.BlockOutputs["ag"]["answer"] != "hi back" {
		t.Fatalf("run: %s %s", res.Error, mustJSON(res.BlockOutputs["ag"]))
	}
	reqs := fp.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	r0 := reqs[0]
	if r0["max_tokens"] != float64(defaultAnthropicMaxTokens) || !strings.HasPrefix(r0["system"].(string), "sys") ||
		!strings.Contains(r0["system"].(string), "JSON schema") || !strings.Contains(mustJSON(r0["tools"]), `"input_schema"`) {
		t.Errorf("first request %s", mustJSON(r0))
	}
	msgs := reqs[1]["messages"].([]any)
	last := mustJSON(msgs[len(msgs)-1])
	if !strings.Contains(last, `"type":"tool_result"`) || !strings.Contains(last, `"tool_use_id":"tu_1"`) || !strings.Contains(last, `"\"HI\""`) {
		t.Errorf("tool result turn %s", last)
	}
	if mustJSON(res.BlockOutputs["ag"]["tokens"]) != `{"input":1010,"output":105,"total":1115}` {
		t.Errorf("tokens %s", mustJSON(res.BlockOutputs["ag"]["tokens"]))
	}
}

func TestAgentHTTPToolThroughSSRFGuard(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true,"q":"` + r.URL.Query().Get("q") + `"}`))
	}))
	defer target.Close()
	fp := newFakeProvider(t, ProviderOpenAI, "k-1", oaiTools([2]string{"http_request", `{"url":"` + target.URL + `","params":{"q":"x"}}`}), oaiText("done"))
	b := agentWF(map[string]any{"userPrompt": "fetch", "tools": []any{map[string]any{"type": "api", "title": "HTTP"}}})
	// Loopback allowed: the tool reaches the target.
	res := b.plan(t).Run(context.Background(), RunInput{HTTPClient: loopback(), Models: fp.resolver()})
	call := res.BlockOutputs["ag"]["toolCalls"].(map[string]any)["list"].([]any)[0].(map[string]any)
	if !res.Success || call["success"] != true || !strings.Contains(mustJSON(call["result"]), `"q":"x"`) {
		t.Fatalf("run %s call %s", res.Error, mustJSON(call))
	}
	// The default guard refuses loopback; the model sees the refusal as a tool error. The
	// provider itself is reached through a separate loopback-allowed client here.
	fp2 := newFakeProvider(t, ProviderOpenAI, "k-1", oaiTools([2]string{"http_request", `{"url":"` + target.URL + `"}`}), oaiText("done"))
	guarded := netguard.NewClient(netguard.Options{})
	res = b.plan(t).Run(context.Background(), RunInput{HTTPClient: &http.Client{Transport: splitTransport{provider: fp2.srv.URL, allow: loopback(), deny: guarded}}, Models: fp2.resolver()})
	call = res.BlockOutputs["ag"]["toolCalls"].(map[string]any)["list"].([]any)[0].(map[string]any)
	if !res.Success || call["success"] != false || !strings.Contains(toStr(call["error"]), "refused") {
		t.Fatalf("guarded run %s call %s", res.Error, mustJSON(call))
	}
}

// splitTransport lets the fake provider through and sends everything else to deny.
type splitTransport struct {
	provider    string
	allow, deny *http.Client
}

func (s splitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.String(), s.provider) {
		return s.allow.Transport.RoundTrip(r)
	}
	return s.deny.Transport.RoundTrip(r)
}

func TestProviderRetriesHonourRetryAfter(t *testing.T) {
	old := llmBackoff
	llmBackoff = time.Millisecond
	defer func() { llmBackoff = old }()
	fp := newFakeProvider(t, ProviderOpenAI, "k-1",
		fakeReply{status: 429, header: map[string]string{"Retry-After": "1"}, body: `{"error":{"message":"slow down"}}`},
		fakeReply{status: 503, body: `upstream down`},
		oaiText("ok"))
	start := time.Now()
	res := agentWF(map[string]any{"userPrompt": "hi"}).plan(t).Run(context.Background(), RunInput{HTTPClient: loopback(), Models: fp.resolver()})
	if !res.Success || res.BlockOutputs["ag"]["content"] != "ok" || len(fp.requests()) != 3 {
		t.Fatalf("run %s, %d requests", res.Error, len(fp.requests()))
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("Retry-After not honoured: retried after %s", d)
	}
}

func TestProviderErrorTextWithoutKey(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "sk-secret-999", fakeReply{status: 400, body: `{"error":{"message":"Invalid model 'nope' for key sk-secret-999"}}`})
	res := agentWF(map[string]any{"userPrompt": "hi", "model": "nope"}).plan(t).Run(context.Background(), RunInput{HTTPClient: loopback(), Models: fp.resolver()})
	if res.Success || !strings.Contains(res.Error, "Invalid model 'nope'") || strings.Contains(res.Error, "sk-secret-999") {
		t.Fatalf("error %q", res.Error)
	}
	if len(fp.requests()) != 1 {
		t.Errorf("a 400 was retried: %d requests", len(fp.requests()))
	}
}

func TestBlockAPIKeyWins(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "block-key", oaiText("ok"))
	res := agentWF(map[string]any{"userPrompt": "hi", "apiKey": "block-key"}).plan(t).Run(context.Background(), RunInput{HTTPClient: loopback(),
		Models: func(ctx context.Context, m string) (*ModelEndpoint, error) {
			ep, _ := fp.resolver()(ctx, m)
			ep.APIKey = "workspace-key"
			return ep, nil
		}})
	if !res.Success {
		t.Fatalf("block apiKey did not win: %s", res.Error)
	}
}

func TestCancellationReachesProviderCall(t *testing.T) {
	hit := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client going away
		hit <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-hit; cancel() }()
	start := time.Now()
	res := agentWF(map[string]any{"userPrompt": "hi"}).plan(t).Run(ctx, RunInput{HTTPClient: loopback(),
		Models: func(context.Context, string) (*ModelEndpoint, error) {
			return &ModelEndpoint{Provider: "slow", Kind: ProviderOpenAI, BaseURL: srv.URL, Model: "m"}, nil
		}})
	if res.Success || res.ErrorCode != CodeCancelled || time.Since(start) > 5*time.Second {
		t.Fatalf("code %q error %q after %s", res.ErrorCode, res.Error, time.Since(start))
	}
}

func TestNoProviderConfigured(t *testing.T) {
	res := agentWF(map[string]any{"userPrompt": "hi"}).plan(t).Run(context.Background(), RunInput{})
	if res.Success || !strings.Contains(res.Error, "steelengine providers add") {
		t.Fatalf("error %q", res.Error)
	}
}

func TestRouterV2RoutesAndNoMatch(t *testing.T) {
	build := func() *wfBuilder {
		b := newWF()
		return startBlock(b, map[string]any{"name": "q", "type": "string"}).
			block("rt", TypeRouterV2, "Route", map[string]any{"context": "<start.q>", "model": "gpt-4o", "routes": []any{
				map[string]any{"id": "r-billing", "title": "Billing", "value": "invoices and payments"},
				map[string]any{"id": "r-tech", "title": "Tech", "value": "bugs"}}}, nil).
			fn("bill", "Bill", "return 'billing'").fn("tech", "Tech", "return 'tech'").fn("err", "Err", "return 'fallback'").
			edge("start", "rt", "").edge("rt", "bill", "router-r-billing").edge("rt", "tech", "router-r-tech").edge("rt", "err", "error")
	}
	for _, tc := range []struct {
		reply, want, route string
	}{
		{`{"route":"r-billing","reasoning":"money"}`, "billing", "r-billing"},
		{`{"route":"r-tech","reasoning":"bug"}`, "tech", "r-tech"},
		{`{"route":"NO_MATCH","reasoning":"weather"}`, "fallback", ""},
	} {
		fp := newFakeProvider(t, ProviderOpenAI, "k-1", oaiText(tc.reply))
		res := build().plan(t).Run(context.Background(), RunInput{Input: map[string]any{"q": "help"}, Sandbox: sandbox.NewInProcess(), HTTPClient: loopback(), Models: fp.resolver()})
		if !res.Success || res.Output["result"] != tc.want {
			t.Fatalf("%s: %s %s", tc.reply, res.Error, mustJSON(res.Output))
		}
		out := res.BlockOutputs["rt"]
		if tc.route != "" && (out["selectedRoute"] != tc.route || out["reasoning"] == "" || out["context"] != "help") {
			t.Errorf("router output %s", mustJSON(out))
		}
		if tc.route == "" && !strings.Contains(toStr(out["error"]), "Router could not determine a matching route: weather") {
			t.Errorf("NO_MATCH output %s", mustJSON(out))
		}
		req := fp.requests()[0]
		sys := req["messages"].([]any)[0].(map[string]any)["content"].(string)
		if !strings.Contains(sys, "ID: r-billing\nDescription: invoices and payments") || req["temperature"] != 0.1 ||
			!strings.Contains(mustJSON(req["response_format"]), "router_response") {
			t.Errorf("router request %s", mustJSON(req))
		}
	}
}

func TestLegacyRouterPicksConnectedBlock(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "k-1", oaiText("b-two"))
	b := newWF()
	startBlock(b).block("rt", TypeRouter, "Router", map[string]any{"prompt": "second please"}, nil).
		fn("b-one", "One", "return 1").fn("b-two", "Two", "return 2").
		edge("start", "rt", "").edge("rt", "b-one", "").edge("rt", "b-two", "")
	res := b.plan(t).Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess(), HTTPClient: loopback(), Models: fp.resolver()})
	if !res.Success || mustJSON(res.Output["result"]) != "2" || res.BlockOutputs["rt"]["selectedRoute"] != "b-two" {
		t.Fatalf("%s %s", res.Error, mustJSON(res.BlockOutputs["rt"]))
	}
	if !strings.Contains(mustJSON(fp.requests()[0]), "ID: b-one") {
		t.Error("targets not in the prompt")
	}
}

func TestEvaluatorScores(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "k-1", oaiText("Scores: {\"accuracy\": 8, \"Clarity\": 6.5}"))
	b := newWF()
	startBlock(b).block("ev", TypeEvaluator, "Eval", map[string]any{"content": "The sky is blue.", "metrics": []any{
		map[string]any{"name": "Accuracy", "description": "factual", "range": map[string]any{"min": 0, "max": 10}},
		map[string]any{"name": "Clarity", "description": "clear", "range": map[string]any{"min": 0, "max": 10}},
		map[string]any{"name": "Tone", "description": "tone", "range": map[string]any{"min": 1, "max": 5}}}}, nil).edge("start", "ev", "")
	res := b.plan(t).Run(context.Background(), RunInput{HTTPClient: loopback(), Models: fp.resolver()})
	out := res.BlockOutputs["ev"]
	if !res.Success || out["accuracy"] != float64(8) || out["clarity"] != 6.5 || out["tone"] != float64(0) || out["content"] != "The sky is blue." {
		t.Fatalf("%s %s", res.Error, mustJSON(out))
	}
	req := fp.requests()[0]
	if s := mustJSON(req); !strings.Contains(s, `\"Accuracy\" (0-10): factual`) || !strings.Contains(s, "evaluation_response") {
		t.Errorf("evaluator request %s", s)
	}
}

func TestWorkflowBlockChildAndDepth(t *testing.T) {
	b := newWF()
	startBlock(b, map[string]any{"name": "n", "type": "number"}).
		block("wf", TypeWorkflow, "Child", map[string]any{"workflowId": "kid", "inputMapping": `{"x": <start.n>}`}, nil).
		fn("after", "After", "return <child.result.doubled>").
		edge("start", "wf", "").edge("wf", "after", "source")
	var got ChildRequest
	children := func(_ context.Context, req ChildRequest) (*ChildRun, error) {
		got = req
		x, _ := toNumber(req.Input["x"])
		return &ChildRun{Name: "Doubler", Result: &Result{Success: true, Output: map[string]any{"doubled": x * 2},
			TraceSpans: []TraceSpan{{ID: "k1", Name: "Double", Type: "function", Status: "success"}}}}, nil
	}
	p := b.plan(t)
	res := p.Run(context.Background(), RunInput{Input: map[string]any{"n": 21}, Sandbox: sandbox.NewInProcess(), Children: children, Via: []string{"a", "b"}})
	if !res.Success || mustJSON(res.Output["result"]) != "42" {
		t.Fatalf("%s %s", res.Error, mustJSON(res.Output))
	}
	out := res.BlockOutputs["wf"]
	if out["success"] != true || out["childWorkflowName"] != "Doubler" || out["childWorkflowId"] != "kid" || len(got.Via) != 2 || got.Deployed {
		t.Errorf("output %s request %+v", mustJSON(out), got)
	}
	// The child's block spans are the workflow block's children (Sim's
	// span-factory.ts attachChildWorkflowSpans), with no wrapper span between.
	span := findSpan(res.TraceSpans, "wf")
	if span == nil || len(span.Children) != 1 || span.Children[0].Name != "Double" || span.ChildWorkflowID != "kid" {
		t.Errorf("span %s", mustJSON(span))
	}
	// At the depth limit the block refuses to start another child.
	res = p.Run(context.Background(), RunInput{Input: map[string]any{"n": 1}, Sandbox: sandbox.NewInProcess(), Children: children, Via: make([]string, MaxWorkflowDepth)})
	if res.Success || !strings.Contains(res.Error, "Maximum workflow nesting depth (10)") {
		t.Errorf("depth: %q", res.Error)
	}
	// A failing child fails the block with Sim's message and keeps its names in the output.
	failing := func(context.Context, ChildRequest) (*ChildRun, error) {
		return &ChildRun{Name: "Doubler", Result: &Result{Success: false, Error: "boom"}}, nil
	}
	b.block("h", "function", "Handler", map[string]any{"code": "return <child.error>"}, nil).edge("wf", "h", "error")
	res = b.plan(t).Run(context.Background(), RunInput{Input: map[string]any{"n": 1}, Sandbox: sandbox.NewInProcess(), Children: failing})
	if !res.Success || res.Output["result"] != `"Doubler" failed: boom` || res.BlockOutputs["wf"]["success"] != false {
		t.Errorf("failing child: %s %s %s", res.Error, mustJSON(res.Output), mustJSON(res.BlockOutputs["wf"]))
	}
}

func TestAgentToolProblemsAtDeploy(t *testing.T) {
	b := agentWF(map[string]any{"userPrompt": "x", "tools": []any{
		map[string]any{"type": "slack", "title": "Slack Message"},
		map[string]any{"type": "firecrawl", "title": "Scrape", "usageControl": "none"},
		map[string]any{"type": "custom-tool", "title": "ok"}}})
	wf, err := Import(b.json())
	if err != nil {
		t.Fatal(err)
	}
	probs := Unsupported(wf)
	if len(probs) != 1 || probs[0].BlockName != "Agent 1" || !strings.Contains(probs[0].Message, `"Slack Message" (type "slack")`) {
		t.Fatalf("problems %+v", probs)
	}
}

func sandboxForTest() ScriptRunner { return sandbox.NewInProcess() }
