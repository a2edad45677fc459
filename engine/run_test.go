package engine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steelengine/steelengine/engine/netguard"
	"github.com/steelengine/steelengine/engine/sandbox"
)

func TestStartPriority(t *testing.T) {
	b := newWF()
	b.block("old", TypeStarter, "Old Start", nil, nil).
		block("api", TypeAPITrigger, "API", map[string]any{"inputFormat": []any{map[string]any{"name": "x", "type": "number"}}}, nil).
		fn("a", "FromOld", "return 'old'").fn("b", "FromAPI", "return 'api ' + <api.x> + ' ' + <api.input.x>").
		edge("old", "a", "").edge("api", "b", "")
	p := b.plan(t)
	if p.StartBlock() != "api" {
		t.Fatalf("start = %s, want api (api_trigger beats starter)", p.StartBlock())
	}
	res := p.Run(context.Background(), RunInput{Input: map[string]any{"x": "4"}, Sandbox: sandbox.NewInProcess()})
	if !res.Success || res.Output["result"] != "api 4 4" {
		t.Fatalf("result %+v", res)
	}
	for _, l := range res.BlockLogs {
		if l.BlockName == "FromOld" {
			t.Error("unreachable block ran")
		}
	}
}

func TestCancellationIsPrompt(t *testing.T) {
	b := newWF()
	startBlock(b).fn("spin", "Spin", "while (true) {}").
		block("w", TypeWait, "Wait", map[string]any{"timeValue": 60}, nil).
		edge("start", "spin", "").edge("start", "w", "")
	b.blocks["spin"].(map[string]any)["subBlocks"].(map[string]any)["timeout"] = map[string]any{"id": "timeout", "value": 60000}
	p := b.plan(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	res := p.Run(ctx, RunInput{Sandbox: sandbox.NewInProcess()})
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("cancel took %s", took)
	}
	if res.Success || res.ErrorCode != CodeCancelled {
		t.Fatalf("got success=%v code=%q err=%q", res.Success, res.ErrorCode, res.Error)
	}
}

func TestHooksAndConcurrencyLimit(t *testing.T) {
	b := newWF()
	startBlock(b).block("p", TypeParallel, "Fan", nil, map[string]any{"parallelType": "count", "count": 8}).
		block("w", TypeWait, "Nap", map[string]any{"timeValue": "0.02"}, map[string]any{"parentId": "p"}).
		edge("start", "p", "")
	p := b.plan(t)
	var cur, peak, starts, ends int
	in := RunInput{Concurrency: 2, Hooks: Hooks{
		OnBlockStart: func(e BlockEvent) {
			starts++
			if e.BlockName == "Nap" {
				cur++
				peak = max(peak, cur)
			}
		},
		OnBlockEnd: func(e BlockEvent) {
			ends++
			if e.BlockName == "Nap" {
				cur--
				if e.ParallelID != "p" || e.IterationIndex == nil {
					t.Errorf("event without parallel info: %+v", e)
				}
			}
		},
	}}
	res := p.Run(context.Background(), in)
	if !res.Success {
		t.Fatal(res.Error)
	}
	if peak > 2 || peak == 0 {
		t.Errorf("peak concurrency %d, limit 2", peak)
	}
	if starts != ends || starts != 10 { // start + parallel + 8 waits
		t.Errorf("starts=%d ends=%d, want 10", starts, ends)
	}
	// Trace: the parallel span has one child per branch, each holding the wait span.
	par := findSpan(res.TraceSpans, "p")
	if par == nil || len(par.Children) != 8 || len(par.Children[3].Children) != 1 || *par.Children[3].IterationIndex != 3 {
		t.Fatalf("trace spans: %s", mustJSON(res.TraceSpans))
	}
}

