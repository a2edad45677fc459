package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/internal/testenv"
)

func TestHygieneUnknownRoutesAndMethods(t *testing.T) {
	e := testenv.New(t)
	cases := []struct {
		method, path string
		status       int
		v2           bool
		allow        string
	}{
		{"GET", "/api/nope", 404, false, ""},
		{"GET", "/api/v2/nope", 404, true, ""},
		{"DELETE", "/api/workflows/x/execute", 405, false, "POST"},
		{"PUT", "/api/v2/workflows/x/execute", 405, true, "POST"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, e.URL+c.path, nil)
		req.Header.Set("X-Request-Id", "req-123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("X-Request-Id") != "req-123" {
			t.Errorf("%s %s: %d, request id %q", c.method, c.path, resp.StatusCode, resp.Header.Get("X-Request-Id"))
		}
		if c.allow != "" && !strings.Contains(resp.Header.Get("Allow"), c.allow) {
			t.Errorf("%s %s: Allow %q", c.method, c.path, resp.Header.Get("Allow"))
		}
		if c.v2 {
			inner, _ := body["error"].(map[string]any)
			if inner == nil || inner["code"] == nil {
				t.Errorf("%s %s: v2 body %v", c.method, c.path, body)
			}
		} else if body["code"] == nil || body["error"] == nil {
			t.Errorf("%s %s: body %v", c.method, c.path, body)
		}
	}
}

func TestCORSOffByDefaultAndConfigurable(t *testing.T) {
	preflight := func(e *testenv.Env) *http.Response {
		req, _ := http.NewRequest("OPTIONS", e.URL+"/api/workflows/x/execute", nil)
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if got := preflight(testenv.New(t)).Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("CORS on by default: %q", got)
	}
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.HTTP.AllowedOrigins = []string{"https://app.example.com"} }})
	resp := preflight(e)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "X-API-Key") {
		t.Fatalf("preflight %d %v", resp.StatusCode, resp.Header)
	}
}

func TestKeysNeverInLogs(t *testing.T) {
	var logs strings.Builder
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.Logger = newCaptureLogger(&logs) }})
	for _, key := range []string{e.WSKey, e.AdminKey} {
		req, _ := http.NewRequest("POST", e.URL+"/api/workflows/"+e.Greet.ID+"/execute", strings.NewReader(`{"inputs":{}}`))
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	bad, _ := http.NewRequest("GET", e.URL+"/api/jobs/x", nil)
	bad.Header.Set("X-API-Key", e.WSKey+"x")
	resp, _ := http.DefaultClient.Do(bad)
	resp.Body.Close()
	e.App.Close(t.Context())
	for _, key := range []string{e.WSKey, e.AdminKey} {
		if strings.Contains(logs.String(), key[len("sk-steelengine-"):]) {
			t.Fatal("a key appeared in the logs")
		}
	}
}

func newCaptureLogger(w *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
