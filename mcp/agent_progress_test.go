package mcp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// TestAgentTokensAsProgress: an MCP caller that asks for progress gets an agent's reply
// piece by piece as progress messages, in order, before the result.
func TestAgentTokensAsProgress(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.AllowLoopback = true }})
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, d := range []string{"Hel", "lo", "!"} {
			b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"content": d}}}})
			w.Write([]byte("data: " + string(b) + "\n\n"))
			w.(http.Flusher).Flush()
		}
		w.Write([]byte("data: [DONE]\n\n"))
	}))
	defer provider.Close()
	ctx := context.Background()
	op := auth.Operator()
	if _, err := e.App.Service.AddModelProvider(ctx, op, e.WS.ID, core.ModelProviderInput{Name: "fake", Kind: "openai",
		BaseURL: provider.URL + "/v1", DefaultModel: "gpt-4o"}); err != nil {
		t.Fatal(err)
	}
	doc := `{"version":"1.0","state":{"blocks":{
	  "start":{"id":"start","type":"start_trigger","name":"Start","position":{"x":0,"y":0},"enabled":true,"subBlocks":{}},
	  "agent":{"id":"agent","type":"agent","name":"Agent","position":{"x":0,"y":0},"enabled":true,
	    "subBlocks":{"userPrompt":{"id":"userPrompt","value":"say hello"}}}},
	  "edges":[{"id":"e1","source":"start","target":"agent","sourceHandle":"source"}],"metadata":{"name":"Hello agent"}}}`
	wf, err := e.App.Service.ImportWorkflow(ctx, op, e.WS.ID, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, op, wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	c := connect(t, e.URL+"/mcp", e.WSKey)
	var mu sync.Mutex
	var msgs []string
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" {
			mu.Lock()
			msgs = append(msgs, toString(n.Params.AdditionalFields["message"]))
			mu.Unlock()
		}
	})
	var name string
	for _, n := range toolNames(t, c) {
		if strings.Contains(n, "hello") {
			name = n
		}
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Meta = &mcp.Meta{ProgressToken: "p-agent"}
	res, err := c.CallTool(ctx, req)
	if err != nil || res.IsError {
		t.Fatalf("call %q: %v %+v", name, err, res)
	}
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(msgs, "|")
	if !strings.Contains(joined, "Hel|lo|!") {
		t.Fatalf("progress messages %q", msgs)
	}
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}
