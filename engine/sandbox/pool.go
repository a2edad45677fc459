package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"
)

// PoolOptions configures NewPool. Zero values select defaults.
type PoolOptions struct {
	// Size is the maximum number of worker processes (and so of
	// concurrent calls); 0 means DefaultPoolSize.
	Size int
	// QueueSize is how many callers may wait for a free worker before Run
	// fails fast with ErrPoolBusy; 0 means 8×Size, negative means no
	// waiting at all.
	QueueSize int
	// TenantLimit caps the workers one tenant (Request.Tenant) holds at once;
	// 0 means an equal share among the tenants running or waiting, at most
	// Size-1 so that one worker stays free for another tenant.
	TenantLimit int
	// TenantQueue caps one tenant's waiting callers; 0 means three quarters
	// of QueueSize (at least 1), so one tenant never fills the whole queue.
	TenantQueue int
	// Path is the executable to start; "" means os.Executable().
	Path string
	// Args are the worker's arguments; nil means {"sandbox-worker"}.
	Args []string
	// Env is the worker's complete environment. The server's own
	// environment (which may hold secrets) is deliberately not inherited.
	// GOMAXPROCS=2 is added unless Env sets it.
	Env []string
	// MemoryLimitBytes is each worker's memory cap and the default and
	// maximum per-request limit; 0 means DefaultMemoryLimitBytes.
	MemoryLimitBytes int64
	// KillGrace is how long past a request's timeout the pool waits for a
	// worker to answer before killing it; 0 means 1s.
	KillGrace time.Duration
	// StartTimeout bounds worker start-up; 0 means 10s.
	StartTimeout time.Duration
}

// Pool runs scripts in reusable worker processes. It implements Runner.
type Pool struct {
	opts PoolOptions

	sched *sched        // worker slots, shared fairly between tenants
	done  chan struct{} // closed by Close

	mu     sync.Mutex
	idle   []*worker
	all    map[*worker]struct{}
	closed bool
}

// DefaultPoolSize is one worker per CPU (GOMAXPROCS), but no more than fit in half
// the machine's memory at memLimit bytes each (0: DefaultMemoryLimitBytes).
func DefaultPoolSize(memLimit int64) int {
	n := runtime.GOMAXPROCS(0)
	if memLimit <= 0 {
		memLimit = DefaultMemoryLimitBytes
	}
	if total := totalMemory(); total > 0 {
		n = min(n, int(total/2/memLimit))
	}
	return max(n, 1)
}

// NewPool validates the options and starts one worker so that a broken
// configuration (wrong path, worker command not wired up) fails here rather
// than on the first workflow run.
func NewPool(opts PoolOptions) (*Pool, error) {
	if opts.Size <= 0 {
		opts.Size = DefaultPoolSize(opts.MemoryLimitBytes)
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = 8 * opts.Size
	}
	opts.QueueSize = max(opts.QueueSize, 0)
	if opts.TenantQueue <= 0 {
		opts.TenantQueue = max(1, opts.QueueSize*3/4)
	}
	if opts.Path == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("sandbox: locating own executable for workers: %w", err)
		}
		opts.Path = exe
	}
	if opts.Args == nil {
		opts.Args = []string{"sandbox-worker"}
	}
	opts.Env = append([]string(nil), opts.Env...)
	hasMaxProcs := false
	for _, kv := range opts.Env {
		if strings.HasPrefix(kv, "GOMAXPROCS=") {
			hasMaxProcs = true
		}
	}
	if !hasMaxProcs {
		// One script at a time per worker: one P for it, one for GC and
		// the watchdog.
		opts.Env = append(opts.Env, "GOMAXPROCS=2")
	}
	opts.MemoryLimitBytes = withDefaults(Request{MemoryLimitBytes: opts.MemoryLimitBytes}).MemoryLimitBytes
	if opts.KillGrace <= 0 {
		opts.KillGrace = time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	p := &Pool{
		opts:  opts,
		sched: newSched(opts.Size, opts.TenantLimit, opts.QueueSize, opts.TenantQueue),
		done:  make(chan struct{}),
		all:   map[*worker]struct{}{},
	}
	w, err := p.spawn()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.idle = append(p.idle, w)
	p.mu.Unlock()
	return p, nil
}

// Close kills all workers. Calls in flight fail with ErrPoolClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.sched.close()
	close(p.done)
	ws := make([]*worker, 0, len(p.all))
	for w := range p.all {
		ws = append(ws, w)
	}
	p.idle = nil
	p.mu.Unlock()
	for _, w := range ws {
		w.kill()
	}
	for _, w := range ws {
		<-w.dead
	}
	return nil
}

