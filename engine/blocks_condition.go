package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

type conditionEntry struct {
	id, title, expr string
	isElse          bool
}

type conditionPlan struct {
	entries []conditionEntry
	script  *compiledCode
	// native holds each entry's expression compiled for evaluation in Go (nil for else
	// and empty entries); nil when some expression is outside the native subset.
	native []*nativeCond
	// singles holds one script per entry (nil for else and empty ones): the fallback
	// when the batched script does not run.
	singles []*compiledCode
}

type nativeCond struct {
	code *compiledCode
	expr *expr
}

var conditionType = &blockType{
	raw: map[string]bool{"conditions": true},
	compile: func(p *Plan, n *node) error {
		rows := asSlice(parseMaybeJSON(n.b.Param("conditions")))
		if rows == nil {
			if v := n.b.Param("conditions"); v != nil {
				return fmt.Errorf("conditions must be a JSON array of {id, title, value}")
			}
		}
		cp := &conditionPlan{}
		var sb strings.Builder
		sb.WriteString("const __conds = [\n")
		for i, r := range rows {
			m, ok := r.(map[string]any)
			if !ok {
				return fmt.Errorf("condition %d is not an object", i)
			}
			e := conditionEntry{id: toStr(m["id"]), title: toStr(m["title"]), expr: toStr(m["value"])}
			if e.id == "" {
				return fmt.Errorf("condition %d has no id", i)
			}
			e.isElse = strings.EqualFold(strings.TrimSpace(e.title), "else")
			cp.entries = append(cp.entries, e)
			var single *compiledCode
			if !e.isElse && strings.TrimSpace(e.expr) != "" {
				single = p.names.compileCode("return Boolean(\n"+e.expr+"\n);", "__ref_")
			}
			cp.singles = append(cp.singles, single)
			switch {
			case e.isElse:
				sb.WriteString("null,\n")
			case strings.TrimSpace(e.expr) == "":
				sb.WriteString("() => false,\n")
			default:
				// Newlines keep a trailing // comment in the expression from eating the
				// closing parenthesis.
				sb.WriteString("() => (\n" + e.expr + "\n),\n")
			}
		}
		sb.WriteString(`];
for (let __i = 0; __i < __conds.length; __i++) {
  if (__conds[__i] === null) return { index: __i };
  let __v;
  try { __v = __conds[__i](); } catch (e) { return { index: __i, error: String((e && e.message) || e) }; }
  if (__v) return { index: __i };
}
return { index: -1 };`)
		cp.script = p.names.compileCode(sb.String(), "__ref_")
		cp.native = compileNativeConds(p, cp.entries)
		n.ext = cp
		return nil
	},
	run: runCondition,
}

// runCondition evaluates the entries top-down, in Go when every expression is in the
// native subset (see expr.go), else in one sandboxed script; the first truthy one (or
// an else once reached) selects its branch. `context` is the output of the block
// feeding the condition.
func runCondition(ctx context.Context, x *execCtx) (map[string]any, error) {
	cp := x.n.ext.(*conditionPlan)
	source := x.sourceOutput()
	out := make(map[string]any, len(source)+3)
	for k, v := range source {
		switch k {
		case "tokens", "model", "cost", "toolCalls", "error", "selectedOption", "selectedPath", "conditionResult":
		default:
			out[k] = v
		}
	}
	conds := make([]any, len(cp.entries))
	for i, e := range cp.entries {
		conds[i] = map[string]any{"id": e.id, "title": e.title, "value": e.expr}
	}
	x.input["conditions"] = conds
	idx := -1
	if len(cp.entries) > 0 {
		if x.r.in.Sandbox == nil {
			return nil, ErrNoSandbox
		}
		native := false
		if cp.native != nil {
			var err error
			if idx, native, err = x.evalNativeConds(cp, source); err != nil {
				return nil, err
			}
		}
		if !native {
			var err error
			if idx, err = x.sandboxConds(ctx, cp, source); err != nil {
				return nil, err
			}
		}
	}
	if idx < 0 || idx >= len(cp.entries) {
		// No match and no else: every branch is deactivated (dead end).
		out["conditionResult"], out["selectedOption"], out["selectedPath"] = false, nil, nil
		return out, nil
	}
	e := cp.entries[idx]
	out["conditionResult"] = true
	out["selectedOption"] = e.id
	out["selectedPath"] = x.pathTo(edgeCondition, e.id)
	return out, nil
}

