package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/engine/sandbox"
)

// The test binary doubles as the sandbox worker: NewPool re-executes it with
// STEELENGINE_SANDBOX_WORKER=1.
func TestMain(m *testing.M) {
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

func testPool(t testing.TB) *sandbox.Pool {
	t.Helper()
	poolOnce.Do(func() {
		pool, poolErr = sandbox.NewPool(sandbox.PoolOptions{
			Size:             4,
			QueueSize:        64,
			Env:              []string{"STEELENGINE_SANDBOX_WORKER=1"},
			MemoryLimitBytes: 128 << 20,
		})
	})
	if poolErr != nil {
		t.Fatalf("NewPool: %v", poolErr)
	}
	return pool
}

// runners returns both implementations so behaviour is checked to match.
func runners(t *testing.T) map[string]sandbox.Runner {
	return map[string]sandbox.Runner{
		"inprocess": sandbox.NewInProcess(),
		"pool":      testPool(t),
	}
}

func forEachRunner(t *testing.T, f func(t *testing.T, r sandbox.Runner)) {
	for name, r := range runners(t) {
		t.Run(name, func(t *testing.T) { f(t, r) })
	}
}

func TestResults(t *testing.T) {
	cases := []struct {
		name string
		code string
		want any
	}{
		{"int", "return 1+1", int64(2)},
		{"float", "return 1.5", 1.5},
		{"string", "return 'hi'", "hi"},
		{"bool", "return true", true},
		{"null", "return null", nil},
		{"undefined", "return undefined", nil},
		{"noReturn", "const x = 1", nil},
		{"nan", "return NaN", nil},
		{"array", "return [1, 'a', null, [true]]", []any{int64(1), "a", nil, []any{true}}},
		{"object", "return {a: 1, b: {c: 'd'}, f: () => 1, u: undefined}", map[string]any{"a": int64(1), "b": map[string]any{"c": "d"}}},
		{"date", "return new Date(0)", "1970-01-01T00:00:00.000Z"},
		{"toJSON", "return {toJSON() { return 'custom' }}", "custom"},
		{"await", "const v = await Promise.resolve(41); return v + 1", int64(42)},
		{"awaitChain", "async function f(x) { return x * 2 }; return await f(await f(3))", int64(12)},
		{"bigInt", "return 9007199254740993", int64(9007199254740992)},
		{"line comment at end", "return 7 // trailing comment", int64(7)},
	}
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := r.Run(context.Background(), sandbox.Request{Code: tc.code})
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if !reflect.DeepEqual(resp.Result, tc.want) {
					t.Fatalf("got %#v, want %#v", resp.Result, tc.want)
				}
			})
		}
	})
}

func TestConsole(t *testing.T) {
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		resp, err := r.Run(context.Background(), sandbox.Request{Code: `
			console.log("hello", 1, {a: [1, 2]}, undefined, null);
			console.error("bad");
			console.warn("careful"); console.info("fyi");
			return 1`})
		if err != nil {
			t.Fatal(err)
		}
		// Sim's prefixes (apps/sim/lib/execution/isolated-vm-worker.cjs).
		want := "hello 1 {\"a\":[1,2]} undefined null\nERROR: bad\nWARN: careful\nfyi\n"
		if resp.Stdout != want {
			t.Fatalf("stdout %q, want %q", resp.Stdout, want)
		}
	})
}