// Run executes req in a worker process.
func (p *Pool) Run(ctx context.Context, req Request) (Response, error) {
	req = withDefaults(req)
	if req.MemoryLimitBytes > p.opts.MemoryLimitBytes {
		req.MemoryLimitBytes = p.opts.MemoryLimitBytes
	}
	if err := ctx.Err(); err != nil {
		return Response{}, fmt.Errorf("sandbox: cancelled before start: %w", err)
	}
	globals, err := normalizeGlobals(req.Globals)
	if err != nil {
		return Response{}, err
	}
	if err := p.sched.acquire(ctx, req.Tenant, p.done); err != nil {
		return Response{}, err
	}
	// A worker that died while idle only shows up when we write to it;
	// such a failure happens before the script could run, so retry once
	// with a fresh worker.
	for attempt := 0; ; attempt++ {
		w, err := p.worker()
		if err != nil {
			p.sched.release(req.Tenant)
			return Response{}, err
		}
		w.tenant = req.Tenant
		resp, retry, err := p.call(ctx, w, req, globals)
		if retry && attempt == 0 {
			// call released the slot with the dead worker; take another.
			if err := p.sched.acquire(ctx, req.Tenant, p.done); err != nil {
				return Response{}, err
			}
			continue
		}
		return resp, err
	}
}

// worker returns an idle worker or starts one; the caller holds a slot.
func (p *Pool) worker() (*worker, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	for n := len(p.idle); n > 0; n = len(p.idle) {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if w.isDead() {
			// Died while idle (e.g. the kernel OOM killer): drop it.
			delete(p.all, w)
			continue
		}
		p.mu.Unlock()
		return w, nil
	}
	p.mu.Unlock()
	return p.spawn()
}

// release returns the slot, and the worker to the idle list if it is still
// usable.
func (p *Pool) release(w *worker, healthy bool) {
	tenant := w.tenant // read before w can go to another caller
	p.mu.Lock()
	if healthy && !p.closed && !w.isDead() {
		p.idle = append(p.idle, w)
		p.mu.Unlock()
	} else {
		delete(p.all, w)
		p.mu.Unlock()
		w.kill()
	}
	p.sched.release(tenant)
}

// call runs one request on w and releases w and the slot. retry reports a
// failure before the worker received the request.
func (p *Pool) call(ctx context.Context, w *worker, req Request, globals map[string]any) (resp Response, retry bool, err error) {
	w.seq++
	id := w.seq
	deadline := time.Now().Add(req.Timeout + p.opts.KillGrace)
	msg := runMsg{Type: "run", ID: id, Code: req.Code, Globals: globals, TimeoutNanos: int64(req.Timeout), MemoryLimitBytes: req.MemoryLimitBytes, Fetch: req.Fetch != nil}
	fetch := boundFetch(ctx, req.Fetch, time.Now().Add(req.Timeout+fetchGrace))
	if err := w.send(w.in, msg, deadline); err != nil {
		p.release(w, false)
		if p.isClosed() {
			return Response{}, false, ErrPoolClosed
		}
		return Response{}, true, fmt.Errorf("sandbox: sending request to worker: %w", err)
	}
	for {
		frame, err := w.recv(ctx, deadline)
		switch {
		case err == nil:
			if fr, ok := decodeFetchMsg(frame); ok && fr.ID == id && fetch != nil {
				ans := runMsg{Type: "fetched", ID: id}
				if r, err := fetch(*fr.FetchReq); err != nil {
					ans.FetchErr = err.Error()
				} else {
					ans.FetchRes = &r
				}
				if err := w.send(w.in, ans, deadline); err != nil {
					ans = runMsg{Type: "fetched", ID: id, FetchErr: "answer too large or worker gone"}
					_ = w.send(w.in, ans, deadline)
				}
				if ctx.Err() != nil {
					// Cancelled while fetching: as below, without waiting for
					// the script to handle the failed fetch.
					_ = w.send(w.cancel, runMsg{Type: "cancel", ID: id}, time.Now().Add(100*time.Millisecond))
					go p.drain(w, id)
					return Response{}, false, fmt.Errorf("sandbox: cancelled: %w", context.Cause(ctx))
				}
				continue
			}
			res, ok := decodeResultMsg(frame)
			if !ok || res.ID != id {
				continue // stale or malformed; wait for our answer
			}
			p.release(w, true)
			resp, err := p.resultToResponse(res, req)
			return resp, false, err
		case errors.Is(err, os.ErrDeadlineExceeded):
			if ctx.Err() != nil {
				// Tell the worker to stop and hand it to a drainer, so
				// the caller returns now and the worker is reused once it
				// has answered.
				_ = w.send(w.cancel, runMsg{Type: "cancel", ID: id}, time.Now().Add(100*time.Millisecond))
				go p.drain(w, id)
				return Response{}, false, fmt.Errorf("sandbox: cancelled: %w", context.Cause(ctx))
			}
			if !time.Now().Before(deadline) {
				// The in-worker interrupt did not answer in time: a
				// native builtin is stuck or the worker is wedged.
				p.release(w, false)
				return Response{}, false, fmt.Errorf("sandbox: %w after %s (worker unresponsive, killed)", ErrTimeout, req.Timeout)
			}
			// A stale cancel wake-up from an earlier call; keep waiting.
		default:
			// EOF or a broken pipe: the worker died mid-call.
			w.awaitExit(time.Second)
			p.release(w, false)
			return Response{}, false, p.deathError(w)
		}
	}
}

