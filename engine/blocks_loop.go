package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// loopConfig is read from the loop container's data (authoritative in Sim; its
// subBlocks can be stale copies).
type loopConfig struct {
	Type        string // for | forEach | while | doWhile
	Iterations  int
	Items       any
	WhileCond   string
	DoWhileCond string
}

func loopConfigOf(b *Block) loopConfig {
	d := b.Data
	c := loopConfig{Type: "for", Iterations: 5}
	if s, _ := d["loopType"].(string); s != "" {
		c.Type = s
	}
	if n := toInt(d["count"], 0); n > 0 {
		c.Iterations = n
	}
	c.Items = d["collection"]
	c.WhileCond, _ = d["whileCondition"].(string)
	c.DoWhileCond, _ = d["doWhileCondition"].(string)
	return c
}

type loopPlan struct {
	cfg   loopConfig
	items any           // compiled collection
	order []string      // key order of a literal object collection
	cond  *compiledCode // while/doWhile condition, nil when absent
	// condNative is cond for evaluation in Go (see expr.go), nil when it needs the
	// sandbox.
	condNative *expr
}

var loopType = &blockType{
	compile: func(p *Plan, n *node) error {
		lp := &loopPlan{cfg: loopConfigOf(n.b)}
		switch lp.cfg.Type {
		case "for", "forEach", "while", "doWhile":
		default:
			return fmt.Errorf("unknown loop type %q", lp.cfg.Type)
		}
		lp.items = p.compileValue(lp.cfg.Items)
		lp.order = collectionKeyOrder(n.b)
		cond := lp.cfg.WhileCond
		if lp.cfg.Type == "doWhile" {
			cond = lp.cfg.DoWhileCond
		}
		if strings.TrimSpace(cond) != "" && (lp.cfg.Type == "while" || lp.cfg.Type == "doWhile") {
			lp.cond = p.compileExpr(cond)
			lp.condNative = p.compileNativeExpr(cond)
		}
		n.params = map[string]any{} // containers take config from data, not subBlocks
		n.ext = lp
		return nil
	},
}

// compileExpr compiles a JS expression into `return Boolean(expr)` with refs bound.
func (p *Plan) compileExpr(expr string) *compiledCode {
	cc := p.names.compileCode(strings.TrimSpace(expr), "__ref_")
	cc.code = "return Boolean(" + cc.code + "\n);"
	return cc
}

// compileNativeExpr compiles expr for evaluation in Go over the same bindings as
// compileExpr (the same source gives the same identifiers), or returns nil when it is
// outside the native subset.
func (p *Plan) compileNativeExpr(src string) *expr {
	cc := p.names.compileCode(strings.TrimSpace(src), "__ref_")
	ex, err := parseExpr(cc.code)
	if err != nil {
		return nil
	}
	bound := map[string]bool{"undefined": true, "NaN": true, "Infinity": true}
	for _, b := range cc.bindings {
		bound[b.ident] = true
	}
	free := map[string]bool{}
	ex.idents(free)
	for id := range free {
		if !bound[id] {
			return nil
		}
	}
	return ex
}

// containerError is a failure of the container itself (bad collection, cap exceeded),
// as opposed to a failure of a block inside it.
type containerError struct{ msg string }

func (e *containerError) Error() string { return e.msg }

// execContainer runs a loop or parallel node and records it like a block.
func (r *run) execContainer(ctx context.Context, fr *frame, n *node) (map[string]any, error) {
	x := &execCtx{r: r, fr: fr, n: n, input: map[string]any{}}
	startedAt := time.Now()
	r.hook(true, n, fr, nil, "", 0)
	var out map[string]any
	var spans []TraceSpan
	var err error
	if len(n.sub.nodes) == 0 {
		kind := "Loop"
		if n.typ == TypeParallel {
			kind = "Parallel"
		}
		err = &containerError{msg: kind + " has no executable blocks inside. Add blocks to the " + strings.ToLower(kind) + "."}
	} else if n.typ == TypeLoop {
		out, spans, err = r.runLoop(ctx, x)
	} else {
		out, spans, err = r.runParallel(ctx, x)
	}
	endedAt := time.Now()
	var ce *containerError
	if err != nil && !errors.As(err, &ce) {
		// A block inside failed (or the run was cancelled): the run fails with it.
		r.recordContainer(fr, n, x, startedAt, endedAt, out, spans, "", false)
		return nil, err
	}
	errMsg := ""
	if err != nil {
		errMsg = r.red.text(err.Error())
		out = map[string]any{"error": errMsg}
	}
	r.recordContainer(fr, n, x, startedAt, endedAt, out, spans, errMsg, true)
	if err != nil && !n.hasErrorEdge {
		r.halt()
		bf := &blockFailure{n: n, msg: errMsg}
		var inner *blockFailure
		if errors.As(err, &inner) {
			bf.origin = inner.n
			if inner.origin != nil {
				bf.origin = inner.origin
			}
		}
		return out, bf
	}
	return out, nil
}

