package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// WorkerMain is the body of the hidden `sandbox-worker` command: it serves
// Pool requests on stdin/stdout until stdin closes, and returns the process
// exit code. The command must call it before doing anything else (no config
// loading, no logging to stdout).
func WorkerMain() int {
	if err := serveWorker(); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox-worker: %v\n", err)
		return 1
	}
	return 0
}

// cancelFD is the worker's cancel pipe (the Pool's first ExtraFiles entry).
const cancelFD = 3

func serveWorker() error {
	out, err := protocolStdout()
	if err != nil {
		return err
	}
	// Requests are read and executed on this goroutine: no hand-off to
	// another goroutine keeps the round trip short. Cancels therefore come
	// on a separate pipe, read by their own goroutine.
	in := newFrameReader(os.Stdin)
	w := bufio.NewWriterSize(out, 64<<10)

	frame, err := in.next()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	var cfg configMsg
	if err := json.Unmarshal(frame, &cfg); err != nil {
		return fmt.Errorf("decoding config: %w", err)
	}
	poolLimit := withDefaults(Request{MemoryLimitBytes: cfg.MemoryLimitBytes}).MemoryLimitBytes
	// Limits go on before any untrusted code is accepted.
	hard, err := applyHardMemoryLimit(poolLimit)
	if err != nil {
		return err
	}
	exitOnCPULimit()
	// The worker's own heap is tiny, so with the default GOGC a trivial call
	// pays for frequent collections. The per-call soft memory limit (set in
	// runInWorker) still forces collection long before the cap.
	debug.SetGCPercent(400)
	if err := writeFrame(w, readyMsg{Type: "ready", HardLimitBytes: hard}); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing ready: %w", err)
	}

	var cur currentRun
	go cur.readCancels(os.NewFile(cancelFD, "sandbox-cancel"))

	var lastSoft int64
	for {
		// Build the next runtime while idle: it is most of a trivial
		// call's cost and needs nothing from the request.
		next, err := newScriptState()
		if err != nil {
			return err
		}
		frame, err := in.next()
		if errors.Is(err, io.EOF) {
			return nil // the pool closed our stdin: orderly shutdown
		}
		if err != nil {
			return fmt.Errorf("reading request: %w", err)
		}
		var m runMsg
		dec := json.NewDecoder(bytes.NewReader(frame))
		dec.UseNumber() // keep integers exact for toJS
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("decoding request: %w", err)
		}
		if m.Type != "run" {
			continue
		}
		ctx := cur.start(m.ID)
		var fetch func(FetchRequest) (FetchResponse, error)
		if m.Fetch {
			fetch = func(r FetchRequest) (FetchResponse, error) { return askParent(in, w, m.ID, r) }
		}
		res := runInWorker(ctx, next, m, poolLimit, &lastSoft, fetch)
		cur.finish()
		if err := writeFrame(w, res); err != nil {
			// Most likely an unencodable result; report it instead.
			res = resultMsg{Type: "result", ID: m.ID, Stdout: res.Stdout, Kind: kindInternal, Msg: err.Error()}
			if err := writeFrame(w, res); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("writing result: %w", err)
		}
	}
}

// askParent has the parent perform a fetch for run id and waits for its answer.
// The parent bounds the request by the call's time, and kills a worker that
// outlives it, so the wait needs no timer of its own.
func askParent(in *frameReader, w *bufio.Writer, id uint64, r FetchRequest) (FetchResponse, error) {
	if err := writeFrame(w, resultMsg{Type: "fetch", ID: id, FetchReq: &r}); err != nil {
		return FetchResponse{}, err
	}
	if err := w.Flush(); err != nil {
		return FetchResponse{}, fmt.Errorf("asking the parent: %w", err)
	}
	for {
		frame, err := in.next()
		if err != nil {
			return FetchResponse{}, fmt.Errorf("waiting for the parent: %w", err)
		}
		var m runMsg
		if err := json.Unmarshal(frame, &m); err != nil {
			return FetchResponse{}, fmt.Errorf("decoding the parent's answer: %w", err)
		}
		if m.Type != "fetched" || m.ID != id {
			continue
		}
		if m.FetchErr != "" {
			return FetchResponse{}, errors.New(m.FetchErr)
		}
		if m.FetchRes == nil {
			return FetchResponse{}, errors.New("empty answer")
		}
		return *m.FetchRes, nil
	}
}

