package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// While its PostgreSQL database is away (restart, failover), a replica answers 503
// storage_unavailable with Retry-After, never 500, and /readyz says not ready; when the
// database is back it serves again by itself.
func TestPostgresOutageAnswers503ThenHeals(t *testing.T) {
	proxy, url := pgtest.NewProxy(t, pgtest.URL(t))
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.DatabaseURL = url }})
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(method, path, key string, body any) (*http.Response, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, e.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	execute := "/api/workflows/" + e.Greet.ID + "/execute"
	envVar := "/api/workspaces/" + e.WS.ID + "/environment/TOKEN"
	if resp, out := do("POST", execute, e.WSKey, map[string]any{"name": "up"}); resp.StatusCode != 200 {
		t.Fatalf("execute with the database up: %d %v", resp.StatusCode, out)
	}

	proxy.Down()
	if resp, _ := do("GET", "/readyz", "", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database down: %d", resp.StatusCode)
	}
	for _, c := range []struct{ name, method, path, key string }{
		{"execute", "POST", execute, e.WSKey},
		{"set an environment variable", "PUT", envVar, e.AdminKey},
		{"a key not seen before (its lookup needs the database)", "POST", execute, e.WSReadKey},
	} {
		resp, out := do(c.method, c.path, c.key, map[string]any{"value": "x", "name": "down"})
		if resp.StatusCode != http.StatusServiceUnavailable || out["code"] != "storage_unavailable" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s with the database down: %d %v (Retry-After %q), want 503 storage_unavailable", c.name, resp.StatusCode, out, resp.Header.Get("Retry-After"))
		}
	}

	proxy.Up()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := do("GET", "/readyz", "", nil)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after the database came back: %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, out := do("POST", execute, e.WSKey, map[string]any{"name": "back"}); resp.StatusCode != 200 {
		t.Fatalf("execute after the database came back: %d %v", resp.StatusCode, out)
	}
	if resp, out := do("PUT", envVar, e.AdminKey, map[string]any{"value": "x"}); resp.StatusCode != 200 {
		t.Fatalf("set an environment variable after the database came back: %d %v", resp.StatusCode, out)
	}
}
