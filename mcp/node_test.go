package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
)

// nodeDir returns test/mcp with its node_modules, or skips.
func nodeDir(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("node tests skipped in -short mode")
	}
	dir := filepath.Join(testenv.Root(), "test", "mcp")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		t.Skip("test/mcp/node_modules missing (run npm ci in test/mcp)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "node")); err != nil {
			t.Skip("node not installed")
		}
	}
	return dir
}

// nodeEnv puts node_modules/.bin first on PATH: the npm package node@22 provides
// the Node ≥ 22 the conformance CLI needs.
func nodeEnv(dir string) []string {
	return append(os.Environ(), "PATH="+filepath.Join(dir, "node_modules", ".bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestTypeScriptSDKClient(t *testing.T) {
	dir := nodeDir(t)
	e := testenv.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.mjs", e.URL+"/mcp", e.WSKey, "echo", `{"message":"from ts"}`)
	cmd.Dir = dir
	cmd.Env = nodeEnv(dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client.mjs: %v\n%s\n%s", err, out, stderr.String())
	}
	var sum struct {
		Tools             []string       `json:"tools"`
		Called            string         `json:"called"`
		StructuredContent map[string]any `json:"structuredContent"`
		WrongKey          int            `json:"wrongKey"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &sum); err != nil {
		t.Fatalf("client.mjs output %q: %v", out, err)
	}
	if strings.Join(sum.Tools, ",") != "echo,greet" || !strings.Contains(string(out), `"message":"from ts"`) || sum.WrongKey != 401 {
		t.Fatalf("client.mjs: %s", out)
	}
}

// keyProxy is a header-injecting reverse proxy for clients that cannot send an API
// key (the conformance CLI). It keeps the client's Host header so the server's
// DNS-rebinding check still sees it.
func keyProxy(t *testing.T, target, key string) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = u.Scheme, u.Host
			r.Out.Host = r.In.Host
			r.Out.Header.Set("X-API-Key", key)
		},
		FlushInterval: -1,
	}
	ts := httptest.NewServer(rp)
	t.Cleanup(ts.Close)
	return ts
}

func TestConformance(t *testing.T) {
	dir := nodeDir(t)
	if os.Getenv("STEELENGINE_CONFORMANCE") == "" && testing.Short() {
		t.Skip()
	}
	e := testenv.New(t)
	proxy := keyProxy(t, e.URL, e.WSKey)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	outDir := t.TempDir()
	if d := os.Getenv("STEELENGINE_CONFORMANCE_OUT"); d != "" {
		outDir = d
	}
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "node_modules", ".bin", "conformance"), "server",
		"--url", proxy.URL+"/mcp", "--expected-failures", filepath.Join(dir, "expected-failures.yml"), "-o", outDir)
	cmd.Dir = dir
	cmd.Env = nodeEnv(dir)
	out, err := cmd.CombinedOutput()
	summary := string(out)
	if i := strings.Index(summary, "=== SUMMARY ==="); i >= 0 {
		summary = summary[i:]
	}
	t.Logf("conformance:\n%s", summary)
	if err != nil {
		t.Fatalf("conformance suite: %v\n%s", err, out)
	}
}

var _ = http.StatusOK