// currentRun connects cancel messages to the running request. Request ids
// increase per worker, so a cancel that overtakes its run (read before the
// run was started) is remembered as "everything up to id is cancelled".
type currentRun struct {
	mu            sync.Mutex
	id            uint64
	cancel        context.CancelFunc
	cancelledUpTo uint64
}

func (c *currentRun) start(id uint64) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id, c.cancel = id, cancel
	if id <= c.cancelledUpTo {
		cancel()
	}
	return ctx
}

func (c *currentRun) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
	c.id, c.cancel = 0, nil
}

func (c *currentRun) readCancels(f *os.File) {
	fr := newFrameReader(f)
	for {
		frame, err := fr.next()
		if err != nil {
			return // no cancel pipe (run by hand) or pool gone
		}
		var m runMsg
		if err := json.Unmarshal(frame, &m); err != nil || m.Type != "cancel" {
			continue
		}
		c.mu.Lock()
		c.cancelledUpTo = max(c.cancelledUpTo, m.ID)
		if c.id == m.ID && c.cancel != nil {
			c.cancel()
		}
		c.mu.Unlock()
	}
}

func runInWorker(ctx context.Context, s *scriptState, m runMsg, poolLimit int64, lastSoft *int64, fetch func(FetchRequest) (FetchResponse, error)) resultMsg {
	req := withDefaults(Request{Timeout: time.Duration(m.TimeoutNanos), MemoryLimitBytes: m.MemoryLimitBytes})
	limit := min(req.MemoryLimitBytes, poolLimit)
	// Let the GC work hard before the watchdog threshold, so garbage-heavy
	// but small scripts are not mistaken for large ones.
	if soft := limit*3/4 + 16<<20; soft != *lastSoft {
		debug.SetMemoryLimit(soft)
		*lastSoft = soft
	}
	// regexp2 (goja's backtracking regexp engine) runs inside one native
	// call that Interrupt cannot reach; its own match timeout makes a
	// catastrophic pattern give up (as "no match") when the call's time is
	// up, and the pending interrupt then ends the script. The variable is
	// global, which is fine here: a worker runs one call at a time.
	regexp2.DefaultMatchTimeout = req.Timeout
	restore := cpuBudget(req.Timeout + 2*time.Second)
	out := execute(ctx, s, m.Code, m.Globals, req.Timeout, limit, heapWatchdog, fetch)
	restore()

	res := resultMsg{Type: "result", ID: m.ID, Stdout: out.stdout}
	var se *ScriptError
	switch {
	case out.err == nil:
		res.Result = out.result
	case errors.As(out.err, &se):
		res.Kind, res.Msg, res.Stack = kindScript, se.Message, se.Stack
	case errors.Is(out.err, ErrTimeout):
		res.Kind, res.Msg = kindTimeout, out.err.Error()
	case errors.Is(out.err, ErrMemoryLimit):
		res.Kind, res.Msg = kindMemory, out.err.Error()
	case errors.Is(out.err, context.Canceled):
		res.Kind, res.Msg = kindCancel, out.err.Error()
	default:
		res.Kind, res.Msg = kindInternal, out.err.Error()
	}
	if errors.Is(out.err, ErrMemoryLimit) || heapObjectsBytes() > uint64(limit)/2 {
		// Give memory back before the next call rather than carry a
		// bloated heap into it.
		runtime.GC()
		debug.FreeOSMemory()
	}
	return res
}

var heapMetric = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
var heapMetricMu sync.Mutex

func heapObjectsBytes() uint64 {
	heapMetricMu.Lock()
	defer heapMetricMu.Unlock()
	metrics.Read(heapMetric)
	if heapMetric[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return heapMetric[0].Value.Uint64()
}

// heapWatchdog interrupts the script when live heap objects exceed limit.
// Polling (rather than a GC hook) is enough: goja allocates in small steps
// from interruptible JS code, and the hard RLIMIT_AS catches the rest.
func heapWatchdog(limit int64, interrupt func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if heapObjectsBytes() > uint64(limit) {
					interrupt()
					return
				}
			}
		}
	}()
	return func() { close(done) }
}