func (r *run) recordContainer(fr *frame, n *node, x *execCtx, startedAt, endedAt time.Time, out map[string]any, spans []TraceSpan, errMsg string, store bool) {
	it, loopID, parID := r.iterOf(fr)
	logged, size := r.logValue(out)
	status := "success"
	if errMsg != "" || !store {
		status = "error"
	}
	r.mu.Lock()
	if store && out != nil {
		fr.outputs[n.id] = out
		fr.order = append(fr.order, n.id)
		if n.scope.container == nil && !r.finalSet && n.terminal {
			r.final = out
		}
	}
	keep := false
	if errMsg != "" {
		r.orderSeq++
		if keep = r.bud.keepEntry(size); keep {
			r.logs = append(r.logs, BlockLog{BlockID: n.id, BlockName: n.name, BlockType: n.typ, StartedAt: startedAt.UTC(), EndedAt: endedAt.UTC(),
				DurationMs: endedAt.Sub(startedAt).Milliseconds(), Output: logged, Error: errMsg, ErrorHandled: n.hasErrorEdge,
				LoopID: loopID, ParallelID: parID, IterationIndex: it, ExecutionOrder: r.orderSeq})
		}
	} else {
		keep = r.bud.keepSpan(size)
	}
	if keep {
		// Sim's container span (iteration-grouping.ts buildContainerSpan): "<type>-execution-<id>".
		fr.spans = append(fr.spans, TraceSpan{ID: n.typ + "-execution-" + n.id, Name: n.name, Type: n.typ, BlockID: n.id,
			Duration: endedAt.Sub(startedAt).Milliseconds(), StartTime: startedAt.UTC(), EndTime: endedAt.UTC(), Status: status,
			Output: logged, Error: errMsg, ErrorHandled: errMsg != "" && n.hasErrorEdge, Children: spans,
			LoopID: loopID, ParallelID: parID, IterationIndex: it})
	}
	r.mu.Unlock()
	r.hook(false, n, fr, logged, errMsg, endedAt.Sub(startedAt))
}

func (r *run) halt() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
}

func (r *run) runLoop(ctx context.Context, x *execCtx) (map[string]any, []TraceSpan, error) {
	n := x.n
	lp := n.ext.(*loopPlan)
	var items []any
	var rawItems any
	hasItems := lp.cfg.Type == "forEach"
	if hasItems {
		var err error
		items, rawItems, err = x.collection(lp.items, lp.order, "forEach")
		if err != nil {
			return nil, nil, err
		}
	}
	results := []any{}
	var spans []TraceSpan
	var last *frame
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return nil, spans, err
		}
		if r.isStopped() {
			break
		}
		switch lp.cfg.Type {
		case "for":
			if i >= lp.cfg.Iterations {
				goto done
			}
		case "forEach":
			if i >= len(items) {
				goto done
			}
		case "while":
			ok, err := r.loopCond(ctx, x, lp, i, last)
			if err != nil {
				return nil, spans, err
			}
			if !ok {
				goto done
			}
		case "doWhile":
			if i > 0 {
				if lp.cond == nil {
					if i >= lp.cfg.Iterations {
						goto done
					}
				} else {
					ok, err := r.loopCond(ctx, x, lp, i, last)
					if err != nil {
						return nil, spans, err
					}
					if !ok {
						goto done
					}
				}
			}
		}
		if i >= r.maxIter {
			return nil, spans, &containerError{msg: fmt.Sprintf("loop %q exceeded the maximum of %d iterations", n.name, r.maxIter)}
		}
		it := &iterCtx{containerID: n.id, index: i, hasItems: hasItems, items: rawItems}
		if hasItems {
			it.item = items[i]
		}
		child := newFrame(x.fr, it)
		start := time.Now()
		err := r.runScope(ctx, child, n.sub)
		if r.keepSpan(0) {
			spans = append(spans, iterationSpan(n, i, start, child, err))
		}
		if err != nil {
			return nil, spans, err
		}
		results = append(results, r.frameOutputs(child))
		last = child
	}
done:
	r.promote(x.fr, last)
	return map[string]any{"results": results, "totalIterations": float64(len(results))}, spans, nil
}

