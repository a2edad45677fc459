package mcp_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// benchEnv raises the workspace key's rate limit out of the way.
func benchEnv(b *testing.B) *testenv.Env {
	return testenv.New(b, testenv.Options{Config: func(c *app.Config) { c.Auth.DefaultRateLimit = 1 << 30 }})
}

// BenchmarkToolsCall: one MCP tools/call of Greet over Streamable HTTP (session open).
func BenchmarkToolsCall(b *testing.B) {
	e := benchEnv(b)
	c := connect(b, e.URL+"/mcp", e.WSKey)
	req := mcp.CallToolRequest{}
	req.Params.Name = "greet"
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := c.CallTool(ctx, req)
		if err != nil || res.IsError {
			b.Fatalf("call: %v %+v", err, res)
		}
	}
}

// BenchmarkHTTPExecute: POST /api/workflows/{id}/execute of Greet.
func BenchmarkHTTPExecute(b *testing.B) {
	e := benchEnv(b)
	url := e.URL + "/api/workflows/" + e.Greet.ID + "/execute"
	do := func() int {
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", e.WSKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := do(); st == http.StatusNotFound || st == http.StatusMethodNotAllowed {
		b.Skipf("HTTP execute handler not present yet (status %d)", st)
	} else if st != http.StatusOK {
		b.Fatalf("execute: %d", st)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if st := do(); st != http.StatusOK {
			b.Fatalf("execute: %d", st)
		}
	}
}

// BenchmarkCoreExecute: the same run through core directly (no transport), the floor
// both front doors share.
func BenchmarkCoreExecute(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	p, err := e.App.Resolver.Resolve(ctx, e.WSKey, "", auth.TransportMCP)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.App.Service.Execute(ctx, p, core.RunRequest{WorkflowID: e.Greet.ID, Trigger: "mcp"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToolsCallVsHTTP alternates one MCP tools/call and one HTTP execute of Greet
// (each op is one of each), so both see the same disk and CPU contention, and reports
// each one's median latency and their ratio (the goal: tools/call ≤ 1.2× HTTP
// execute). Run with -benchtime=500x or more for a stable ratio.
func BenchmarkToolsCallVsHTTP(b *testing.B) {
	e := benchEnv(b)
	c := connect(b, e.URL+"/mcp", e.WSKey)
	call := mcp.CallToolRequest{}
	call.Params.Name = "greet"
	ctx := context.Background()
	url := e.URL + "/api/workflows/" + e.Greet.ID + "/execute"
	client := &http.Client{}
	var mcpLat, httpLat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		res, err := c.CallTool(ctx, call)
		if err != nil || res.IsError {
			b.Fatalf("call: %v %+v", err, res)
		}
		t1 := time.Now()
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", e.WSKey)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("execute: %d", resp.StatusCode)
		}
		mcpLat, httpLat = append(mcpLat, t1.Sub(t0)), append(httpLat, time.Since(t1))
	}
	b.StopTimer()
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	m, h := med(mcpLat), med(httpLat)
	b.ReportMetric(float64(m)/1e3, "mcp-µs")
	b.ReportMetric(float64(h)/1e3, "http-µs")
	b.ReportMetric(float64(m)/float64(h), "mcp/http")
}
