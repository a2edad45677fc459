package engine

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/steelengine/steelengine/engine/sandbox"
)

// countingRunner counts the scripts that reach the sandbox.
type countingRunner struct {
	sandbox.Runner
	n atomic.Int64
}

func (c *countingRunner) Run(ctx context.Context, req sandbox.Request) (sandbox.Response, error) {
	c.n.Add(1)
	return c.Runner.Run(ctx, req)
}

// Conditions in the native subset pick their branch without a sandbox round trip, and
// pick the same branch, with the same error, as the sandbox when they are not.
func TestConditionNativeOrSandbox(t *testing.T) {
	cases := []struct {
		name, expr string
		x          any
		branch     string // selected block; "" = the run fails
		scripts    int64
	}{
		{"native true", "<start.x> > 10", 12, "big", 0},
		{"native false falls to else", "<start.x> > 10", 3, "small", 0},
		{"native string compare", `<start.s> === "y" && <start.x> <= 3`, 3, "big", 0},
		{"native loose equality", "<start.x> == '3'", 3, "big", 0},
		// A reference inside a string is spliced as JSON.stringify (Sim's resolver):
		// '<start.s>' is the 3-character "y" with its quotes.
		{"native context", "context.x >= 3 && '<start.s>'.length === 3", 3, "big", 0},
		{"sandbox: Math", "Math.max(<start.x>, 1) > 10", 12, "big", 1},
		{"sandbox: TypeError keeps its message", "context.nope.y > 1", 3, "", 1},
		{"sandbox: goja's own chained comparison", "1 < <start.x> < 3", 12, "small", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conds, _ := json.Marshal([]any{
				map[string]any{"id": "c-if", "title": "if", "value": tc.expr},
				map[string]any{"id": "c-else", "title": "else", "value": ""},
			})
			w := newWF()
			startBlock(w, map[string]any{"name": "x", "type": "number"}, map[string]any{"name": "s", "type": "string"}).
				block("cond", TypeCondition, "Check", map[string]any{"conditions": string(conds)}, nil).
				fn("big", "Big", "return 'big'").
				fn("small", "Small", "return 'small'").
				edge("start", "cond", "").edge("cond", "big", "condition-c-if").edge("cond", "small", "condition-c-else")
			p := w.plan(t)
			sb := &countingRunner{Runner: sandbox.NewInProcess()}
			res := p.Run(context.Background(), RunInput{Input: map[string]any{"x": tc.x, "s": "y"}, Sandbox: sb})
			if tc.branch == "" {
				if res.Success {
					t.Fatalf("run succeeded: %v", res.Output)
				}
				// The run's error names the block first, as Sim's buildBlockExecutionError.
				if want := `Check: Evaluation error in condition "if": Cannot read property 'y' of undefined`; len(res.Error) < len(want) || res.Error[:len(want)] != want {
					t.Fatalf("error %q, want the sandbox's TypeError", res.Error)
				}
			} else if !res.Success || res.Output["result"] != tc.branch {
				t.Fatalf("output %v (%s), want branch %s", res.Output, res.Error, tc.branch)
			}
			// The function block on the chosen branch is one script; the condition adds one
			// only when it went to the sandbox.
			want := tc.scripts
			if tc.branch != "" {
				want++
			}
			if got := sb.n.Load(); got != want {
				t.Fatalf("%d scripts reached the sandbox, want %d", got, want)
			}
		})
	}
}

// A while loop's condition in the native subset is checked in Go each iteration; one
// outside it still goes to the sandbox every time; both run the same iterations.
func TestLoopConditionNativeOrSandbox(t *testing.T) {
	for _, tc := range []struct {
		cond    string
		scripts int64
	}{
		{"<loop.index> < <start.limit>", 0},
		{"Math.min(<loop.index>, 99) < <start.limit>", 4}, // 3 iterations + the final check
	} {
		t.Run(tc.cond, func(t *testing.T) {
			w := newWF()
			startBlock(w, map[string]any{"name": "limit", "type": "number"}).
				block("w", TypeLoop, "While", nil, map[string]any{"loopType": "while", "whileCondition": tc.cond}).
				block("wb", TypeWait, "Body", map[string]any{"timeValue": 0}, map[string]any{"parentId": "w", "extent": "parent"}).
				edge("start", "w", "").edge("w", "wb", "loop-start-source")
			sb := &countingRunner{Runner: sandbox.NewInProcess()}
			res := w.plan(t).Run(context.Background(), RunInput{Input: map[string]any{"limit": 3}, Sandbox: sb})
			if !res.Success {
				t.Fatal(res.Error)
			}
			bodies := 0
			for _, l := range res.BlockLogs {
				if l.BlockID == "wb" {
					bodies++
				}
			}
			if bodies != 3 {
				t.Fatalf("body ran %d times, want 3", bodies)
			}
			if got := sb.n.Load(); got != tc.scripts {
				t.Fatalf("%d scripts reached the sandbox, want %d", got, tc.scripts)
			}
		})
	}
}
