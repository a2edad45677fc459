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
		n.ext = cp
		return nil
	},
	run: runCondition,
}

// runCondition evaluates the entries top-down in one sandboxed script; the first truthy
// one (or an else once reached) selects its branch. `context` is the output of the block
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
		g, err := x.codeGlobals(cp.script, true)
		if err != nil {
			return nil, err
		}
		g["context"] = cloneJSON(source)
		resp, err := x.r.script(ctx, ScriptRequest{Code: cp.script.code, Globals: g, Timeout: 5 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("evaluation error in condition block %q: %w", x.n.name, err)
		}
		m, _ := resp.Result.(map[string]any)
		idx = toInt(m["index"], -1)
		if msg, ok := m["error"]; ok && idx >= 0 && idx < len(cp.entries) {
			return nil, errors.New("Evaluation error in condition \"" + cp.entries[idx].title + "\": " + toStr(msg))
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
