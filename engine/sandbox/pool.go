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
	"sync/atomic"
	"time"
)

// PoolOptions configures NewPool. Zero values select defaults.
type PoolOptions struct {
	// Size is the maximum number of worker processes (and so of
	// concurrent calls); 0 means GOMAXPROCS.
	Size int
	// QueueSize is how many callers may wait for a free worker before Run
	// fails fast with ErrPoolBusy; 0 means 8×Size, negative means no
	// waiting at all.
	QueueSize int
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

	slots   chan struct{} // one token per worker that may exist
	waiting atomic.Int64
	done    chan struct{} // closed by Close

	mu     sync.Mutex
	idle   []*worker
	all    map[*worker]struct{}
	closed bool
}

// NewPool validates the options and starts one worker so that a broken
// configuration (wrong path, worker command not wired up) fails here rather
// than on the first workflow run.
func NewPool(opts PoolOptions) (*Pool, error) {
	if opts.Size <= 0 {
		opts.Size = runtime.GOMAXPROCS(0)
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = 8 * opts.Size
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
		slots: make(chan struct{}, opts.Size),
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
	globals, err := normalizeGlobals(req.Globals)
	if err != nil {
		return Response{}, err
	}
	if err := p.acquire(ctx); err != nil {
		return Response{}, err
	}
	// A worker that died while idle only shows up when we write to it;
	// such a failure happens before the script could run, so retry once
	// with a fresh worker.
	for attempt := 0; ; attempt++ {
		w, err := p.worker()
		if err != nil {
			<-p.slots
			return Response{}, err
		}
		resp, retry, err := p.call(ctx, w, req, globals)
		if retry && attempt == 0 {
			continue
		}
		return resp, err
	}
}

// acquire takes a slot, waiting in the bounded queue if necessary.
func (p *Pool) acquire(ctx context.Context) error {
	select {
	case <-p.done:
		return ErrPoolClosed
	default:
	}
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	if n := p.waiting.Add(1); n > int64(p.opts.QueueSize) {
		p.waiting.Add(-1)
		return ErrPoolBusy
	}
	defer p.waiting.Add(-1)
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sandbox: waiting for a worker: %w", context.Cause(ctx))
	case <-p.done:
		return ErrPoolClosed
	}
}

// worker returns an idle worker or starts one; the caller holds a slot.
func (p *Pool) worker() (*worker, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return w, nil
	}
	p.mu.Unlock()
	return p.spawn()
}

// release returns the slot, and the worker to the idle list if it is still
// usable.
func (p *Pool) release(w *worker, healthy bool) {
	p.mu.Lock()
	if healthy && !p.closed && !w.isDead() {
		p.idle = append(p.idle, w)
		p.mu.Unlock()
	} else {
		delete(p.all, w)
		p.mu.Unlock()
		w.kill()
	}
	<-p.slots
}

// call runs one request on w and releases w and the slot. retry reports a
// failure before the worker received the request.
func (p *Pool) call(ctx context.Context, w *worker, req Request, globals map[string]any) (resp Response, retry bool, err error) {
	w.seq++
	id := w.seq
	deadline := time.Now().Add(req.Timeout + p.opts.KillGrace)
	msg := runMsg{Type: "run", ID: id, Code: req.Code, Globals: globals, TimeoutNanos: int64(req.Timeout), MemoryLimitBytes: req.MemoryLimitBytes}
	if err := w.send(msg, deadline); err != nil {
		p.release(w, false)
		if p.isClosed() {
			return Response{}, false, ErrPoolClosed
		}
		return Response{}, true, fmt.Errorf("sandbox: sending request to worker: %w", err)
	}

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case frame := <-w.frames:
			res, ok := decodeResultMsg(frame)
			if !ok || res.ID != id {
				continue // stale or malformed; the worker is answering something else
			}
			p.release(w, true)
			resp, err := p.resultToResponse(res, req)
			return resp, false, err
		case <-w.dead:
			p.release(w, false)
			return Response{}, false, p.deathError(w)
		case <-timer.C:
			// The in-worker interrupt did not answer in time: a native
			// builtin is stuck or the worker is wedged.
			p.release(w, false)
			return Response{}, false, fmt.Errorf("sandbox: %w after %s (worker unresponsive, killed)", ErrTimeout, req.Timeout)
		case <-ctx.Done():
			// Tell the worker to stop and hand it to a drainer, so the
			// caller returns now and the worker is reused if it recovers.
			_ = w.send(runMsg{Type: "cancel", ID: id}, time.Now().Add(100*time.Millisecond))
			go p.drain(w, id)
			return Response{}, false, fmt.Errorf("sandbox: cancelled: %w", context.Cause(ctx))
		}
	}
}

