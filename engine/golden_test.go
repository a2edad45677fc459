package engine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/engine/netguard"
	"github.com/steelengine/steelengine/engine/sandbox"
)

func TestMain(m *testing.M) {
	// The sandbox pool re-executes this test binary as its worker.
	if os.Getenv("STEELENGINE_SANDBOX_WORKER") == "1" {
		os.Exit(sandbox.WorkerMain())
	}
	os.Exit(m.Run())
}

var (
	poolOnce sync.Once
	pool     *sandbox.Pool
	poolErr  error
)

func testPool(t *testing.T) sandbox.Runner {
	t.Helper()
	poolOnce.Do(func() {
		pool, poolErr = sandbox.NewPool(sandbox.PoolOptions{Size: 2, Env: []string{"STEELENGINE_SANDBOX_WORKER=1"}, MemoryLimitBytes: 128 << 20})
	})
	if poolErr != nil {
		t.Fatalf("sandbox pool: %v", poolErr)
	}
	return pool
}

type goldenFile struct {
	Description string          `json:"description"`
	Workflow    json.RawMessage `json:"workflow"`
	Cases       []goldenCase    `json:"cases"`
}

type goldenCase struct {
	Name    string            `json:"name"`
	Input   map[string]any    `json:"input"`
	Env     map[string]string `json:"env"`
	Options struct {
		TimeoutMs         int    `json:"timeoutMs"`
		MaxLoopIterations int    `json:"maxLoopIterations"`
		AllowLoopback     bool   `json:"allowLoopback"`
		Sandbox           string `json:"sandbox"`
	} `json:"options"`
	Expect struct {
		Success            bool           `json:"success"`
		Output             any            `json:"output"`
		Error              string         `json:"error"`
		ErrorCode          string         `json:"errorCode"`
		Order              []string       `json:"order"`
		Ran                []string       `json:"ran"`
		Skipped            []string       `json:"skipped"`
		Runs               map[string]int `json:"runs"`
		Response           any            `json:"response"`
		LogsMustNotContain []string       `json:"logsMustNotContain"`
		MaxDurationMs      int64          `json:"maxDurationMs"`
	} `json:"expect"`
}

// echoServer answers /echo with the query param q, the X-Hello header and the JSON body.
func echoServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var parsed any
		_ = json.Unmarshal(body, &parsed)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"query": r.URL.Query().Get("q"), "header": r.Header.Get("X-Hello"), "body": parsed, "method": r.Method})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	srv := echoServer(t)
	inproc := sandbox.NewInProcess()
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var gf goldenFile
		if err := json.Unmarshal(raw, &gf); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wf, err := Import(gf.Workflow)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			plan, err := Compile(wf, CompileOptions{})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			for _, c := range gf.Cases {
				t.Run(c.Name, func(t *testing.T) {
					in := RunInput{Input: c.Input, Env: map[string]string{"TEST_SERVER": srv.URL}, Sandbox: inproc,
						MaxLoopIterations: c.Options.MaxLoopIterations, Timeout: time.Duration(c.Options.TimeoutMs) * time.Millisecond}
					for k, v := range c.Env {
						in.Env[k] = v
					}
					if c.Options.AllowLoopback {
						in.HTTPClient = netguard.NewClient(netguard.Options{AllowLoopback: true})
					}
					if c.Options.Sandbox == "pool" {
						in.Sandbox = testPool(t)
					}
					res := plan.Run(context.Background(), in)
					checkGolden(t, c, res)
				})
			}
		})
	}
}

func checkGolden(t *testing.T, c goldenCase, res *Result) {
	t.Helper()
	ex := c.Expect
	dump := func() string { b, _ := json.MarshalIndent(res, "", " "); return string(b) }
	if res.Success != ex.Success {
		t.Fatalf("success = %v (error %q), want %v\n%s", res.Success, res.Error, ex.Success, dump())
	}
	if ex.Error != "" && !strings.Contains(res.Error, ex.Error) {
		t.Errorf("error = %q, want it to contain %q", res.Error, ex.Error)
	}
	if ex.ErrorCode != "" && res.ErrorCode != ex.ErrorCode {
		t.Errorf("errorCode = %q, want %q", res.ErrorCode, ex.ErrorCode)
	}
	if ex.Output != nil {
		if got := normalize(res.Output); !reflect.DeepEqual(got, normalize(ex.Output)) {
			t.Errorf("output:\n got  %s\n want %s", mustJSON(got), mustJSON(ex.Output))
		}
	}
	if ex.Response != nil {
		if got := normalize(res.Response); !reflect.DeepEqual(got, normalize(ex.Response)) {
			t.Errorf("response:\n got  %s\n want %s", mustJSON(got), mustJSON(ex.Response))
		}
	}
	logs := append([]BlockLog(nil), res.BlockLogs...)
	sort.SliceStable(logs, func(i, j int) bool { return logs[i].ExecutionOrder < logs[j].ExecutionOrder })
	var order []string
	runs := map[string]int{}
	for _, l := range logs {
		order = append(order, l.BlockName)
		runs[l.BlockName]++
	}
	if ex.Order != nil && !reflect.DeepEqual(order, ex.Order) {
		t.Errorf("block order = %v, want %v", order, ex.Order)
	}
	for _, n := range ex.Ran {
		if runs[n] == 0 {
			t.Errorf("block %q did not run (ran: %v)", n, order)
		}
	}
	for _, n := range ex.Skipped {
		if runs[n] != 0 {
			t.Errorf("block %q ran but should have been skipped", n)
		}
	}
	for n, want := range ex.Runs {
		if runs[n] != want {
			t.Errorf("block %q ran %d times, want %d", n, runs[n], want)
		}
	}
	if len(ex.LogsMustNotContain) > 0 {
		b, _ := json.Marshal(struct {
			L []BlockLog
			S []TraceSpan
		}{res.BlockLogs, res.TraceSpans})
		for _, s := range ex.LogsMustNotContain {
			if strings.Contains(string(b), s) {
				t.Errorf("logs contain secret %q", s)
			}
		}
	}
	if ex.MaxDurationMs > 0 && res.DurationMs > ex.MaxDurationMs {
		t.Errorf("run took %dms, want ≤ %dms", res.DurationMs, ex.MaxDurationMs)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("result is not JSON-serialisable: %v", err)
	}
}

func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