// drain waits for the answer to an abandoned call before reusing w.
func (p *Pool) drain(w *worker, id uint64) {
	deadline := time.Now().Add(p.opts.KillGrace)
	for {
		frame, err := w.recv(context.Background(), deadline)
		switch {
		case err == nil:
			if res, ok := decodeResultMsg(frame); ok && res.ID == id {
				p.release(w, true)
				return
			}
			if fr, ok := decodeFetchMsg(frame); ok && fr.ID == id {
				// The cancelled script is waiting on a fetch: refuse it so it ends.
				_ = w.send(w.in, runMsg{Type: "fetched", ID: id, FetchErr: "cancelled"}, deadline)
			}
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(deadline):
			// Stale wake-up from the cancelled call's context.
		default:
			p.release(w, false)
			return
		}
	}
}

func (p *Pool) isClosed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func decodeResultMsg(frame []byte) (resultMsg, bool) {
	var res resultMsg
	if err := json.Unmarshal(frame, &res); err != nil || res.Type != "result" {
		return res, false
	}
	return res, true
}

func decodeFetchMsg(frame []byte) (resultMsg, bool) {
	var res resultMsg
	if err := json.Unmarshal(frame, &res); err != nil || res.Type != "fetch" || res.FetchReq == nil {
		return res, false
	}
	return res, true
}

func (p *Pool) resultToResponse(res resultMsg, req Request) (Response, error) {
	resp := Response{Stdout: res.Stdout}
	switch res.Kind {
	case "":
		v, err := decodeResult(res.Result)
		if err != nil {
			return resp, err
		}
		resp.Result = v
		return resp, nil
	case kindScript:
		return resp, &ScriptError{Message: res.Msg, Stack: res.Stack}
	case kindTimeout:
		return resp, fmt.Errorf("sandbox: %w after %s", ErrTimeout, req.Timeout)
	case kindMemory:
		return resp, fmt.Errorf("sandbox: %w (limit %d MiB)", ErrMemoryLimit, req.MemoryLimitBytes>>20)
	case kindCancel:
		return resp, fmt.Errorf("sandbox: cancelled in worker: %w", context.Canceled)
	default:
		return resp, fmt.Errorf("sandbox worker: %s", res.Msg)
	}
}

// deathError explains a worker that died mid-call. Exhausting RLIMIT_AS
// makes the Go runtime abort, which is by far the common cause, so any
// death is reported as ErrMemoryLimit unless it was the CPU limit.
func (p *Pool) deathError(w *worker) error {
	if p.isClosed() {
		return ErrPoolClosed
	}
	detail := w.exitDescription()
	if w.exitCode() == exitCPULimit {
		return fmt.Errorf("sandbox: %w (CPU time limit; worker %s)", ErrTimeout, detail)
	}
	return fmt.Errorf("sandbox: %w (worker %s)", ErrMemoryLimit, detail)
}

// worker is one sandbox-worker process, owned by at most one call (or
// drainer) at a time; only the owner reads from out or writes to in/cancel.
type worker struct {
	cmd    *exec.Cmd
	in     *os.File // request pipe (write end)
	cancel *os.File // cancel pipe (write end), the worker's fd 3
	out    *os.File // response pipe (read end); pollable, so deadlines work
	fr     *frameReader
	dead   chan struct{} // closed after the process has exited and been reaped
	once   sync.Once
	stderr *tailBuffer
	seq    uint64 // last request id
	tenant string // whose call holds the worker's slot

	exitErr error // valid after dead is closed
	state   *os.ProcessState
}

