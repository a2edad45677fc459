package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
)

type memStore struct {
	mu    sync.Mutex
	convs map[string][]MemoryMessage
}

func (m *memStore) Load(_ context.Context, id string) ([]MemoryMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]MemoryMessage(nil), m.convs[id]...), nil
}

func (m *memStore) Update(_ context.Context, id string, fn func([]MemoryMessage) []MemoryMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.convs[id] = fn(append([]MemoryMessage(nil), m.convs[id]...))
	return nil
}

func roles(msgs []any) string {
	var out []string
	for _, m := range msgs {
		mm := m.(map[string]any)
		out = append(out, toStr(mm["role"])+":"+toStr(mm["content"]))
	}
	return strings.Join(out, " | ")
}

func TestAgentMemoryAcrossRuns(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "k-1", oaiText("Hi Ada"), oaiText("You are Ada"), oaiText("third"))
	mem := &memStore{convs: map[string][]MemoryMessage{}}
	b := agentWF(map[string]any{
		"messages":       []any{map[string]any{"role": "system", "content": "be kind"}, map[string]any{"role": "user", "content": "<start.q>"}},
		"memoryType":     "conversation",
		"conversationId": "c-1",
	}).plan(t)
	for _, q := range []string{"I am Ada", "Who am I?"} {
		res := b.Run(context.Background(), RunInput{Input: map[string]any{"q": q}, HTTPClient: loopback(), Models: fp.resolver(), Memory: mem})
		if !res.Success {
			t.Fatalf("%q: %s", q, res.Error)
		}
	}
	reqs := fp.requests()
	if got := roles(reqs[0]["messages"].([]any)); got != "system:be kind | user:I am Ada" {
		t.Errorf("first run %s", got)
	}
	if got := roles(reqs[1]["messages"].([]any)); got != "system:be kind | user:I am Ada | assistant:Hi Ada | user:Who am I?" {
		t.Errorf("second run %s", got)
	}
	if n := len(mem.convs["c-1"]); n != 4 {
		t.Errorf("stored %d messages: %+v", n, mem.convs["c-1"])
	}
	// A sliding window of 2 sends only the last two remembered messages.
	w := agentWF(map[string]any{"userPrompt": "<start.q>", "memoryType": "sliding_window", "slidingWindowSize": "2", "conversationId": "c-1"}).plan(t)
	res := w.Run(context.Background(), RunInput{Input: map[string]any{"q": "third?"}, HTTPClient: loopback(), Models: fp.resolver(), Memory: mem})
	if !res.Success {
		t.Fatal(res.Error)
	}
	if got := roles(fp.requests()[2]["messages"].([]any)); got != "user:Who am I? | assistant:You are Ada | user:third?" {
		t.Errorf("window %s", got)
	}
	// No conversation id: Sim's error.
	res = agentWF(map[string]any{"userPrompt": "x", "memoryType": "conversation"}).plan(t).Run(context.Background(),
		RunInput{HTTPClient: loopback(), Models: fp.resolver(), Memory: mem})
	if res.Success || !strings.Contains(res.Error, "Conversation ID is required") {
		t.Errorf("missing id: %q", res.Error)
	}
}

func TestTokenWindowKeepsNewest(t *testing.T) {
	m := &agentMemory{kind: "sliding_window_tokens", x: &execCtx{input: map[string]any{"slidingWindowTokens": 5}}}
	msgs := []MemoryMessage{{"user", strings.Repeat("a", 40)}, {"assistant", "12345678"}, {"user", "abcd"}}
	got := m.window(msgs)
	if len(got) != 2 || got[0].Content != "12345678" {
		t.Fatalf("%+v", got)
	}
	// A single message over budget is still kept.
	if got := m.window(msgs[:1]); len(got) != 1 {
		t.Fatalf("%+v", got)
	}
}