// drain waits for the answer to an abandoned call before reusing w.
func (p *Pool) drain(w *worker, id uint64) {
	timer := time.NewTimer(p.opts.KillGrace)
	defer timer.Stop()
	for {
		select {
		case frame := <-w.frames:
			if res, ok := decodeResultMsg(frame); ok && res.ID == id {
				p.release(w, true)
				return
			}
		case <-w.dead:
			p.release(w, false)
			return
		case <-timer.C:
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
// drainer) at a time.
type worker struct {
	cmd    *exec.Cmd
	in     *os.File      // request pipe (write end)
	frames chan []byte   // frames read from the worker
	dead   chan struct{} // closed after the process has exited and been reaped
	stop   chan struct{} // closed by kill; unblocks the reader
	once   sync.Once
	stderr *tailBuffer
	seq    uint64 // last request id; only touched by the owner

	exitErr error // valid after dead is closed
	state   *os.ProcessState
}

func (p *Pool) spawn() (*worker, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox: creating worker pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("sandbox: creating worker pipe: %w", err)
	}
	w := &worker{
		in:     inW,
		frames: make(chan []byte, 1),
		dead:   make(chan struct{}),
		stop:   make(chan struct{}),
		stderr: &tailBuffer{max: 4 << 10},
	}
	cmd := exec.Command(p.opts.Path, p.opts.Args...)
	cmd.Env = p.opts.Env
	cmd.Stdin = inR
	cmd.Stdout = outW
	cmd.Stderr = w.stderr
	cmd.SysProcAttr = workerSysProcAttr()
	w.cmd = cmd
	err = cmd.Start()
	// The child has its own copies now.
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("sandbox: starting worker %s: %w", p.opts.Path, err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		w.kill()
		go w.readLoop(outR)
		return nil, ErrPoolClosed
	}
	p.all[w] = struct{}{}
	p.mu.Unlock()
	go w.readLoop(outR)

	fail := func(err error) (*worker, error) {
		p.mu.Lock()
		delete(p.all, w)
		p.mu.Unlock()
		w.kill()
		<-w.dead
		return nil, fmt.Errorf("sandbox: starting worker: %w (%s)", err, w.exitDescription())
	}
	if err := w.send(configMsg{MemoryLimitBytes: p.opts.MemoryLimitBytes}, time.Now().Add(p.opts.StartTimeout)); err != nil {
		return fail(err)
	}
	timer := time.NewTimer(p.opts.StartTimeout)
	defer timer.Stop()
	select {
	case frame := <-w.frames:
		var r readyMsg
		if err := json.Unmarshal(frame, &r); err != nil || r.Type != "ready" {
			return fail(fmt.Errorf("unexpected first message %q", truncate(frame, 200)))
		}
		return w, nil
	case <-w.dead:
		return fail(errors.New("worker exited during start-up"))
	case <-timer.C:
		return fail(fmt.Errorf("no ready message within %s", p.opts.StartTimeout))
	}
}

func (w *worker) send(v any, deadline time.Time) error {
	// Pipes from os.Pipe are pollable, so a wedged worker that stops
	// reading cannot block us past the deadline.
	if err := w.in.SetWriteDeadline(deadline); err != nil {
		return err
	}
	return writeFrame(w.in, v)
}

func (w *worker) readLoop(out *os.File) {
	defer func() {
		out.Close()
		w.exitErr = w.cmd.Wait()
		w.state = w.cmd.ProcessState
		close(w.dead)
	}()
	for {
		frame, err := readFrame(out)
		if err != nil {
			// EOF: the worker exited (or closed stdout); make sure it is
			// gone so Wait cannot hang.
			w.kill()
			return
		}
		select {
		case w.frames <- frame:
		case <-w.stop:
			return
		}
	}
}

func (w *worker) kill() {
	w.once.Do(func() {
		close(w.stop)
		w.in.Close()
		if w.cmd.Process != nil {
			_ = w.cmd.Process.Kill()
		}
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