func (p *Pool) spawn() (*worker, error) {
	var pipes [6]*os.File // in r/w, out r/w, cancel r/w
	closeAll := func() {
		for _, f := range pipes {
			if f != nil {
				f.Close()
			}
		}
	}
	for i := 0; i < len(pipes); i += 2 {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("sandbox: creating worker pipe: %w", err)
		}
		pipes[i], pipes[i+1] = r, w
	}
	inR, inW, outR, outW, cancelR, cancelW := pipes[0], pipes[1], pipes[2], pipes[3], pipes[4], pipes[5]
	w := &worker{
		in:     inW,
		cancel: cancelW,
		out:    outR,
		fr:     newFrameReader(outR),
		dead:   make(chan struct{}),
		stderr: &tailBuffer{max: 4 << 10},
	}
	cmd := exec.Command(p.opts.Path, p.opts.Args...)
	cmd.Env = p.opts.Env
	cmd.Stdin = inR
	cmd.Stdout = outW
	cmd.Stderr = w.stderr
	cmd.ExtraFiles = []*os.File{cancelR} // fd 3 == cancelFD
	cmd.SysProcAttr = workerSysProcAttr()
	w.cmd = cmd
	err := cmd.Start()
	// The child has its own copies now.
	inR.Close()
	outW.Close()
	cancelR.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		cancelW.Close()
		return nil, fmt.Errorf("sandbox: starting worker %s: %w", p.opts.Path, err)
	}
	go func() {
		w.exitErr = cmd.Wait()
		w.state = cmd.ProcessState
		close(w.dead)
	}()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		w.kill()
		return nil, ErrPoolClosed
	}
	p.all[w] = struct{}{}
	p.mu.Unlock()

	fail := func(err error) (*worker, error) {
		p.mu.Lock()
		delete(p.all, w)
		p.mu.Unlock()
		w.awaitExit(time.Second)
		w.kill()
		<-w.dead
		return nil, fmt.Errorf("sandbox: starting worker: %w (%s)", err, w.exitDescription())
	}
	deadline := time.Now().Add(p.opts.StartTimeout)
	if err := w.send(w.in, configMsg{MemoryLimitBytes: p.opts.MemoryLimitBytes}, deadline); err != nil {
		return fail(err)
	}
	frame, err := w.recv(context.Background(), deadline)
	if err != nil {
		return fail(err)
	}
	var r readyMsg
	if err := json.Unmarshal(frame, &r); err != nil || r.Type != "ready" {
		return fail(fmt.Errorf("unexpected first message %q", truncate(frame, 200)))
	}
	return w, nil
}

func (w *worker) send(f *os.File, v any, deadline time.Time) error {
	// Pipes from os.Pipe are pollable, so a wedged worker that stops
	// reading cannot block us past the deadline.
	if err := f.SetWriteDeadline(deadline); err != nil {
		return err
	}
	return writeFrame(f, v)
}

// recv reads the next frame, giving up with os.ErrDeadlineExceeded at
// deadline or once ctx is done. Partial input stays buffered, so a later
// recv (by a drainer) continues the same frame.
func (w *worker) recv(ctx context.Context, deadline time.Time) ([]byte, error) {
	if err := w.out.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = w.out.SetReadDeadline(time.Now()) })
		defer stop()
	}
	return w.fr.next()
}

// awaitExit gives a worker whose pipe broke a moment to exit by itself, so
// its real exit status (not our kill) explains what happened.
func (w *worker) awaitExit(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.dead:
	case <-t.C:
	}
}

func (w *worker) kill() {
	w.once.Do(func() {
		w.in.Close()
		w.cancel.Close()
		if w.cmd.Process != nil {
			_ = w.cmd.Process.Kill()
		}
		// out is closed once the process is reaped, not here: an owner
		// may still be reading from it.
		go func() {
			<-w.dead
			w.out.Close()
		}()
	})
}

func (w *worker) isDead() bool {
	select {
	case <-w.dead:
		return true
	default:
		return false
	}
}

func (w *worker) exitCode() int {
	if w.state == nil {
		return -1
	}
	return w.state.ExitCode()
}

func (w *worker) exitDescription() string {
	var b strings.Builder
	if w.state != nil {
		b.WriteString(w.state.String())
	} else if w.exitErr != nil {
		b.WriteString(w.exitErr.Error())
	} else {
		b.WriteString("exited")
	}
	if tail := w.stderr.lastLine(); tail != "" {
		b.WriteString(": ")
		b.WriteString(tail)
	}
	return b.String()
}

// tailBuffer keeps the first and last bytes the worker wrote to stderr, for
// error messages about dead workers: the Go runtime's "fatal error" line
// comes first and is followed by long goroutine dumps.
type tailBuffer struct {
	mu   sync.Mutex
	max  int
	head []byte
	buf  []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(b)
	if room := t.max - len(t.head); room > 0 {
		k := min(room, len(b))
		t.head = append(t.head, b[:k]...)
		b = b[k:]
	}
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return n, nil
}

// lastLine returns the most telling stderr line: the Go runtime's fatal
// error or our own worker message if present, else the last line.
func (t *tailBuffer) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range strings.Split(string(t.head), "\n") {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "sandbox-worker:") {
			return strings.TrimSpace(l)
		}
	}
	all := strings.TrimSpace(string(t.head) + string(t.buf))
	return strings.TrimSpace(all[strings.LastIndexByte(all, '\n')+1:])
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(bytes.ToValidUTF8(b, nil))
}
