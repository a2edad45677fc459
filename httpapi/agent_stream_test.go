package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// TestStreamedAgentRunOverHTTP: with stream and selectedOutputs naming the agent's
// content, the agent's tokens arrive as chunk frames while the provider is still
// writing (the provider holds its second token until the client has seen the first),
// in order, before the final frame.
func TestStreamedAgentRunOverHTTP(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.AllowLoopback = true }})
	seenFirst := make(chan struct{})
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if json.Unmarshal(raw, &body) != nil || body["stream"] != true {
			http.Error(w, "want a streaming request", 400)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		flush := func(delta string) {
			b, _ := json.Marshal(map[string]any{"model": "gpt-4o", "choices": []any{map[string]any{"delta": map[string]any{"content": delta}}}})
			w.Write([]byte("data: " + string(b) + "\n\n"))
			w.(http.Flusher).Flush()
		}
		flush("Hel")
		select {
		case <-seenFirst:
		case <-time.After(10 * time.Second):
			return // the client never saw the first token: the test fails below
		}
		flush("lo")
		flush(" world")
		w.Write([]byte("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n"))
	}))
	defer provider.Close()
	ctx := context.Background()
	if _, err := e.App.Service.AddModelProvider(ctx, auth.Operator(), e.WS.ID, core.ModelProviderInput{Name: "fake", Kind: "openai",
		BaseURL: provider.URL + "/v1", APIKey: "sk-stream-123456", DefaultModel: "gpt-4o", IsDefault: true}); err != nil {
		t.Fatal(err)
	}
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, simAgentExport("Streamer", map[string]any{"userPrompt": "<start.question>"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"question": "hi", "stream": true, "selectedOutputs": []string{"agent.content"}})
	req, _ := http.NewRequest("POST", e.URL+execPath(wf.ID), strings.NewReader(string(body)))
	req.Header.Set("X-API-Key", e.WSKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var frames []map[string]any
	var done bool
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == `"[DONE]"` {
			done = true
			break
		}
		var f map[string]any
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			t.Fatalf("frame %q: %v", data, err)
		}
		frames = append(frames, f)
		if f["chunk"] == "Hel" {
			close(seenFirst)
		}
	}
	if !done {
		t.Fatalf("no [DONE]; frames %v", frames)
	}
	var chunks []string
	finalAt, lastChunkAt := -1, -1
	for i, f := range frames {
		if c, ok := f["chunk"].(string); ok {
			chunks = append(chunks, c)
			lastChunkAt = i
		}
		if f["event"] == "final" {
			finalAt = i
		}
	}
	if strings.Join(chunks, "|") != "Hel|lo| world" || finalAt < 0 || lastChunkAt > finalAt {
		t.Fatalf("chunks %q, final at %d, last chunk at %d: %v", chunks, finalAt, lastChunkAt, frames)
	}
	final := frames[finalAt]["data"].(map[string]any)
	out, _ := json.Marshal(final["output"])
	if final["success"] != true || !strings.Contains(string(out), `"content":"Hello world"`) {
		t.Fatalf("final %v", final)
	}
}
