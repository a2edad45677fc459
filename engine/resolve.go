package engine

import (
	"encoding/json"
	"strconv"
	"strings"
)

// resolveValue resolves a compiled param: *template → string, containers walked.
func (x *execCtx) resolveValue(v any) (any, error) {
	switch t := v.(type) {
	case *template:
		return x.render(t)
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			rv, err := x.resolveValue(e)
			if err != nil {
				return nil, err
			}
			m[k] = rv
		}
		return m, nil
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			rv, err := x.resolveValue(e)
			if err != nil {
				return nil, err
			}
			s[i] = rv
		}
		return s, nil
	}
	return v, nil
}

// render resolves a template to a string, Sim-style: objects inlined as JSON, values of
// blocks that did not run as "", unknown references verbatim; an env var the run does
// not have fails the block (*EnvNotSetError).
func (x *execCtx) render(t *template) (string, error) {
	var sb strings.Builder
	for _, s := range t.segs {
		switch {
		case s.ref != nil:
			v, ok, err := x.refValue(s.ref)
			if err != nil {
				return "", err
			}
			if !ok {
				sb.WriteString(s.ref.raw)
				continue
			}
			sb.WriteString(formatValue(v))
		case s.env != "":
			v, err := x.envValue(s.env)
			if err != nil {
				return "", err
			}
			sb.WriteString(v)
		default:
			sb.WriteString(s.lit)
		}
	}
	return sb.String(), nil
}

// rawValue resolves a template keeping the raw value of a whole-string reference (used
// for loop/parallel collections).
func (x *execCtx) rawValue(t *template) (any, error) {
	if r := t.wholeRef(); r != nil {
		v, ok, err := x.refValue(r)
		if err != nil {
			return nil, err
		}
		if ok {
			return v, nil
		}
	}
	return x.render(t)
}

// refValue resolves one reference. ok is false when it should stay verbatim.
func (x *execCtx) refValue(rf *ref) (any, bool, error) {
	r := x.r
	switch rf.kind {
	case refVariable:
		r.mu.Lock()
		st, found := r.vars[NormalizeName(rf.path[0])]
		if !found {
			st, found = r.vars["id:"+rf.path[0]]
		}
		var val any
		if found {
			val = typedVariable(st.v.Type, st.v.Value)
		}
		r.mu.Unlock()
		if !found {
			return nil, false, nil
		}
		v, ok := navigate(val, rf.path[1:])
		if !ok {
			return nil, true, nil
		}
		return v, true, nil
	case refLoop, refParallel:
		it := x.findIter(rf.kind == refParallel, "")
		if it == nil {
			return nil, false, nil
		}
		return iterField(it, rf.path)
	}
	b := r.p.wf.Blocks[rf.blockID]
	if isContainer(b.Type) {
		if it := x.findIter(b.Type == TypeParallel, b.ID); it != nil && (len(rf.path) == 0 || rf.path[0] != "results") {
			return iterField(it, rf.path)
		}
	}
	r.mu.Lock()
	var out map[string]any
	for f := x.fr; f != nil; f = f.parent {
		if o, ok := f.outputs[rf.blockID]; ok {
			out = o
			break
		}
	}
	r.mu.Unlock()
	if out == nil {
		return nil, true, nil // known block that has not run: empty
	}
	path := rf.path
	if b.Type == TypeResponse && len(path) > 0 && path[0] == "response" {
		if _, has := out["response"]; !has {
			path = path[1:] // <response.response.x> ≡ <response.x>
		}
	}
	v, ok := navigate(out, path)
	if ok {
		return v, true, nil
	}
	if len(path) > 0 && r.p.schemaOf[b.ID][path[0]] {
		return nil, true, nil // declared in the output schema: empty
	}
	return nil, true, &InvalidFieldError{Block: b.Name, Path: strings.Join(rf.path, "."), Available: sortedKeys(out)}
}

// findIter finds the innermost enclosing loop (or parallel) frame, optionally a
// specific container.
func (x *execCtx) findIter(parallel bool, containerID string) *iterCtx {
	for f := x.fr; f != nil; f = f.parent {
		if f.iter == nil {
			continue
		}
		if containerID != "" {
			if f.iter.containerID == containerID {
				return f.iter
			}
			continue
		}
		if f.iter.parallel == parallel {
			return f.iter
		}
	}
	return nil
}

func iterField(it *iterCtx, path []string) (any, bool, error) {
	if len(path) == 0 {
		return it.value(), true, nil
	}
	var v any
	switch path[0] {
	case "index", "iteration":
		v = float64(it.index)
	case "currentItem", "item":
		v = it.item
	case "items":
		if !it.hasItems {
			return nil, true, nil
		}
		v = it.items
	default:
		return nil, false, nil
	}
	if nv, ok := navigate(v, path[1:]); ok {
		return nv, true, nil
	}
	return nil, true, nil
}

// typedVariable applies Sim's variable typing.
func typedVariable(typ string, v any) any {
	switch typ {
	case "number":
		if f, ok := toNumber(v); ok {
			return f
		}
		return float64(0)
	case "boolean":
		switch b := v.(type) {
		case bool:
			return b
		case string:
			return strings.TrimSpace(strings.ToLower(b)) == "true"
		}
		return truthy(v)
	case "object", "array":
		if s, ok := v.(string); ok {
			t := strings.TrimSpace(s)
			if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
				return jsonOrString(t)
			}
		}
		return cloneJSON(v)
	case "string":
		if s, ok := v.(string); ok && len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
			return s[1 : len(s)-1]
		}
		return v
	}
	return cloneJSON(v)
}

// codeGlobals resolves the bindings of compiled code into the globals map.
func (x *execCtx) codeGlobals(cc *compiledCode, envForCondition bool) (map[string]any, error) {
	g := make(map[string]any, len(cc.bindings)+2)
	for _, b := range cc.bindings {
		var v any
		if b.ref != nil {
			rv, ok, err := x.refValue(b.ref)
			if err != nil {
				return nil, err
			}
			if !ok {
				rv = b.ref.raw
			}
			v = rv
		} else {
			s, err := x.envValue(b.env)
			switch {
			case err != nil:
				return nil, err
			case envForCondition && !b.asString:
				v = envLiteral(s)
			default:
				v = s
			}
		}
		switch {
		case b.asString && b.ref != nil:
			// Sim splices a reference inside a quoted string or template literal as
			// ' + JSON.stringify(value) + ' (apps/sim/executor/variables/resolver.ts;
			// resolver.test.ts pins it): "Hello <start.name>" gives Hello "Bob", and a
			// block that did not run gives null.
			v = jsonStringify(v)
		case b.asString:
			v = formatValue(v) // {{ENV}} in a string is its plain text
		default:
			v = cloneJSON(v)
		}
		g[b.ident] = v
	}
	return g, nil
}

func quoteJS(s string) string { return strconv.Quote(s) }

// jsonStringify is JavaScript's JSON.stringify for JSON values (no HTML escaping).
func jsonStringify(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(b.String(), "\n")
}
