package engine

import (
	"context"
	"fmt"
	"strings"
)

var variablesType = &blockType{run: runVariables}

// runVariables assigns workflow variables (by id, else by name) for the rest of the run.
func runVariables(_ context.Context, x *execCtx) (map[string]any, error) {
	out := map[string]any{}
	r := x.r
	for _, row := range asSlice(parseMaybeJSON(x.input["variables"])) {
		m, _ := row.(map[string]any)
		if m == nil {
			continue
		}
		id := toStr(m["variableId"])
		name := strings.TrimSpace(toStr(m["variableName"]))
		r.mu.Lock()
		st, ok := r.vars["id:"+id]
		if !ok || id == "" {
			st, ok = r.vars[NormalizeName(name)]
		}
		if !ok {
			r.mu.Unlock()
			return nil, fmt.Errorf("variable %q does not exist in this workflow", name)
		}
		typ := toStr(m["type"])
		if typ == "" {
			typ = st.v.Type
		}
		val := typedVariable(typ, m["value"])
		st.v.Value = val
		r.mu.Unlock()
		if name == "" {
			name = st.name
		}
		out[name] = val
	}
	return out, nil
}