// loopCond evaluates a while/doWhile condition with <loop.index> = completed iterations
// and body references seeing the last iteration. Evaluation errors count as false, as
// in Sim; a missing script runner is a configuration error.
func (r *run) loopCond(ctx context.Context, x *execCtx, lp *loopPlan, i int, last *frame) (bool, error) {
	if lp.cond == nil {
		return false, nil
	}
	if r.in.Sandbox == nil {
		return false, &containerError{msg: "loop condition needs a script runner and none is configured"}
	}
	f := &frame{parent: x.fr, iter: &iterCtx{containerID: x.n.id, index: i}, outputs: map[string]map[string]any{}}
	if last != nil {
		r.mu.Lock()
		for k, v := range last.outputs {
			f.outputs[k] = v
		}
		r.mu.Unlock()
	}
	cx := &execCtx{r: r, fr: f, n: x.n}
	g, err := cx.codeGlobals(lp.cond, true)
	if err != nil {
		return false, nil
	}
	if lp.condNative != nil {
		if v, err := evalExpr(lp.condNative, g); err == nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return jsTruthy(v), nil
		}
		// Something only the sandbox answers (an error counts as false there).
	}
	resp, err := r.script(ctx, ScriptRequest{Code: lp.cond.code, Globals: g, Timeout: 5 * time.Second})
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if errors.Is(err, ErrOverloaded) {
			return false, err
		}
		return false, nil
	}
	return truthy(resp.Result), nil
}

// frameOutputs is the array of outputs of every block that ran in the frame, in
// completion order.
func (r *run) frameOutputs(f *frame) []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]any, 0, len(f.order))
	for _, id := range f.order {
		out = append(out, f.outputs[id])
	}
	return out
}

// promote makes the last iteration's block outputs visible after the container, so
// <bodyBlock.x> after a loop reads its final value.
func (r *run) promote(dst, src *frame) {
	if src == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range src.outputs {
		dst.outputs[k] = v
	}
}

func iterationSpan(n *node, i int, start time.Time, child *frame, err error) TraceSpan {
	end := time.Now()
	idx := i
	status := "success"
	if err != nil {
		status = "error"
	}
	kind := "loop-iteration"
	if n.typ == TypeParallel {
		kind = "parallel-iteration"
	}
	s := TraceSpan{ID: n.id + "-iteration-" + strconv.Itoa(i), Name: "Iteration " + strconv.Itoa(i), Type: kind,
		BlockID: n.id, Duration: end.Sub(start).Milliseconds(), StartTime: start.UTC(), EndTime: end.UTC(), Status: status,
		Children: sortSpans(child.spans), IterationIndex: &idx}
	if n.typ == TypeParallel {
		s.ParallelID = n.id
	} else {
		s.LoopID = n.id
	}
	return s
}

// collection resolves a forEach/parallel collection: literal array/object, JSON-ish
// string (single quotes allowed), or a whole "<block.path>" reference (raw value).
// Objects iterate as [key, value] pairs in the object's own key order, as Sim's
// Object.entries does (apps/sim/executor/utils/subflow-utils.server.ts), when the
// order is known: a literal in the workflow (order) or JSON text. An object that
// reached here as a decoded value has lost its order and iterates in sorted key order.
func (x *execCtx) collection(v any, order []string, what string) ([]any, any, error) {
	var raw any = v
	if t, ok := v.(*template); ok {
		rv, err := x.rawValue(t)
		if err != nil {
			return nil, nil, err
		}
		raw = rv
	}
	if s, ok := raw.(string); ok {
		t := strings.TrimSpace(s)
		if t == "" {
			return nil, nil, &containerError{msg: what + " collection is empty: set a list, an object or a reference"}
		}
		var parsed any
		if err := json.Unmarshal([]byte(t), &parsed); err != nil {
			t = strings.ReplaceAll(t, "'", `"`)
			if err2 := json.Unmarshal([]byte(t), &parsed); err2 != nil {
				return nil, nil, &containerError{msg: fmt.Sprintf("%s collection is not a list or object: %v", what, err)}
			}
		}
		if keys, _, err := orderedObject([]byte(t)); err == nil {
			order = keys
		}
		raw = parsed
	}
	switch c := raw.(type) {
	case nil:
		return nil, nil, &containerError{msg: what + " collection is empty: set a list, an object or a reference"}
	case []any:
		return c, c, nil
	case map[string]any:
		keys := sortedKeys(c)
		if sameKeys(order, c) {
			keys = order
		}
		items := make([]any, len(keys))
		for i, k := range keys {
			items[i] = []any{k, c[k]}
		}
		return items, c, nil
	}
	return nil, nil, &containerError{msg: fmt.Sprintf("%s collection must be a list or object, got %T", what, raw)}
}

// collectionKeyOrder is the key order of a container's literal object collection
// (data.collection written as a JSON object), read from the block as imported.
func collectionKeyOrder(b *Block) []string {
	raw, ok := b.raw["data"]
	if !ok {
		return nil
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(raw, &data) != nil {
		return nil
	}
	keys, _, err := orderedObject(data["collection"])
	if err != nil {
		return nil
	}
	return keys
}

// sameKeys reports whether order lists exactly the keys of m (JSON objects may repeat
// a key; then the decoded map does not match the order and it is not used).
func sameKeys(order []string, m map[string]any) bool {
	if len(order) != len(m) {
		return false
	}
	for _, k := range order {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}
