package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// responseWorkflow is test/workflows/response.json with the Response block's headers
// and status replaced.
func responseWorkflow(t *testing.T, e *testenv.Env, status string, headers map[string]string) string {
	t.Helper()
	var wf map[string]any
	if err := json.Unmarshal(testenv.Workflow(t, "response.json"), &wf); err != nil {
		t.Fatal(err)
	}
	subs := wf["state"].(map[string]any)["blocks"].(map[string]any)["resp"].(map[string]any)["subBlocks"].(map[string]any)
	var rows []any
	for k, v := range headers {
		rows = append(rows, map[string]any{"id": k, "cells": map[string]any{"Key": k, "Value": v}})
	}
	subs["headers"].(map[string]any)["value"] = rows
	subs["status"].(map[string]any)["value"] = status
	b, _ := json.Marshal(wf)
	ctx := context.Background()
	rec, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), rec.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

// A Response block cannot set cookies, CORS or security headers, framing headers or
// SteelEngine's own headers on the API origin; its body is always sandboxed and never
// sniffed, whatever Content-Type it claims.
func TestResponseBlockHeadersFiltered(t *testing.T) {
	e := testenv.New(t)
	refused := map[string]string{
		"Set-Cookie":                       "sid=stolen; Path=/",
		"Access-Control-Allow-Origin":      "https://evil.example",
		"Access-Control-Allow-Credentials": "true",
		"Strict-Transport-Security":        "max-age=0",
		"Content-Security-Policy":          "default-src *",
		"X-Frame-Options":                  "ALLOWALL",
		"X-Content-Type-Options":           "sniff",
		"Cross-Origin-Opener-Policy":       "unsafe-none",
		"WWW-Authenticate":                 `Basic realm="login"`,
		"Alt-Svc":                          `h2="evil.example:443"`,
		"Refresh":                          "0; url=https://evil.example",
		"Connection":                       "close",
		"Transfer-Encoding":                "chunked",
		"Content-Encoding":                 "gzip",
		"Content-Length":                   "1",
		"X-Request-Id":                     "forged",
		"X-RateLimit-Remaining":            "999999",
		"Location":                         "javascript:alert(1)",
	}
	allowed := map[string]string{"Content-Type": "text/html; charset=utf-8", "X-Custom": "ok", "Cache-Control": "no-cache", "Retry-After": "5"}
	headers := map[string]string{}
	for k, v := range refused {
		headers[k] = v
	}
	for k, v := range allowed {
		headers[k] = v
	}
	id := responseWorkflow(t, e, "200", headers)
	req, _ := http.NewRequest("POST", e.URL+"/api/workflows/"+id+"/execute", strings.NewReader(`{"name":"<script>alert(1)</script>"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", e.WSKey)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for k, v := range refused {
		if got := resp.Header.Values(k); len(got) > 0 && strings.Join(got, ",") == v {
			t.Errorf("%s was set by the Response block: %q", k, got)
		}
	}
	for _, k := range []string{"Set-Cookie", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Strict-Transport-Security",
		"X-Frame-Options", "WWW-Authenticate", "Alt-Svc", "Refresh", "Location", "Content-Encoding"} {
		if got := resp.Header.Get(k); got != "" {
			t.Errorf("%s present: %q", k, got)
		}
	}
	for k, v := range allowed {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != "sandbox" {
		t.Errorf("Content-Security-Policy = %q, want sandbox", got)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	if got := resp.Header.Get("X-Request-Id"); got == "forged" {
		t.Error("X-Request-Id forged")
	}

	// A redirect to a real URL is still a redirect.
	id = responseWorkflow(t, e, "302", map[string]string{"Location": "https://example.com/next?x=1"})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ = http.NewRequest("POST", e.URL+"/api/workflows/"+id+"/execute", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", e.WSKey)
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://example.com/next?x=1" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
