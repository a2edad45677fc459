package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/steelengine/steelengine/engine/netguard"
)

// defaultHTTP is the SSRF-safe client used when RunInput.HTTPClient is nil.
var defaultHTTP = sync.OnceValue(func() *http.Client {
	return netguard.NewClient(netguard.Options{MaxResponseBytes: 10 << 20, Timeout: 5 * time.Minute})
})

// iterCtx is the loop iteration or parallel branch a frame runs.
type iterCtx struct {
	parallel    bool
	containerID string
	index       int
	item        any
	items       any
	hasItems    bool
}

func (it *iterCtx) value() map[string]any {
	m := map[string]any{"index": float64(it.index)}
	if it.item != nil || it.hasItems {
		m["currentItem"] = it.item
	}
	if it.hasItems {
		m["items"] = it.items
	}
	return m
}

// frame holds block outputs of one scope instance (the root, one loop iteration, one
// parallel branch). Reads walk up the parent chain. Guarded by run.mu.
type frame struct {
	parent  *frame
	iter    *iterCtx
	outputs map[string]map[string]any
	order   []string // block ids in completion order
	spans   []TraceSpan
}

func newFrame(parent *frame, it *iterCtx) *frame {
	return &frame{parent: parent, iter: it, outputs: map[string]map[string]any{}}
}

type varState struct {
	v    *Variable
	name string
}

// run is one execution of a plan.
type run struct {
	p       *Plan
	in      RunInput
	sem     chan struct{}
	secrets []string
	red     *redactor // what logs, spans and error messages may show
	http    *http.Client

	mu        sync.Mutex
	vars      map[string]*varState // by normalised name and by id
	logs      []BlockLog
	orderSeq  int
	stopped   bool // a Response block ran: no more dispatching
	final     map[string]any
	finalSet  bool
	response  *ResponseSpec
	hooksMu   sync.Mutex
	maxIter   int
	rootFrame *frame
	bud       *Budget
	ownBudget bool // not a child's borrowed budget: this run adds the truncation markers

	// Pause and resume (pause.go). replay holds the recorded outputs of top-level blocks
	// a resumed run does not run again; pending the pause points still open; pauses the
	// points this run stopped at.
	replay  map[string]map[string]any
	resumed string // block id of the resumed pause point
	pending map[string]*PausePoint
	pauses  []PausePoint
}

// blockFailure is an unhandled block error that fails the run.
type blockFailure struct {
	n      *node
	msg    string
	origin *node // the block inside a container that failed first, if any
}

func (e *blockFailure) Error() string { return e.msg }

// blockName names the block the failure started at: for a loop or parallel that failed
// because a block inside it did, that inner block.
func (e *blockFailure) blockName() string {
	if e.origin != nil {
		return e.origin.name
	}
	return e.n.name
}

