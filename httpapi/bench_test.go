package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store/bolt"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// The execute benchmarks drive the real handler in-process (no sockets) with a workspace
// key, durable logs included. BenchmarkExecuteBaseline is a bare net/http handler
// answering constant JSON through the same request/recorder path: on a shared machine
// only ratios against it, taken in the same run, mean anything (see README, Benchmarks).

func benchEnv(b *testing.B) *testenv.Env {
	b.Helper()
	return testenv.New(b, testenv.Options{Config: func(c *app.Config) {
		c.Auth.DefaultRateLimit = 1 << 30
	}})
}

// benchEnvPostgres is benchEnv on the PostgreSQL store (skipped as pgtest skips), so the
// same benchmark compares both stores in one run.
func benchEnvPostgres(b *testing.B) *testenv.Env {
	b.Helper()
	url := pgtest.URL(b)
	return testenv.New(b, testenv.Options{Config: func(c *app.Config) {
		c.Auth.DefaultRateLimit = 1 << 30
		c.DatabaseURL = url
	}})
}

func benchDeploy(b *testing.B, e *testenv.Env, fixture string) string {
	b.Helper()
	ctx := context.Background()
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, testenv.Workflow(b, fixture))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		b.Fatal(err)
	}
	return wf.ID
}

func benchServe(b *testing.B, h http.Handler, path, key, body string, want int) {
	b.Helper()
	b.ReportAllocs()
	// 16 goroutines per CPU (32 here): a closed loop like the load test's 32 connections,
	// so group commit batches as it does under load instead of one fsync per op.
	b.SetParallelism(16)
	cpu0 := processCPU()
	b.ResetTimer() // the environment's setup (argon2 hashing, imports) is not the request
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serveOnce(b, h, path, key, body, want)
		}
	})
	// CPU time per request (this process, every goroutine, GC and log writer included):
	// unlike ns/op, hardly moved by other load on a shared machine.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	b.StopTimer()
	b.ReportMetric(float64(liveHeap())/(1<<20), "heap-MB")
}

// liveHeap is the Go heap in use after a collection (runtime/metrics: what the issue's
// "heap after 1M logged executions" goal counts; bbolt's mmap is not Go heap). Run
// BenchmarkExecuteTrivial with -benchtime=1000000x for that figure.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if path := os.Getenv("STEELENGINE_HEAP_PROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	return s[0].Value.Uint64()
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func serveOnce(b *testing.B, h http.Handler, path, key, body string, want int) {
	{
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Errorf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkExecuteBaseline(b *testing.B) {
	h := http.NewServeMux()
	h.HandleFunc("POST /api/workflows/{id}/execute", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"success":true,"output":{"hello":"bench"}}`))
	})
	benchServe(b, h, "/api/workflows/x/execute", "k", `{"name":"bench"}`, http.StatusOK)
}

func BenchmarkExecuteTrivial(b *testing.B) {
	e := benchEnv(b)
	id := benchDeploy(b, e, "trivial.json")
	benchServe(b, e.App.Handler(), "/api/workflows/"+id+"/execute", e.WSKey, `{"name":"bench"}`, http.StatusOK)
}

func BenchmarkExecuteBranchy(b *testing.B) {
	e := benchEnv(b)
	id := benchDeploy(b, e, "branchy.json")
	benchServe(b, e.App.Handler(), "/api/workflows/"+id+"/execute", e.WSKey, `{"n":7}`, http.StatusOK)
}

// BenchmarkExecuteTrivialPostgres is BenchmarkExecuteTrivial with the store on PostgreSQL
// (the test cluster runs without fsync: compare with care, see BENCHMARKS.md).
func BenchmarkExecuteTrivialPostgres(b *testing.B) {
	e := benchEnvPostgres(b)
	id := benchDeploy(b, e, "trivial.json")
	benchServe(b, e.App.Handler(), "/api/workflows/"+id+"/execute", e.WSKey, `{"name":"bench"}`, http.StatusOK)
}

// BenchmarkExecuteBranchyPostgres is BenchmarkExecuteBranchy on PostgreSQL.
func BenchmarkExecuteBranchyPostgres(b *testing.B) {
	e := benchEnvPostgres(b)
	id := benchDeploy(b, e, "branchy.json")
	benchServe(b, e.App.Handler(), "/api/workflows/"+id+"/execute", e.WSKey, `{"n":7}`, http.StatusOK)
}

// BenchmarkExecuteTrivialDisk reports what a trivial execution adds to logs.db
// (disk-B/exec: growth of the file's used size, records, indexes and rollups with
// bbolt's page overhead, divided by the runs), driven like BenchmarkExecuteTrivial. At
// -benchtime=100x the figure is coarse (whole 4 KiB pages); use 20000x for the figure in
// BENCHMARKS.md.
func BenchmarkExecuteTrivialDisk(b *testing.B) {
	e := benchEnv(b)
	id := benchDeploy(b, e, "trivial.json")
	size := func() int64 {
		n, err := e.App.Store.(*bolt.Store).LogDB().Backup(context.Background(), io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	before := size()
	benchServe(b, e.App.Handler(), "/api/workflows/"+id+"/execute", e.WSKey, `{"name":"bench"}`, http.StatusOK)
	b.StopTimer()
	b.ReportMetric(float64(size()-before)/float64(b.N), "disk-B/exec")
}