func TestRetriesOnServerErrors(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	b := newWF()
	startBlock(b).block("api", TypeAPI, "Call", map[string]any{"url": srv.URL}, nil).edge("start", "api", "")
	b.blocks["api"].(map[string]any)["retry"] = map[string]any{"enabled": true, "maxTries": 3, "waitBetweenTriesMs": 1}
	p := b.plan(t)
	res := p.Run(context.Background(), RunInput{HTTPClient: netguard.NewClient(netguard.Options{AllowLoopback: true})})
	if !res.Success || calls.Load() != 3 {
		t.Fatalf("success=%v calls=%d err=%s", res.Success, calls.Load(), res.Error)
	}
	if l := res.BlockLogs[len(res.BlockLogs)-1]; l.Tries != 3 {
		t.Errorf("tries = %d", l.Tries)
	}
	if d, _ := res.Output["data"].(map[string]any); d["ok"] != true {
		t.Errorf("output %v", res.Output)
	}
}

func TestConcurrentRunsShareOnePlan(t *testing.T) {
	b := newWF()
	startBlock(b, map[string]any{"name": "n", "type": "number"}).
		block("p", TypeParallel, "Fan", nil, map[string]any{"parallelType": "count", "count": 4}).
		fn("f", "Sq", "return <start.n> * <parallel.index>").
		block("v", TypeVariables, "Set", map[string]any{"variables": []any{map[string]any{"variableName": "total", "value": "<start.n>"}}}, nil).
		fn("g", "Read", "return [<fan.results>.map(r => r[0].result), <variable.total>]").
		edge("start", "p", "").edge("p", "v", "parallel-end-source").edge("v", "g", "")
	b.blocks["f"].(map[string]any)["data"] = map[string]any{"parentId": "p"}
	b.vars["v1"] = map[string]any{"id": "v1", "name": "total", "type": "number", "value": 0}
	p := b.plan(t)
	sb := sandbox.NewInProcess()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			res := p.Run(context.Background(), RunInput{Input: map[string]any{"n": n}, Sandbox: sb})
			want := mustJSON([]any{[]any{0, n, 2 * n, 3 * n}, n})
			if !res.Success || mustJSON(res.Output["result"]) != want {
				t.Errorf("run %d: %v %s, want %s", n, res.Error, mustJSON(res.Output), want)
			}
		}(i)
	}
	wg.Wait()
}

func TestFinalOutputAndErrorEdgeSemantics(t *testing.T) {
	// Two terminal blocks run one after the other: the later one is the output.
	b := newWF()
	startBlock(b).fn("a", "A", "return 'a'").fn("b", "B", "return <a.result> + 'b'").
		fn("c", "C", "return 'c'").edge("start", "a", "").edge("a", "b", "").edge("start", "c", "").edge("c", "a", "")
	res := b.plan(t).Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess()})
	if !res.Success || res.Output["result"] != "ab" {
		t.Fatalf("output %v err %s", res.Output, res.Error)
	}
	// A block with no script runner fails cleanly.
	res = b.plan(t).Run(context.Background(), RunInput{})
	if res.Success || !strings.Contains(res.Error, "sandbox") {
		t.Fatalf("without sandbox: %+v", res)
	}
}

func TestNoStartBlock(t *testing.T) {
	b := newWF()
	b.fn("a", "A", "return 1")
	w, err := Import(b.json())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(w, CompileOptions{}); err == nil || !strings.Contains(err.Error(), "No start block") {
		t.Fatalf("err = %v", err)
	}
}

func TestNaNInputStaysSerialisable(t *testing.T) {
	b := newWF()
	startBlock(b, map[string]any{"name": "n", "type": "number"}).
		block("r", TypeResponse, "Response", map[string]any{"dataMode": "json", "data": `{"n": <variable.x>}`}, nil).edge("start", "r", "")
	b.vars["v"] = map[string]any{"id": "v", "name": "x", "type": "number", "value": "NaN"}
	p := b.plan(t)
	// Sim's coerceValue keeps what Number() cannot parse as it came: no NaN float.
	if res := p.Run(context.Background(), RunInput{Input: map[string]any{"n": "NaN"}}); !res.Success || res.BlockOutputs["start"]["n"] != "NaN" {
		t.Fatalf("NaN input: %s %v", res.Error, res.BlockOutputs["start"])
	}
	res := p.Run(context.Background(), RunInput{Input: map[string]any{"n": 1}})
	if _, err := json.Marshal(res); err != nil || !res.Success || mustJSON(res.Output["data"]) != `{"n":0}` {
		t.Fatalf("%v %s %s", err, res.Error, mustJSON(res.Output))
	}
}
