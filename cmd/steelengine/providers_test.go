package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestAgentWorkflowWithProviderFromCLI: a Sim export built around Start and an agent
// with tools imports, deploys and runs against a fake OpenAI-compatible provider that
// was configured only through `steelengine providers`.
func TestAgentWorkflowWithProviderFromCLI(t *testing.T) {
	const key = "sk-fake-cli-0123456789"
	var mu sync.Mutex
	var bodies []map[string]any
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/data" { // the agent's HTTP tool target
			_, _ = w.Write([]byte(`{"source":"fake-api"}`))
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer "+key || json.Unmarshal(raw, &body) != nil {
			http.Error(w, `{"error":{"message":"unauthorized"}}`, 401)
			return
		}
		mu.Lock()
		bodies = append(bodies, body)
		n := len(bodies)
		mu.Unlock()
		msgs, _ := body["messages"].([]any)
		var msg map[string]any
		switch {
		case len(msgs) == 1: // providers test
			msg = map[string]any{"role": "assistant", "content": "OK"}
		case n%2 == 0: // first agent round: call both tools
			msg = map[string]any{"role": "assistant", "tool_calls": []any{
				map[string]any{"id": "c1", "type": "function", "function": map[string]any{"name": "custom_Word_Count", "arguments": `{"text":"one two three"}`}},
				map[string]any{"id": "c2", "type": "function", "function": map[string]any{"name": "http_request", "arguments": `{"url":"http://` + r.Host + `/data"}`}},
			}}
		default: // second round: the structured answer from the tool results
			s, _ := json.Marshal(msgs)
			words, source := 0, ""
			if strings.Contains(string(s), `"content":"3"`) {
				words = 3
			}
			if strings.Contains(string(s), `fake-api`) {
				source = "fake-api"
			}
			ans, _ := json.Marshal(map[string]any{"words": words, "source": source})
			msg = map[string]any{"role": "assistant", "content": string(ans)}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"model": body["model"], "choices": []any{map[string]any{"message": msg}},
			"usage": map[string]any{"prompt_tokens": 100, "completion_tokens": 10}})
	}))
	defer provider.Close()

	data := newDataDir(t) // admin commands refuse a directory that does not exist
	d := []string{"--data-dir", data, "--json", "--allow-loopback"}
	var u, ws, wf map[string]any
	cliJSON(t, &u, append(d, "users", "create", "--email", "a@example.com", "--password", "long enough pw")...)
	cliJSON(t, &ws, append(d, "workspaces", "create", "--name", "W", "--owner", "a@example.com")...)
	env := []string{"FAKE_PROVIDER_KEY=" + key}

	// Configure the provider through the CLI only; the key comes from the environment.
	out, errOut, code := runCLIEnv(t, env, append(d, "providers", "add", "--workspace", "W", "--name", "fake", "--kind", "openai",
		"--base-url", provider.URL+"/v1", "--api-key-env", "FAKE_PROVIDER_KEY", "--default-model", "gpt-4o", "--models", "gpt-*", "--default")...)
	if code != 0 || !strings.Contains(out, `"hasApiKey": true`) && !strings.Contains(out, `"hasApiKey":true`) || strings.Contains(out, key) {
		t.Fatalf("providers add: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, append(d, "providers", "add", "--workspace", "W", "--name", "x", "--api-key-env", "NOT_SET_ANYWHERE")...); code != 2 {
		t.Fatalf("unset key variable: exit %d %s", code, errOut)
	}
	out, _, code = runCLI(t, append(d, "providers", "list", "--workspace", "W")...)
	if code != 0 || !strings.Contains(out, `"name": "fake"`) || strings.Contains(out, key) {
		t.Fatalf("providers list: %d %s", code, out)
	}
	var test map[string]any
	cliJSON(t, &test, append(d, "providers", "test", "--workspace", "W", "fake")...)
	if test["ok"] != true || test["model"] != "gpt-4o" {
		t.Fatalf("providers test = %v", test)
	}

	cliJSON(t, &wf, append(d, "workflows", "import", "--workspace", "W", filepath.Join("..", "..", "test", "workflows", "agent_tools.json"))...)
	wfID, _ := wf["id"].(string)
	if _, errOut, code := runCLI(t, append(d, "workflows", "deploy", wfID)...); code != 0 {
		t.Fatalf("deploy: exit %d %s", code, errOut)
	}
	var res map[string]any
	cliJSON(t, &res, append(d, "workflows", "run", "--deployed", "--input", `{"text":"one two three"}`, wfID)...)
	got, _ := json.Marshal(res)
	if !strings.Contains(string(got), `"words":3`) || !strings.Contains(string(got), `"source":"fake-api"`) || strings.Contains(string(got), key) {
		t.Fatalf("run = %s", got)
	}
	mu.Lock()
	first := bodies[1]
	mu.Unlock()
	tools, _ := json.Marshal(first["tools"])
	if !strings.Contains(string(tools), "custom_Word_Count") || !strings.Contains(string(tools), "http_request") || strings.Contains(string(tools), "slack") {
		t.Fatalf("tools sent to the provider: %s", tools)
	}

	// Without the provider the agent fails, naming the missing configuration.
	if _, errOut, code := runCLI(t, append(d, "providers", "remove", "--workspace", "W", "fake")...); code != 0 {
		t.Fatalf("remove: %d %s", code, errOut)
	}
	out, _, _ = runCLI(t, append(d, "workflows", "run", "--deployed", "--input", `{"text":"x"}`, wfID)...)
	if !strings.Contains(out, "steelengine providers add") {
		t.Fatalf("run without provider: %s", out)
	}
}

func TestExternalMCPCommands(t *testing.T) {
	data := newDataDir(t)
	d := []string{"--data-dir", data, "--json"}
	var u, ws map[string]any
	cliJSON(t, &u, append(d, "users", "create", "--email", "a@example.com", "--password", "long enough pw")...)
	cliJSON(t, &ws, append(d, "workspaces", "create", "--name", "W", "--owner", "a@example.com")...)
	env := []string{"MCP_TOKEN=Bearer tok-0123456789"}
	out, errOut, code := runCLIEnv(t, env, append(d, "external-mcp", "add", "--workspace", "W", "--name", "calc", "--endpoint", "https://mcp.example.com/mcp",
		"--header-env", "Authorization=MCP_TOKEN")...)
	if code != 0 || strings.Contains(out, "tok-0123456789") || !strings.Contains(out, "Authorization") {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	if _, _, code := runCLI(t, append(d, "external-mcp", "add", "--workspace", "W", "--name", "x", "--endpoint", "https://x", "--header-env", "A=UNSET_VAR_X")...); code != 2 {
		t.Fatalf("unset header variable: exit %d", code)
	}
	out, _, code = runCLI(t, append(d, "external-mcp", "list", "--workspace", "W")...)
	if code != 0 || !strings.Contains(out, `"name": "calc"`) || strings.Contains(out, "tok-0123456789") {
		t.Fatalf("list: %d %s", code, out)
	}
	if _, errOut, code := runCLI(t, append(d, "external-mcp", "remove", "--workspace", "W", "calc")...); code != 0 {
		t.Fatalf("remove: %d %s", code, errOut)
	}
	if _, _, code := runCLI(t, append(d, "external-mcp", "remove", "--workspace", "W", "calc")...); code == 0 {
		t.Fatal("second remove succeeded")
	}
}