func TestGlobalsAreValues(t *testing.T) {
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		evil := `"); globalThis.pwned = true; ("`
		orig := map[string]any{"k": "v"}
		resp, err := r.Run(context.Background(), sandbox.Request{
			Code: `input.k = "changed"; return {s: text, n: num, big: big, arr: list, obj: input, pwned: typeof pwned, isArr: Array.isArray(list), proto: Object.keys(weird)}`,
			Globals: map[string]any{
				"text":  evil,
				"num":   3,
				"big":   int64(1) << 40,
				"list":  []string{"a", "b"},
				"input": orig,
				"weird": map[string]any{"__proto__": map[string]any{"x": 1}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"s": evil, "n": int64(3), "big": int64(1) << 40,
			"arr": []any{"a", "b"}, "obj": map[string]any{"k": "changed"},
			"pwned": "undefined", "isArr": true, "proto": []any{"__proto__"},
		}
		if !reflect.DeepEqual(resp.Result, want) {
			t.Fatalf("got %#v\nwant %#v", resp.Result, want)
		}
		if orig["k"] != "v" {
			t.Fatalf("script mutated the caller's map: %v", orig)
		}
	})
}

func TestScriptErrors(t *testing.T) {
	cases := []struct {
		name, code, wantMsg string
	}{
		{"throwError", "throw new Error('boom')", "Error: boom"},
		{"typeError", "null.x", "TypeError"},
		{"throwString", "throw 'plain'", "plain"},
		{"throwObject", "throw {code: 7}", `{"code":7}`},
		{"reject", "await Promise.reject(new RangeError('nope'))", "RangeError: nope"},
		{"syntax", "return )(", "SyntaxError"},
		{"recursion", "function f() { return f() }; return f()", "Maximum call stack size exceeded"},
		{"neverSettles", "await new Promise(() => {})", "never settles"},
		{"cyclic result", "const a = {}; a.a = a; return a", "cannot be converted to JSON"},
	}
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := r.Run(context.Background(), sandbox.Request{Code: tc.code})
				var se *sandbox.ScriptError
				if !errors.As(err, &se) {
					t.Fatalf("want ScriptError, got %T %v", err, err)
				}
				if !strings.Contains(se.Message, tc.wantMsg) {
					t.Fatalf("message %q does not contain %q", se.Message, tc.wantMsg)
				}
			})
		}
	})
}

func TestErrorKeepsStdoutAndStack(t *testing.T) {
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		resp, err := r.Run(context.Background(), sandbox.Request{Code: "console.log('before')\nfunction inner() { throw new Error('deep') }\ninner()"})
		var se *sandbox.ScriptError
		if !errors.As(err, &se) {
			t.Fatalf("want ScriptError, got %v", err)
		}
		if !strings.Contains(se.Stack, "inner") {
			t.Errorf("stack %q lacks function name", se.Stack)
		}
		if resp.Stdout != "before\n" {
			t.Errorf("stdout %q", resp.Stdout)
		}
	})
}

func TestNoHostAccess(t *testing.T) {
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		resp, err := r.Run(context.Background(), sandbox.Request{Code: `return [typeof require, typeof process, typeof fetch, typeof setTimeout, typeof XMLHttpRequest, typeof module, typeof Deno, typeof Bun]`})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range resp.Result.([]any) {
			if v != "undefined" {
				t.Errorf("item %d is %v, want undefined", i, v)
			}
		}
	})
}

func TestTimeout(t *testing.T) {
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		for _, code := range []string{"while(true){}", "for(;;){ try { while(true){} } catch(e) {} }", "await null; while(true){}"} {
			start := time.Now()
			_, err := r.Run(context.Background(), sandbox.Request{Code: code, Timeout: 200 * time.Millisecond})
			if !errors.Is(err, sandbox.ErrTimeout) {
				t.Fatalf("%s: want ErrTimeout, got %v", code, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("%s: took %s", code, d)
			}
		}
		// The runner still works afterwards.
		if resp, err := r.Run(context.Background(), sandbox.Request{Code: "return 5"}); err != nil || resp.Result != int64(5) {
			t.Fatalf("after timeout: %v %v", resp.Result, err)
		}
	})
}

func TestContextCancel(t *testing.T) {
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := r.Run(ctx, sandbox.Request{Code: "while(true){}", Timeout: 10 * time.Second})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("cancel took %s", d)
		}
		// Already-cancelled context.
		_, err = r.Run(ctx, sandbox.Request{Code: "return 1"})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
		if resp, err := r.Run(context.Background(), sandbox.Request{Code: "return 6"}); err != nil || resp.Result != int64(6) {
			t.Fatalf("after cancel: %v %v", resp.Result, err)
		}
	})
}