// Run executes the plan. It never panics; every failure is reported in the Result.
func (p *Plan) Run(ctx context.Context, in RunInput) (res *Result) {
	started := time.Now()
	res = &Result{StartedAt: started.UTC()}
	if in.Resume != nil && in.Input == nil {
		in.Input = in.Resume.State.Input
	}
	if in.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, in.Timeout)
		defer cancel()
	}
	conc := in.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	r := &run{p: p, in: in, sem: make(chan struct{}, conc), vars: map[string]*varState{}, maxIter: in.MaxLoopIterations}
	r.bud, r.ownBudget = in.Budget, false
	if r.bud == nil {
		r.bud, r.ownBudget = newBudget(in.Limits), true
	}
	if r.maxIter <= 0 {
		r.maxIter = DefaultMaxLoopIterations
	}
	r.http = in.HTTPClient
	if r.http == nil {
		r.http = defaultHTTP()
	}
	for _, v := range in.Env {
		r.secrets = append(r.secrets, v)
	}
	r.secrets = append(r.secrets, in.Secrets...)
	// Credential-named inputs and variables are secrets wherever their values flow.
	collectSecrets("", in.Input, &r.secrets)
	for _, v := range p.vars {
		collectSecrets(v.Name, v.Value, &r.secrets)
	}
	for k, v := range in.Variables {
		collectSecrets(k, v, &r.secrets)
	}
	r.red = newRedactor(r.secrets, true)
	r.initVars()

	root := newFrame(nil, nil)
	r.rootFrame = root
	if in.Resume != nil {
		if err := r.restore(root, in.Resume); err != nil {
			res.Error, res.ErrorCode = err.Error(), CodeBlockError
			res.EndedAt = time.Now().UTC()
			res.BlockLogs, res.TraceSpans, res.Output = []BlockLog{}, []TraceSpan{}, map[string]any{}
			return res
		}
	}
	var err error
	func() {
		defer func() {
			if rec := recover(); rec != nil {
				err = fmt.Errorf("internal error: %v", rec)
			}
		}()
		err = r.runScope(ctx, root, p.root)
	}()

	ended := time.Now()
	res.EndedAt, res.Duration, res.DurationMs = ended.UTC(), ended.Sub(started), ended.Sub(started).Milliseconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	res.BlockLogs, res.TraceSpans = r.logs, sortSpans(root.spans)
	if r.ownBudget {
		res.BlockLogs, res.TraceSpans = r.bud.truncationMarkers(res.BlockLogs, res.TraceSpans)
	}
	res.TraceSpans = rootSpan(res.TraceSpans)
	if res.BlockLogs == nil {
		res.BlockLogs = []BlockLog{}
	}
	res.BlockOutputs = root.outputs
	res.Output = r.final
	if res.Output == nil {
		res.Output = map[string]any{}
	}
	res.Response = r.response
	switch {
	case r.response != nil:
		// A Response block ends the run; later errors are ignored, as in Sim.
		res.Success = true
	case err != nil:
		res.Success = false
		res.Error = err.Error()
		res.ErrorCode = CodeBlockError
		var bf *blockFailure
		var be *BudgetError
		if errors.As(err, &bf) {
			res.ErrorBlockID = bf.n.id
			// Sim's buildBlockExecutionError (apps/sim/executor/utils/errors.ts):
			// the run's error is "<block name>: <message>".
			if name := bf.blockName(); name != "" && !strings.HasPrefix(res.Error, name+": ") {
				res.Error = name + ": " + res.Error
			}
		}
		if errors.As(err, &be) {
			res.ErrorCode, res.Error = CodeBudgetExceeded, be.Msg
		}
		if errors.Is(err, ErrOverloaded) {
			res.ErrorCode, res.Error = CodeOverloaded, "server overloaded: every JavaScript worker is busy and the queue is full; retry later"
		}
		if cerr := ctx.Err(); cerr != nil {
			if errors.Is(cerr, context.DeadlineExceeded) {
				res.ErrorCode, res.Error = CodeTimeout, "workflow execution timed out"
				if in.Timeout > 0 {
					res.Error = fmt.Sprintf("workflow execution timed out after %s", in.Timeout)
				}
			} else {
				res.ErrorCode, res.Error = CodeCancelled, "workflow execution was cancelled"
			}
		}
	default:
		res.Success = true
		if len(r.pauses) > 0 {
			res.Paused = r.pauseState(root)
			res.Output = pauseOutput(r.pauses)
		}
	}
	return res
}

func (r *run) initVars() {
	for _, v := range r.p.vars {
		cp := *v
		st := &varState{v: &cp, name: v.Name}
		r.vars[NormalizeName(v.Name)] = st
		r.vars["id:"+v.ID] = st
	}
	for k, val := range r.in.Variables {
		if st, ok := r.vars[NormalizeName(k)]; ok {
			st.v.Value = val
		} else if st, ok := r.vars["id:"+k]; ok {
			st.v.Value = val
		}
	}
}

// scopeState is the scheduling state of one frame; owned by runScope's goroutine.
type scopeState struct {
	pending []int
	active  []bool
	done    []bool
}

type nodeResult struct {
	n     *node
	out   map[string]any
	fatal error
}

