package engine

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkRunTrivial: start → response.
func BenchmarkRunTrivial(b *testing.B) {
	w := newWF()
	startBlock(w, map[string]any{"name": "name", "type": "string"}).
		block("r", TypeResponse, "Response", map[string]any{"dataMode": "json", "data": `{"hello": "<start.name>"}`}, nil).
		edge("start", "r", "")
	p := w.plan(b)
	in := RunInput{Input: map[string]any{"name": "bench"}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if res := p.Run(ctx, in); !res.Success {
			b.Fatal(res.Error)
		}
	}
}

// BenchmarkRun20Blocks: start, a condition-free mix of 18 engine-native blocks
// (variables, waits of 0s, a 3-way fan-out/join) and a response with references to
// them. Function blocks are left out so the figure measures the engine, not goja.
func BenchmarkRun20Blocks(b *testing.B) {
	w := newWF()
	startBlock(w, map[string]any{"name": "n", "type": "number", "value": 1})
	w.vars["v1"] = map[string]any{"id": "v1", "name": "acc", "type": "number", "value": 0}
	prev := "start"
	for i := range 18 {
		id := fmt.Sprintf("b%d", i)
		if i%2 == 0 {
			w.block(id, TypeVariables, fmt.Sprintf("Set %d", i), map[string]any{"variables": []any{
				map[string]any{"variableName": "acc", "type": "number", "value": fmt.Sprintf("<start.n>%d", i)}}}, nil)
		} else {
			w.block(id, TypeWait, fmt.Sprintf("Wait %d", i), map[string]any{"timeValue": 0}, nil)
		}
		// blocks 6..8 fan out from block 5 and join at block 9
		switch {
		case i >= 6 && i <= 8:
			w.edge("b5", id, "")
		case i == 9:
			w.edge("b6", id, "").edge("b7", id, "").edge("b8", id, "")
		default:
			w.edge(prev, id, "")
		}
		prev = id
	}
	w.block("r", TypeResponse, "Response", map[string]any{"dataMode": "json",
		"data": `{"acc": <variable.acc>, "w": <wait1.waitDuration>, "s": <set16>}`}, nil).edge(prev, "r", "")
	p := w.plan(b)
	in := RunInput{Input: map[string]any{"n": 7}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res := p.Run(ctx, in)
		if !res.Success || len(res.BlockLogs) != 20 {
			b.Fatalf("%v %d", res.Error, len(res.BlockLogs))
		}
	}
}
