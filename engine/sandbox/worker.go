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

func serveWorker() error {
	out, err := protocolStdout()
	if err != nil {
		return err
	}
	in := bufio.NewReaderSize(os.Stdin, 64<<10)
	w := bufio.NewWriterSize(out, 64<<10)

	frame, err := readFrame(in)
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
	if err := writeFrame(w, readyMsg{Type: "ready", HardLimitBytes: hard}); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing ready: %w", err)
	}

	type runItem struct {
		msg runMsg
		ctx context.Context
	}
	var (
		mu      sync.Mutex
		cancels = map[uint64]context.CancelFunc{}
		runs    = make(chan runItem)
		readErr error
	)
	// Reader: runs go to the executor; cancels interrupt the matching run.
	// Reading continues while a script runs so a cancel can land.
	go func() {
		defer close(runs)
		for {
			frame, err := readFrame(in)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr = err
				}
				return
			}
			var m runMsg
			dec := json.NewDecoder(bytes.NewReader(frame))
			dec.UseNumber() // keep integers exact for toJS
			if err := dec.Decode(&m); err != nil {
				readErr = fmt.Errorf("decoding request: %w", err)
				return
			}
			switch m.Type {
			case "run":
				ctx, cancel := context.WithCancel(context.Background())
				mu.Lock()
				cancels[m.ID] = cancel
				mu.Unlock()
				runs <- runItem{msg: m, ctx: ctx}
			case "cancel":
				mu.Lock()
				if c := cancels[m.ID]; c != nil {
					c()
				}
				mu.Unlock()
			}
		}
	}()

	var lastSoft int64
	for it := range runs {
		res := runInWorker(it.ctx, it.msg, poolLimit, &lastSoft)
		mu.Lock()
		if c := cancels[it.msg.ID]; c != nil {
			c()
			delete(cancels, it.msg.ID)
		}
		mu.Unlock()
		if err := writeFrame(w, res); err != nil {
			// Most likely an unencodable result; report it instead.
			res = resultMsg{Type: "result", ID: it.msg.ID, Stdout: res.Stdout, Kind: kindInternal, Msg: err.Error()}
			if err := writeFrame(w, res); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("writing result: %w", err)
		}
	}
	return readErr
}

func runInWorker(ctx context.Context, m runMsg, poolLimit int64, lastSoft *int64) resultMsg {
	req := withDefaults(Request{Timeout: time.Duration(m.TimeoutNanos), MemoryLimitBytes: m.MemoryLimitBytes})
	limit := min(req.MemoryLimitBytes, poolLimit)
	// Let the GC work hard before the watchdog threshold, so garbage-heavy
	// but small scripts are not mistaken for large ones.
	if soft := limit*3/4 + 16<<20; soft != *lastSoft {
		debug.SetMemoryLimit(soft)
		*lastSoft = soft
	}
	restore := cpuBudget(req.Timeout + 2*time.Second)
	out := execute(ctx, m.Code, m.Globals, req.Timeout, limit, heapWatchdog)
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
