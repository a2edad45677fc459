// Package sandbox runs untrusted JavaScript (the code of Sim function blocks)
// with hard limits on CPU time and memory.
//
// The code is an async function body: `return x` gives the result and
// `await` may be used. It runs in a fresh goja runtime per call with only the
// ECMAScript builtins, `console` (captured into Response.Stdout) and the
// request's Globals (bound as values, never spliced into source). There is no
// require, filesystem, timers, process or environment access; network access
// exists only as fetch() when the caller passes Request.Fetch, which runs in the
// caller's process.
//
// Two Runners exist:
//
//   - NewInProcess runs goja in the calling process. Timeouts and context
//     cancellation interrupt the script, but goja cannot cap memory (goja
//     issues #6 and #645): a hostile script can exhaust the server's memory
//     (single huge String.repeat/padStart/padEnd calls are refused). A
//     script stuck in one native call (a catastrophic regexp) cannot be
//     interrupted: Run returns ErrTimeout but the goroutine runs on until
//     the call ends. Use it for trusted code, tests and tooling.
//   - NewPool runs every call in a reusable worker process (the same binary
//     re-executed as the hidden `sandbox-worker` command, see WorkerMain)
//     that caps its own address space with RLIMIT_AS, its CPU time with
//     RLIMIT_CPU and its Go heap with a watchdog. A worker that dies
//     mid-call fails only that call (ErrMemoryLimit) and is replaced.
//
// Results are JSON-shaped Go values: map[string]any, []any, int64 (for
// integral numbers that fit), float64, string, bool and nil. They are
// produced with the sandbox's own JSON.stringify, so they follow JSON
// semantics exactly (toJSON is honoured, Dates become ISO strings, undefined
// and functions are dropped, NaN becomes nil), identically for both runners.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Defaults for zero Request fields.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultMemoryLimitBytes = 256 << 20
	// minMemoryLimitBytes keeps tiny limits from making the soft watchdog
	// fire on the runtime's own baseline.
	minMemoryLimitBytes = 16 << 20
	// maxStdoutBytes caps captured console output per call.
	maxStdoutBytes = 1 << 20
	// maxResultBytes caps the JSON size of a result.
	maxResultBytes = 64 << 20
	// maxCallDepth bounds JS recursion so deep recursion is a RangeError
	// rather than unbounded goja stack growth.
	maxCallDepth = 4096
)

// Request is one execution of a function body.
type Request struct {
	// Code is an async function BODY; `return x` gives Response.Result.
	Code string
	// Globals are bound as global identifiers before the code runs. They
	// are deep-copied as JSON-shaped values: the script cannot mutate the
	// caller's maps, and a string is only ever a string.
	Globals map[string]any
	// Timeout bounds the wall-clock run time; 0 means DefaultTimeout.
	Timeout time.Duration
	// MemoryLimitBytes bounds the memory the script may use; 0 means
	// DefaultMemoryLimitBytes. Enforced only by Pool (clamped to the pool's
	// own limit); NewInProcess uses it just to refuse obviously huge single
	// allocations such as 'x'.repeat(1e10).
	MemoryLimitBytes int64
	// Tenant groups calls for fair scheduling (the workspace): Pool limits how many
	// workers one tenant holds and serves waiting tenants in turn.
	Tenant string
	// Fetch serves the script's fetch(); nil means there is no fetch. It runs in
	// the calling process (never in a worker), with a context that ends when
	// the call's time is up.
	Fetch Fetcher
}

// Response is the outcome of a successful call. On error, Run still returns
// whatever console output was captured before the failure.
type Response struct {
	Result any
	Stdout string
}

// Runner executes function bodies. Implementations are safe for concurrent
// use.
type Runner interface {
	Run(ctx context.Context, req Request) (Response, error)
}

var (
	// ErrTimeout means the script ran past its timeout (or CPU budget).
	ErrTimeout = errors.New("execution timed out")
	// ErrMemoryLimit means the script exceeded its memory limit, or its
	// worker process died mid-call.
	ErrMemoryLimit = errors.New("memory limit exceeded")
	// ErrPoolClosed is returned by Pool.Run after Close.
	ErrPoolClosed = errors.New("sandbox: pool closed")
	// ErrPoolBusy is returned when all workers are busy and the wait queue
	// is full.
	ErrPoolBusy = errors.New("sandbox: all workers busy and queue full")
)

// ScriptError is an exception thrown (or a promise rejected) by the script,
// or a syntax error in it.
type ScriptError struct {
	// Message is the JavaScript string form, e.g. "TypeError: x is not a
	// function".
	Message string
	// Stack is the JavaScript stack trace when available.
	Stack string
}

func (e *ScriptError) Error() string { return e.Message }

func withDefaults(req Request) Request {
	if req.Timeout <= 0 {
		req.Timeout = DefaultTimeout
	}
	if req.MemoryLimitBytes <= 0 {
		req.MemoryLimitBytes = DefaultMemoryLimitBytes
	}
	if req.MemoryLimitBytes < minMemoryLimitBytes {
		req.MemoryLimitBytes = minMemoryLimitBytes
	}
	return req
}

// NewInProcess returns a Runner that executes scripts in this process. See
// the package documentation for why it cannot enforce memory limits.
func NewInProcess() Runner { return inProcess{} }

type inProcess struct{}

func (inProcess) Run(ctx context.Context, req Request) (Response, error) {
	req = withDefaults(req)
	globals, err := normalizeGlobals(req.Globals)
	if err != nil {
		return Response{}, err
	}
	// Interrupts only land between JS instructions. A script stuck inside
	// one native call (a catastrophically backtracking regexp, say) cannot
	// be stopped in-process, so the caller stops waiting for it instead;
	// the goroutine is abandoned and ends when the call finally returns.
	done := make(chan execOutcome, 1)
	fetch := boundFetch(ctx, req.Fetch, time.Now().Add(req.Timeout+fetchGrace))
	go func() { done <- execute(ctx, nil, req.Code, globals, req.Timeout, req.MemoryLimitBytes, nil, fetch) }()
	timer := time.NewTimer(req.Timeout + inProcessGrace)
	defer timer.Stop()
	var out execOutcome
	select {
	case out = <-done:
	case <-timer.C:
		return Response{}, fmt.Errorf("sandbox: %w after %s (stuck in a native call; abandoned)", ErrTimeout, req.Timeout)
	case <-ctx.Done():
		select {
		case out = <-done: // the interrupt normally lands at once
		case <-time.After(inProcessGrace):
			return Response{}, fmt.Errorf("sandbox: cancelled: %w", context.Cause(ctx))
		}
	}
	resp := Response{Stdout: out.stdout}
	if out.err != nil {
		return resp, out.err
	}
	resp.Result, err = decodeResult(out.result)
	return resp, err
}

// inProcessGrace is how long past the timeout (or cancellation) an
// in-process call may take to notice its interrupt.
const inProcessGrace = 250 * time.Millisecond

// fetchGrace lets a fetch outlast the call's own timer a little, so a fetch
// still running when time is up ends the call as a timeout (the interrupt is
// pending when the script resumes) rather than as a rejected fetch.
const fetchGrace = 100 * time.Millisecond

// boundFetch runs f with the call's context and deadline; nil if f is nil.
func boundFetch(ctx context.Context, f Fetcher, deadline time.Time) func(FetchRequest) (FetchResponse, error) {
	if f == nil {
		return nil
	}
	return func(r FetchRequest) (FetchResponse, error) {
		fctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		return f(fctx, r)
	}
}