func TestMemoryLimit(t *testing.T) {
	p := testPool(t)
	cases := map[string]string{
		"repeat":       "return 'x'.repeat(2e9).length",
		"repeatSmall":  "let s = 'x'.repeat(1e6); return s.repeat(1e3).length", // 1 GB through the guard
		"arrayGrowth":  "const a = []; for (let i = 0; ; i++) a.push({i, s: 'item' + i}); return a.length",
		"stringGrowth": "let parts = []; let s = 'abcdefgh'; for (;;) { s = s + s.slice(0, 4096); parts.push(s) }",
		"typedArray":   "return new Uint8Array(2e9).length",
		"arrayJoin":    "const a = new Array(1e5).fill('y'.repeat(1e4)); return a.join('').length",
	}
	for name, code := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := p.Run(context.Background(), sandbox.Request{Code: code, Timeout: 20 * time.Second, MemoryLimitBytes: 64 << 20})
			if !errors.Is(err, sandbox.ErrMemoryLimit) {
				t.Fatalf("want ErrMemoryLimit, got %v", err)
			}
			t.Logf("%s: %v in %s", name, err, time.Since(start).Round(time.Millisecond))
			resp, err := p.Run(context.Background(), sandbox.Request{Code: "return 'still alive'"})
			if err != nil || resp.Result != "still alive" {
				t.Fatalf("pool broken after memory failure: %v %v", resp.Result, err)
			}
		})
	}
}

