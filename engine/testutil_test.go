package engine

import (
	"encoding/json"
	"fmt"
	"testing"
)

// wfBuilder builds Sim-format documents in tests.
type wfBuilder struct {
	blocks map[string]any
	order  []string
	edges  []any
	vars   map[string]any
}

func newWF() *wfBuilder {
	return &wfBuilder{blocks: map[string]any{}, vars: map[string]any{}}
}

func (w *wfBuilder) block(id, typ, name string, params map[string]any, data map[string]any) *wfBuilder {
	subs := map[string]any{}
	for k, v := range params {
		subs[k] = map[string]any{"id": k, "type": "short-input", "value": v}
	}
	if data == nil {
		data = map[string]any{}
	}
	w.blocks[id] = map[string]any{"id": id, "type": typ, "name": name, "position": map[string]any{"x": 0, "y": 0},
		"enabled": true, "subBlocks": subs, "outputs": map[string]any{}, "data": data}
	w.order = append(w.order, id)
	return w
}

func (w *wfBuilder) fn(id, name, code string) *wfBuilder {
	return w.block(id, "function", name, map[string]any{"code": code}, nil)
}

func (w *wfBuilder) edge(src, dst, handle string) *wfBuilder {
	e := map[string]any{"id": fmt.Sprintf("e%d", len(w.edges)), "source": src, "target": dst}
	if handle != "" {
		e["sourceHandle"] = handle
	}
	w.edges = append(w.edges, e)
	return w
}

// json writes the envelope with blocks in insertion order.
func (w *wfBuilder) json() []byte {
	var blocks []byte
	blocks = append(blocks, '{')
	for i, id := range w.order {
		if i > 0 {
			blocks = append(blocks, ',')
		}
		k, _ := json.Marshal(id)
		v, _ := json.Marshal(w.blocks[id])
		blocks = append(append(append(blocks, k...), ':'), v...)
	}
	blocks = append(blocks, '}')
	edges, _ := json.Marshal(w.edges)
	if w.edges == nil {
		edges = []byte("[]")
	}
	vars, _ := json.Marshal(w.vars)
	return []byte(fmt.Sprintf(`{"version":"1.0","exportedAt":"2026-01-01T00:00:00Z","state":{"blocks":%s,"edges":%s,"loops":{},"parallels":{},"variables":%s,"metadata":{"name":"t","description":"d"}}}`,
		blocks, edges, vars))
}

func (w *wfBuilder) plan(t testing.TB) *Plan {
	t.Helper()
	wf, err := Import(w.json())
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	p, err := Compile(wf, CompileOptions{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func startBlock(w *wfBuilder, fields ...map[string]any) *wfBuilder {
	rows := make([]any, len(fields))
	for i, f := range fields {
		rows[i] = f
	}
	return w.block("start", TypeStartTrigger, "Start", map[string]any{"inputFormat": rows}, nil)
}

// findSpan returns the first span of blockID in spans, searching depth first.
func findSpan(spans []TraceSpan, blockID string) *TraceSpan {
	for i := range spans {
		if spans[i].BlockID == blockID {
			return &spans[i]
		}
		if s := findSpan(spans[i].Children, blockID); s != nil {
			return s
		}
	}
	return nil
}
