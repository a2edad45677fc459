package engine

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

func sse(events ...any) fakeReply {
	var sb strings.Builder
	for _, e := range events {
		if s, ok := e.(string); ok {
			sb.WriteString("data: " + s + "\n\n")
			continue
		}
		b, _ := json.Marshal(e)
		sb.WriteString("data: " + string(b) + "\n\n")
	}
	return fakeReply{header: map[string]string{"Content-Type": "text/event-stream"}, body: sb.String()}
}

func oaiDelta(content string) map[string]any {
	return map[string]any{"model": "gpt-4o", "choices": []any{map[string]any{"delta": map[string]any{"content": content}}}}
}

type chunkLog struct {
	mu     sync.Mutex
	chunks []string
}

func (c *chunkLog) hooks(want string) Hooks {
	return Hooks{
		StreamBlock: func(id, name string) bool { return id == want },
		OnChunk: func(ch BlockChunk) {
			c.mu.Lock()
			c.chunks = append(c.chunks, ch.BlockID+":"+ch.Chunk)
			c.mu.Unlock()
		},
	}
}

func TestAgentStreamsOpenAITokensAndToolCalls(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "k-1",
		// Round 1: a tool call split over two chunks.
		sse(map[string]any{"model": "gpt-4o", "choices": []any{map[string]any{"delta": map[string]any{"tool_calls": []any{
			map[string]any{"index": 0, "id": "call_1", "function": map[string]any{"name": "custom_Echo", "arguments": `{"te`}}}}}}},
			map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"tool_calls": []any{
				map[string]any{"index": 0, "function": map[string]any{"arguments": `xt":"hi"}`}}}}}}},
			map[string]any{"choices": []any{}, "usage": map[string]any{"prompt_tokens": 7, "completion_tokens": 3}},
			"[DONE]"),
		// Round 2: the answer in three pieces.
		sse(oaiDelta("Hel"), oaiDelta("lo"), oaiDelta(" HI"), map[string]any{"choices": []any{}, "usage": map[string]any{"prompt_tokens": 20, "completion_tokens": 3}}, "[DONE]"))
	tools := []any{map[string]any{"type": "custom-tool", "title": "Echo", "code": "return text.toUpperCase()",
		"schema": map[string]any{"function": map[string]any{"name": "echo", "parameters": map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}}}}}}
	var log chunkLog
	res := agentWF(map[string]any{"userPrompt": "hi", "tools": tools}).plan(t).Run(context.Background(),
		RunInput{Sandbox: sandboxForTest(), HTTPClient: loopback(), Models: fp.resolver(), Hooks: log.hooks("ag")})
	if !res.Success || res.BlockOutputs["ag"]["content"] != "Hello HI" {
		t.Fatalf("%s %s", res.Error, mustJSON(res.BlockOutputs["ag"]))
	}
	if strings.Join(log.chunks, "|") != "ag:Hel|ag:lo|ag: HI" {
		t.Errorf("chunks %q", log.chunks)
	}
	if mustJSON(res.BlockOutputs["ag"]["tokens"]) != `{"input":27,"output":6,"total":33}` {
		t.Errorf("tokens %s", mustJSON(res.BlockOutputs["ag"]["tokens"]))
	}
	call := res.BlockOutputs["ag"]["toolCalls"].(map[string]any)["list"].([]any)[0].(map[string]any)
	if call["result"] != "HI" || mustJSON(call["arguments"]) != `{"text":"hi"}` {
		t.Errorf("tool call %s", mustJSON(call))
	}
	if r := fp.requests()[0]; r["stream"] != true || !strings.Contains(mustJSON(r["stream_options"]), "include_usage") {
		t.Errorf("request %s", mustJSON(r))
	}
}

func TestAgentStreamsAnthropic(t *testing.T) {
	fp := newFakeProvider(t, ProviderAnthropic, "ant-1", sse(
		map[string]any{"type": "message_start", "message": map[string]any{"model": "claude-sonnet-4-5", "usage": map[string]any{"input_tokens": 12}}},
		map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}},
		map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": "Bon"}},
		map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": "jour"}},
		map[string]any{"type": "message_delta", "usage": map[string]any{"output_tokens": 4}},
		map[string]any{"type": "message_stop"}))
	var log chunkLog
	res := agentWF(map[string]any{"userPrompt": "hi", "model": "claude-sonnet-4-5"}).plan(t).Run(context.Background(),
		RunInput{HTTPClient: loopback(), Models: fp.resolver(), Hooks: log.hooks("ag")})
	out := res.BlockOutputs["ag"]
	if !res.Success || out["content"] != "Bonjour" || strings.Join(log.chunks, "|") != "ag:Bon|ag:jour" ||
		mustJSON(out["tokens"]) != `{"input":12,"output":4,"total":16}` || out["model"] != "claude-sonnet-4-5" {
		t.Fatalf("%s %s %q", res.Error, mustJSON(out), log.chunks)
	}
	// Not selected: no streaming request.
	fp2 := newFakeProvider(t, ProviderAnthropic, "ant-1", anthText("plain"))
	res = agentWF(map[string]any{"userPrompt": "hi"}).plan(t).Run(context.Background(),
		RunInput{HTTPClient: loopback(), Models: fp2.resolver(), Hooks: log.hooks("other")})
	if !res.Success || fp2.requests()[0]["stream"] != nil {
		t.Fatalf("unselected agent streamed: %s", mustJSON(fp2.requests()[0]))
	}
}

func TestStreamErrorEventIsBlockError(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "k-1", sse(oaiDelta("par"), map[string]any{"error": map[string]any{"message": "overloaded mid-stream"}}))
	var log chunkLog
	res := agentWF(map[string]any{"userPrompt": "hi"}).plan(t).Run(context.Background(),
		RunInput{HTTPClient: loopback(), Models: fp.resolver(), Hooks: log.hooks("ag")})
	if res.Success || !strings.Contains(res.Error, "overloaded mid-stream") || len(fp.requests()) != 1 {
		t.Fatalf("%v %q %d", res.Success, res.Error, len(fp.requests()))
	}
}