// runScope runs one scope instance to completion: ready nodes run concurrently, edges
// are evaluated by handle as each completes, untaken branches are deactivated with
// cascading, and join nodes wait for all live inputs.
func (r *run) runScope(ctx context.Context, fr *frame, sc *scope) error {
	st := &scopeState{pending: make([]int, len(sc.nodes)), active: make([]bool, len(sc.nodes)), done: make([]bool, len(sc.nodes))}
	for i, n := range sc.nodes {
		st.pending[i] = n.in
	}
	results := make(chan nodeResult, len(sc.nodes))
	inflight := 0
	launch := func(n *node) {
		if st.done[n.idx] {
			return // a node runs at most once per frame
		}
		st.done[n.idx] = true
		inflight++
		go func() {
			var res nodeResult
			defer func() {
				if rec := recover(); rec != nil {
					res = nodeResult{n: n, fatal: &blockFailure{n: n, msg: fmt.Sprintf("%s: internal error: %v", n.name, rec)}}
				}
				results <- res
			}()
			out, err := r.execNode(ctx, fr, n)
			res = nodeResult{n: n, out: out, fatal: err}
		}()
	}
	var firstErr error
	if ctx.Err() == nil {
		for _, n := range sc.starts {
			launch(n)
		}
	}
	for inflight > 0 {
		res := <-results
		inflight--
		if res.fatal == errPaused {
			continue // recorded; what follows it waits for the resume
		}
		if res.fatal != nil {
			if firstErr == nil {
				firstErr = res.fatal
			}
			continue
		}
		if firstErr != nil || r.isStopped() || ctx.Err() != nil {
			continue
		}
		var ready []*node
		st.complete(res.n, res.out, &ready)
		for _, n := range ready {
			launch(n)
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

func (st *scopeState) complete(n *node, out map[string]any, ready *[]*node) {
	failed := out["error"] != nil
	for _, e := range n.out {
		if edgeActive(e, out, failed) {
			t := e.target
			st.pending[t.idx]--
			st.active[t.idx] = true
			if st.pending[t.idx] == 0 {
				*ready = append(*ready, t)
			}
		} else {
			st.deactivate(e.target, ready)
		}
	}
}

// deactivate removes one incoming edge of t without activating it. A node whose inputs
// are all settled runs if any was active; otherwise it is dead and so are the edges
// leaving it.
func (st *scopeState) deactivate(t *node, ready *[]*node) {
	st.pending[t.idx]--
	if st.pending[t.idx] != 0 {
		return
	}
	if st.active[t.idx] {
		*ready = append(*ready, t)
		return
	}
	for _, e := range t.out {
		st.deactivate(e.target, ready)
	}
}

func edgeActive(e planEdge, out map[string]any, failed bool) bool {
	switch e.kind {
	case edgeSuccess:
		return !failed
	case edgeError:
		return failed
	case edgeCondition:
		s, _ := out["selectedOption"].(string)
		return !failed && s == e.option
	case edgeRouter:
		s, _ := out["selectedRoute"].(string)
		return !failed && s == e.option
	}
	return true
}

func (r *run) isStopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped
}

// execNode runs one node and records its output. It returns a non-nil error only when
// the run must fail (unhandled block error, cancellation).
func (r *run) execNode(ctx context.Context, fr *frame, n *node) (map[string]any, error) {
	if out, ok := r.replayed(fr, n); ok {
		return out, nil
	}
	if err := r.countExecution(); err != nil {
		r.halt()
		return nil, err
	}
	if n.sub != nil {
		return r.execContainer(ctx, fr, n)
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-r.sem }()

	x := &execCtx{r: r, fr: fr, n: n}
	startedAt := time.Now()
	r.hook(true, n, fr, nil, "", 0)
	var out map[string]any
	var err error
	tries := 0
	for {
		tries++
		out, err = x.exec(ctx)
		if err == nil || ctx.Err() != nil || n.retry.MaxTries == 0 || tries >= n.retry.MaxTries || !isRetryable(err) {
			break
		}
		wait := time.Duration(n.retry.WaitBetweenTriesMs) * time.Millisecond
		if werr := sleepCtx(ctx, wait); werr != nil {
			break
		}
	}
	endedAt := time.Now()
	if err == nil && x.pause != nil {
		if fr != r.rootFrame {
			err = fmt.Errorf("a %s block cannot pause inside a loop or parallel", n.typ)
		} else {
			if r.pending[x.pause.ContextID] != nil {
				// Still waiting from before this resume: logged when it first paused.
				r.mu.Lock()
				fr.outputs[n.id] = out
				r.mu.Unlock()
			} else {
				r.record(fr, n, x, startedAt, endedAt, out, "", false, tries)
			}
			r.mu.Lock()
			r.pauses = append(r.pauses, *x.pause)
			r.mu.Unlock()
			return out, errPaused
		}
	}
	if errors.Is(err, ErrOverloaded) || isBudgetError(err) {
		// Not the block's fault and not for an error edge: the run fails as overloaded
		// or over budget (a child workflow spent the shared budget).
		r.record(fr, n, x, startedAt, endedAt, map[string]any{"error": err.Error()}, err.Error(), false, tries)
		r.halt()
		return nil, err
	}
	if err != nil && ctx.Err() != nil {
		// Cancelled or timed out: the run reports that, not the block's symptom.
		msg := r.red.text(err.Error())
		r.record(fr, n, x, startedAt, endedAt, map[string]any{"error": msg}, msg, false, tries)
		return nil, ctx.Err()
	}
	if err == nil {
		if berr := r.retainOutput(n, out); berr != nil {
			// Over budget: the output is not kept and no error edge can catch this.
			r.record(fr, n, x, startedAt, endedAt, map[string]any{"error": berr.Error()}, berr.Error(), false, tries)
			r.halt()
			return nil, berr
		}
	}
	errMsg := ""
	if err != nil {
		// The message reaches logs, spans, the run's error and error edges.
		errMsg = r.red.text(err.Error())
		out = map[string]any{}
		var oe *outputError
		if errors.As(err, &oe) {
			for k, v := range oe.out {
				out[k] = v
			}
		}
		out["error"] = errMsg
	}
	r.record(fr, n, x, startedAt, endedAt, out, errMsg, err != nil && n.hasErrorEdge, tries)
	if err != nil && !n.hasErrorEdge {
		r.halt()
		return out, &blockFailure{n: n, msg: errMsg}
	}
	return out, nil
}

// record stores the output in the frame, the log and span, updates the final output
// and fires the end hook.
func (r *run) record(fr *frame, n *node, x *execCtx, startedAt, endedAt time.Time, out map[string]any, errMsg string, handled bool, tries int) {
	input, inSize := r.logValue(x.input)
	logged, outSize := r.logValue(out)
	r.mu.Lock()
	fr.outputs[n.id] = out
	fr.order = append(fr.order, n.id)
	r.orderSeq++
	if r.bud.keepEntry(inSize + outSize) {
		r.appendEntry(fr, n, startedAt, endedAt, input, logged, errMsg, handled, tries, x.spans())
	}
	if n.scope.container == nil && !r.finalSet {
		if n.terminal {
			r.final = out
		}
		if n.typ == TypeResponse && errMsg == "" {
			r.final, r.finalSet, r.stopped = out, true, true
			r.response = responseSpecOf(out)
		}
	} else if n.typ == TypeResponse && errMsg == "" && !r.finalSet {
		// A Response block inside a loop/parallel still ends the run.
		r.final, r.finalSet, r.stopped = out, true, true
		r.response = responseSpecOf(out)
	}
	r.mu.Unlock()
	r.hook(false, n, fr, logged, errMsg, endedAt.Sub(startedAt))
}

// appendEntry adds a block's log entry and span. Caller holds r.mu.
func (r *run) appendEntry(fr *frame, n *node, startedAt, endedAt time.Time, input, logged map[string]any, errMsg string, handled bool, tries int, children []TraceSpan) {
	it, loopID, parID := r.iterOf(fr)
	if tries < 2 {
		tries = 0 // Sim logs tries only when the block retried (block-executor.ts)
	}
	l := BlockLog{BlockID: n.id, BlockName: n.name, BlockType: n.typ, StartedAt: startedAt.UTC(), EndedAt: endedAt.UTC(),
		DurationMs: endedAt.Sub(startedAt).Milliseconds(), Success: errMsg == "", Input: input, Output: logged, Error: errMsg,
		ErrorHandled: handled, Tries: tries, LoopID: loopID, ParallelID: parID, IterationIndex: it, ExecutionOrder: r.orderSeq}
	r.logs = append(r.logs, l)
	fr.spans = append(fr.spans, blockSpan(&l, children))
}

// iterOf returns the innermost iteration index and container ids of fr.
func (r *run) iterOf(fr *frame) (*int, string, string) {
	for f := fr; f != nil; f = f.parent {
		if f.iter != nil {
			i := f.iter.index
			if f.iter.parallel {
				return &i, "", f.iter.containerID
			}
			return &i, f.iter.containerID, ""
		}
	}
	return nil, "", ""
}

func (r *run) hook(start bool, n *node, fr *frame, out map[string]any, errMsg string, d time.Duration) {
	h := r.in.Hooks.OnBlockEnd
	if start {
		h = r.in.Hooks.OnBlockStart
	}
	if h == nil {
		return
	}
	it, loopID, parID := r.iterOf(fr)
	ev := BlockEvent{BlockID: n.id, BlockName: n.name, BlockType: n.typ, Output: out, Error: errMsg, Duration: d,
		DurationMs: d.Milliseconds(), LoopID: loopID, ParallelID: parID, IterationIndex: it}
	r.hooksMu.Lock()
	defer r.hooksMu.Unlock()
	defer func() { _ = recover() }() // a broken hook must not take the run down
	h(ev)
}

// chunk hands a piece of a streamed agent reply to the OnChunk hook.
func (r *run) chunk(n *node, text string) {
	h := r.in.Hooks.OnChunk
	if h == nil {
		return
	}
	r.hooksMu.Lock()
	defer r.hooksMu.Unlock()
	defer func() { _ = recover() }()
	h(BlockChunk{BlockID: n.id, Chunk: text})
}

// script runs JavaScript in the sandbox on behalf of the run's tenant.
func (r *run) script(ctx context.Context, req ScriptRequest) (ScriptResponse, error) {
	req.Tenant = r.in.Tenant
	return r.in.Sandbox.Run(ctx, req)
}

// retryable errors are transient (network, 5xx, 429).
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

func isRetryable(err error) bool {
	var re *retryableError
	return errors.As(err, &re)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sortSpans(s []TraceSpan) []TraceSpan {
	if s == nil {
		return []TraceSpan{}
	}
	sort.SliceStable(s, func(i, j int) bool { return s[i].StartTime.Before(s[j].StartTime) })
	return s
}

// execCtx is what a block handler sees.
type execCtx struct {
	r     *run
	fr    *frame
	n     *node
	input map[string]any // resolved params (logged)

	mu         sync.Mutex
	childSpans []TraceSpan // child workflow traces nested under this block's span
	pause      *PausePoint // set by a block that pauses the run (pause.go)
}

func (x *execCtx) spans() []TraceSpan {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.childSpans
}

func (x *execCtx) exec(ctx context.Context) (map[string]any, error) {
	x.mu.Lock()
	x.childSpans = nil
	x.mu.Unlock()
	x.pause = nil
	in, err := x.resolveParams()
	x.input = in
	if err != nil {
		return nil, err
	}
	return x.n.bt.run(ctx, x)
}

func (x *execCtx) resolveParams() (map[string]any, error) {
	in := make(map[string]any, len(x.n.params))
	var errs []string
	for k, v := range x.n.params {
		rv, err := x.resolveValue(v)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		in[k] = rv
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return in, errors.New(strings.Join(errs, "; "))
	}
	return in, nil
}

// str returns a resolved param as a string ("" when absent).
func (x *execCtx) str(k string) string { return toStr(x.input[k]) }