// A catastrophically backtracking regexp runs inside one native call that
// Interrupt cannot reach (the lookahead forces goja's backtracking engine);
// the call must still end at its timeout.
func TestRegexpBacktrackingTimeout(t *testing.T) {
	// The pool's worker bounds the match itself, so the pattern may run
	// "forever". In-process the abandoned goroutine keeps running until the
	// match ends, so keep that one to about a second of work.
	n := map[string]int{"pool": 40, "inprocess": 23}
	for name, r := range runners(t) {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			code := fmt.Sprintf("return /^(a+)+(?!x)$/.test('a'.repeat(%d) + 'b')", n[name])
			_, err := r.Run(context.Background(), sandbox.Request{Code: code, Timeout: 100 * time.Millisecond})
			if !errors.Is(err, sandbox.ErrTimeout) {
				t.Fatalf("want ErrTimeout, got %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
}

// In-process cannot cap memory, but single huge string builders are refused.
func TestInProcessStringGuard(t *testing.T) {
	r := sandbox.NewInProcess()
	for _, code := range []string{"return 'x'.repeat(2e9).length", "return ''.padStart(1e10, 'ab').length", "try { 'ab'.repeat(1e12) } catch (e) {} return 1"} {
		if _, err := r.Run(context.Background(), sandbox.Request{Code: code}); !errors.Is(err, sandbox.ErrMemoryLimit) {
			t.Fatalf("%s: want ErrMemoryLimit, got %v", code, err)
		}
	}
	resp, err := r.Run(context.Background(), sandbox.Request{Code: "return ['ab'.repeat(3), '5'.padStart(3, '0'), 'x'.padEnd(2)]"})
	if err != nil || !reflect.DeepEqual(resp.Result, []any{"ababab", "005", "x "}) {
		t.Fatalf("guards changed behaviour: %v %v", resp.Result, err)
	}
}

// Formatting a thrown value runs user code; it is still bounded by the
// timeout.
func TestHostileThrownValue(t *testing.T) {
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		_, err := r.Run(context.Background(), sandbox.Request{Code: "throw {toString() { while(true){} }, get stack() { while(true){} }}", Timeout: 200 * time.Millisecond})
		if err == nil {
			t.Fatal("want error")
		}
		_, err = r.Run(context.Background(), sandbox.Request{Code: "return {toJSON() { while(true){} }}", Timeout: 200 * time.Millisecond})
		if !errors.Is(err, sandbox.ErrTimeout) {
			t.Fatalf("toJSON loop: want ErrTimeout, got %v", err)
		}
	})
}

// Memory-hungry but within the limit must still succeed (the watchdog must
// not fire on garbage).
func TestMemoryWithinLimit(t *testing.T) {
	p := testPool(t)
	resp, err := p.Run(context.Background(), sandbox.Request{
		Code:    "let n = 0; for (let i = 0; i < 200; i++) { const a = new Array(10000).fill(i); n += a.length } return n",
		Timeout: 20 * time.Second,
	})
	if err != nil || resp.Result != int64(2000000) {
		t.Fatalf("got %v %v", resp.Result, err)
	}
}

func TestConcurrent(t *testing.T) {
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := r.Run(context.Background(), sandbox.Request{
					Code:    "console.log(n); return n * 2",
					Globals: map[string]any{"n": i},
					Timeout: 20 * time.Second,
				})
				if err != nil {
					errs <- err
					return
				}
				if resp.Result != int64(2*i) || resp.Stdout != fmt.Sprintf("%d\n", i) {
					errs <- fmt.Errorf("call %d: got %v / %q", i, resp.Result, resp.Stdout)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestPoolQueueAndClose(t *testing.T) {
	p, err := sandbox.NewPool(sandbox.PoolOptions{Size: 1, QueueSize: -1, Env: []string{"STEELENGINE_SANDBOX_WORKER=1"}})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		_, err := p.Run(context.Background(), sandbox.Request{Code: "while(true){}", Timeout: 500 * time.Millisecond})
		done <- err
	}()
	<-started
	time.Sleep(100 * time.Millisecond)
	if _, err := p.Run(context.Background(), sandbox.Request{Code: "return 1"}); !errors.Is(err, sandbox.ErrPoolBusy) {
		t.Fatalf("want ErrPoolBusy, got %v", err)
	}
	if err := <-done; !errors.Is(err, sandbox.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), sandbox.Request{Code: "return 1"}); !errors.Is(err, sandbox.ErrPoolClosed) {
		t.Fatalf("want ErrPoolClosed, got %v", err)
	}
}

func TestPoolBadExecutable(t *testing.T) {
	_, err := sandbox.NewPool(sandbox.PoolOptions{Path: "/nonexistent/steelengine"})
	if err == nil {
		t.Fatal("want error")
	}
	// A binary that is not a worker (here: this test binary without the env
	// switch would run the tests; /bin/true exits at once).
	if _, err := os.Stat("/bin/true"); err == nil {
		if _, err := sandbox.NewPool(sandbox.PoolOptions{Path: "/bin/true"}); err == nil {
			t.Fatal("want error for non-worker binary")
		}
	}
}

func BenchmarkInProcess(b *testing.B) {
	r := sandbox.NewInProcess()
	ctx := context.Background()
	req := sandbox.Request{Code: "return 1+1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Run(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPool(b *testing.B) {
	p := testPool(b)
	ctx := context.Background()
	req := sandbox.Request{Code: "return 1+1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// fetch() is answered by Request.Fetch in the caller's process; a fetch that
// outlives the call's time or its context ends the call, and the runner stays usable.
func TestFetch(t *testing.T) {
	forEachRunner(t, func(t *testing.T, r sandbox.Runner) {
		echo := func(_ context.Context, fr sandbox.FetchRequest) (sandbox.FetchResponse, error) {
			if fr.URL == "http://bad/" {
				return sandbox.FetchResponse{}, errors.New("refused")
			}
			return sandbox.FetchResponse{Status: 404, Headers: map[string]string{"x-a": "1"}, Body: fr.Method + " " + fr.URL + " " + fr.Headers["k"] + " " + fr.Body}, nil
		}
		resp, err := r.Run(context.Background(), sandbox.Request{Fetch: echo, Code: `const r = await fetch('http://x/', {method: 'put', headers: {k: 'v'}, body: 'b'})
let msg = ''
try { await fetch('http://bad/') } catch (e) { msg = e.name + ': ' + e.message }
return [r.status, r.ok, r.headers.get('X-A'), await r.text(), msg]`})
		want := []any{int64(404), false, "1", "PUT http://x/ v b", "TypeError: fetch failed: refused"}
		if err != nil || !reflect.DeepEqual(resp.Result, want) {
			t.Fatalf("got %v %v", resp.Result, err)
		}
		block := func(ctx context.Context, _ sandbox.FetchRequest) (sandbox.FetchResponse, error) {
			<-ctx.Done()
			return sandbox.FetchResponse{}, ctx.Err()
		}
		start := time.Now()
		_, err = r.Run(context.Background(), sandbox.Request{Fetch: block, Code: `await fetch('http://x/'); while(true){}`, Timeout: 200 * time.Millisecond})
		if !errors.Is(err, sandbox.ErrTimeout) || time.Since(start) > 2*time.Second {
			t.Fatalf("slow fetch: %v after %s", err, time.Since(start))
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err = r.Run(ctx, sandbox.Request{Fetch: block, Code: `await fetch('http://x/'); while(true){}`, Timeout: 10 * time.Second})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled fetch: %v", err)
		}
		if resp, err := r.Run(context.Background(), sandbox.Request{Code: "return 7"}); err != nil || resp.Result != int64(7) {
			t.Fatalf("after fetch: %v %v", resp.Result, err)
		}
	})
}