// compileNativeConds compiles every expression for evaluation in Go, or returns nil
// when one of them needs the sandbox.
func compileNativeConds(p *Plan, entries []conditionEntry) []*nativeCond {
	out := make([]*nativeCond, len(entries))
	for i, e := range entries {
		if e.isElse || strings.TrimSpace(e.expr) == "" {
			continue
		}
		cc := p.names.compileCode(e.expr, "__ref_")
		ex, err := parseExpr(cc.code)
		if err != nil {
			return nil
		}
		bound := map[string]bool{"context": true, "undefined": true, "NaN": true, "Infinity": true}
		for _, b := range cc.bindings {
			bound[b.ident] = true
		}
		free := map[string]bool{}
		ex.idents(free)
		for id := range free {
			if !bound[id] {
				return nil // Math, JSON, a typo (ReferenceError): the sandbox answers
			}
		}
		out[i] = &nativeCond{code: cc, expr: ex}
	}
	return out
}

// evalNativeConds picks the branch in Go. ok is false when an expression reached
// something only the sandbox can answer (an error to report, an object to convert):
// nothing has happened yet, so the caller runs the sandbox instead.
func (x *execCtx) evalNativeConds(cp *conditionPlan, source map[string]any) (idx int, ok bool, err error) {
	// Every reference resolves before any expression runs, as in the sandbox script.
	vars := make([]map[string]any, len(cp.native))
	for i, nc := range cp.native {
		if nc == nil {
			continue
		}
		if vars[i], err = x.codeGlobals(nc.code, true); err != nil {
			return 0, false, err
		}
		vars[i]["context"] = source
	}
	for i, e := range cp.entries {
		nc := cp.native[i]
		switch {
		case e.isElse:
			return i, true, nil
		case nc == nil: // empty: false
			continue
		}
		v, err := evalExpr(nc.expr, vars[i])
		if err != nil {
			return 0, false, nil
		}
		if jsTruthy(v) {
			return i, true, nil
		}
	}
	return -1, true, nil
}

// conditionsOneByOne evaluates each entry in its own script, top-down; an else wins once
// reached; an entry that fails to run fails the block naming it.
func (x *execCtx) conditionsOneByOne(ctx context.Context, cp *conditionPlan, source map[string]any) (int, error) {
	for i, e := range cp.entries {
		if e.isElse {
			return i, nil
		}
		code := cp.singles[i]
		if code == nil {
			continue
		}
		g, err := x.codeGlobals(code, true)
		if err != nil {
			return -1, err
		}
		g["context"] = cloneJSON(source)
		resp, err := x.r.script(ctx, ScriptRequest{Code: code.code, Globals: g, Timeout: 5 * time.Second})
		if err != nil {
			return -1, errors.New("Evaluation error in condition \"" + e.title + "\": " + err.Error())
		}
		if b, _ := resp.Result.(bool); b {
			return i, nil
		}
	}
	return -1, nil
}

// sandboxConds evaluates the entries in one sandboxed script.
func (x *execCtx) sandboxConds(ctx context.Context, cp *conditionPlan, source map[string]any) (int, error) {
	{
		g, err := x.codeGlobals(cp.script, true)
		if err != nil {
			return 0, err
		}
		g["context"] = cloneJSON(source)
		resp, err := x.r.script(ctx, ScriptRequest{Code: cp.script.code, Globals: g, Timeout: 5 * time.Second})
		switch {
		case err != nil && (ctx.Err() != nil || strings.Contains(strings.ToLower(err.Error()), "timed out")):
			return 0, fmt.Errorf("evaluation error in condition block %q: %w", x.n.name, err)
		case err != nil:
			// The batch did not run (typically one expression does not parse): like
			// Sim, test the conditions one by one, so the branches before the broken one
			// still work (apps/sim/executor/handlers/condition/condition-handler.ts
			// findMatchingConditionIndividually).
			return x.conditionsOneByOne(ctx, cp, source)
		}
		m, _ := resp.Result.(map[string]any)
		idx := toInt(m["index"], -1)
		if msg, ok := m["error"]; ok && idx >= 0 && idx < len(cp.entries) {
			return 0, errors.New("Evaluation error in condition \"" + cp.entries[idx].title + "\": " + toStr(msg))
		}
		return idx, nil
	}
}

// sourceOutput is the output of the first incoming block that ran.
func (x *execCtx) sourceOutput() map[string]any {
	x.r.mu.Lock()
	defer x.r.mu.Unlock()
	for _, src := range x.n.inSources {
		for f := x.fr; f != nil; f = f.parent {
			if o, ok := f.outputs[src.id]; ok {
				return o
			}
		}
	}
	return nil
}

// pathTo describes the block a branch leads to, or nil.
func (x *execCtx) pathTo(kind edgeKind, option string) any {
	for _, e := range x.n.out {
		if e.kind == kind && e.option == option {
			return map[string]any{"blockId": e.target.id, "blockType": e.target.typ, "blockTitle": e.target.name}
		}
	}
	return nil
}
