package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/engine/netguard"
	"github.com/steelengine/steelengine/engine/sandbox"
)

// Golden cases written from Sim's source (simstudioai/sim 0b232eb8); each cites the
// file whose behaviour it pins.

func runSim(t *testing.T, b *wfBuilder, input map[string]any) *Result {
	t.Helper()
	res := b.plan(t).Run(context.Background(), RunInput{Input: input, Sandbox: sandbox.NewInProcess()})
	return res
}

// apps/sim/executor/variables/resolver.ts (formatContextVariableReference; pinned by
// resolver.test.ts): inside a quoted string or a template literal a reference becomes
// ' + JSON.stringify(value) + ', so strings gain quotes and a block that did not run
// gives null; outside strings values keep their type.
func TestSimQuotedReferences(t *testing.T) {
	b := newWF()
	startBlock(b, map[string]any{"name": "name", "type": "string"}, map[string]any{"name": "n", "type": "number"}).
		fn("f", "Fn", "return ['Hello <start.name>!', \"Bye <start.name>\", `T:<start.name>`, '[<start.n>]', <start.n> + 1, '<start.name>'.length]").
		edge("start", "f", "source")
	res := runSim(t, b, map[string]any{"name": "Bob", "n": 5})
	got, _ := json.Marshal(res.Output["result"])
	if want := `["Hello \"Bob\"!","Bye \"Bob\"","T:\"Bob\"","[5]",6,5]`; !res.Success || string(got) != want {
		t.Fatalf("got %s (%s), want %s", got, res.Error, want)
	}
}

// apps/sim/executor/utils/subflow-utils.server.ts: an object collection iterates with
// Object.entries, in the object's own key order (not sorted).
func TestSimForEachObjectKeyOrder(t *testing.T) {
	for name, coll := range map[string]any{
		"json text": `{"zeta":1,"alpha":2,"mid":3}`,
		"literal":   json.RawMessage(`{"zeta":1,"alpha":2,"mid":3}`),
	} {
		b := newWF()
		startBlock(b).
			block("lp", TypeLoop, "Each", nil, map[string]any{"loopType": "forEach", "collection": coll}).
			block("body", TypeFunction, "Body", map[string]any{"code": "return <loop.currentItem>[0]"}, map[string]any{"parentId": "lp"}).
			fn("after", "After", "return <each.results>").
			edge("start", "lp", "source").edge("lp", "body", "loop-start-source").edge("lp", "after", "loop-end-source")
		res := runSim(t, b, nil)
		got, _ := json.Marshal(res.Output["result"])
		if !res.Success || string(got) != `[[{"result":"zeta","stdout":""}],[{"result":"alpha","stdout":""}],[{"result":"mid","stdout":""}]]` {
			t.Errorf("%s: %s %s", name, got, res.Error)
		}
	}
}

// apps/sim/executor/handlers/condition/condition-handler.ts: when the batched script
// does not parse (here a reference to a block that does not exist stays in the code as
// <nosuchblock.x>), the conditions are tested one by one, so the first one still wins;
// when the broken one is reached, the block fails naming that condition.
func TestSimConditionBatchFallback(t *testing.T) {
	conds := `[{"id":"c-if","title":"if","value":"<start.s>.length > 3"},{"id":"c-elif","title":"else if","value":"<nosuchblock.x> === 1"},{"id":"c-else","title":"else","value":""}]`
	build := func() *wfBuilder {
		b := newWF()
		startBlock(b, map[string]any{"name": "s", "type": "string"}).
			block("cond", TypeCondition, "Check", map[string]any{"conditions": conds}, nil).
			fn("long", "Long", "return 'long'").fn("other", "Other", "return 'other'").
			edge("start", "cond", "source").edge("cond", "long", "condition-c-if").edge("cond", "other", "condition-c-else")
		return b
	}
	res := runSim(t, build(), map[string]any{"s": "abcdef"})
	if !res.Success || res.Output["result"] != "long" {
		t.Fatalf("long input: %v %s", res.Output, res.Error)
	}
	res = runSim(t, build(), map[string]any{"s": "ab"})
	if res.Success || !strings.Contains(res.Error, `Evaluation error in condition "else if"`) {
		t.Fatalf("short input: success=%v error=%q", res.Success, res.Error)
	}
}

// apps/sim/executor/handlers/response/response-handler.ts + executor/utils/json.ts
// parseObjectStrings: structured (builder) values that hold JSON text become values.
func TestSimResponseParseObjectStrings(t *testing.T) {
	rows := []any{
		map[string]any{"id": "1", "name": "countStr", "type": "string", "value": "5"},
		map[string]any{"id": "2", "name": "jsonish", "type": "string", "value": `{"a": 1, "b": "[1,2]"}`},
		map[string]any{"id": "3", "name": "plain", "type": "string", "value": "hello"},
		map[string]any{"id": "4", "name": "flag", "type": "string", "value": "true"},
	}
	b := newWF()
	startBlock(b).block("r", TypeResponse, "Response", map[string]any{"dataMode": "structured", "builderData": rows}, nil).
		edge("start", "r", "source")
	res := runSim(t, b, nil)
	got, _ := json.Marshal(res.Output["data"])
	if !res.Success || string(got) != `{"countStr":5,"flag":true,"jsonish":{"a":1,"b":[1,2]},"plain":"hello"}` {
		t.Fatalf("data = %s (%s)", got, res.Error)
	}
}

// apps/sim/lib/execution/isolated-vm-worker.cjs bootstrap: console.warn writes
// "WARN: …" and console.error "ERROR: …" to stdout; one trailing newline is trimmed
// (app/api/function/execute/route.ts).
func TestSimConsolePrefixes(t *testing.T) {
	b := newWF()
	startBlock(b).fn("f", "Fn", `console.log("plain", 42, {a:1}); console.warn("careful"); console.error("bad"); return 1`).
		edge("start", "f", "source")
	res := runSim(t, b, nil)
	if !res.Success || res.Output["stdout"] != "plain 42 {\"a\":1}\nWARN: careful\nERROR: bad" {
		t.Fatalf("stdout = %q (%s)", res.Output["stdout"], res.Error)
	}
}

// apps/sim/executor/utils/errors.ts buildBlockExecutionError: an unhandled block error
// fails the run with "<block name>: <message>"; for a block inside a loop it is that
// block's name.
func TestSimRunErrorNamesTheBlock(t *testing.T) {
	b := newWF()
	startBlock(b).fn("f", "Thrower", "throw new Error('kaput')").edge("start", "f", "source")
	res := runSim(t, b, nil)
	if res.Success || !strings.HasPrefix(res.Error, "Thrower: ") || !strings.Contains(res.Error, "kaput") {
		t.Fatalf("error = %q", res.Error)
	}
	b = newWF()
	startBlock(b).
		block("lp", TypeLoop, "Rounds", nil, map[string]any{"loopType": "for", "count": 2}).
		block("in", TypeFunction, "Inner Step", map[string]any{"code": "throw new Error('deep')"}, map[string]any{"parentId": "lp"}).
		edge("start", "lp", "source").edge("lp", "in", "loop-start-source")
	res = runSim(t, b, nil)
	if res.Success || !strings.HasPrefix(res.Error, "Inner Step: ") || strings.Contains(res.Error, "Rounds") {
		t.Fatalf("loop error = %q", res.Error)
	}
}

// apps/sim/executor/handlers/function/function-handler.ts: a function gets the run's
// remaining time (no fixed 5 s), capped here by the operator's Limits.MaxFunctionTimeout.
func TestSimFunctionTimeoutIsRemainingTime(t *testing.T) {
	b := newWF()
	startBlock(b).fn("f", "Spin", "const t = Date.now(); while (Date.now() - t < 1500) {} return 'done'").
		edge("start", "f", "source")
	p := b.plan(t)
	res := p.Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess(), Limits: Limits{MaxFunctionTimeout: 300 * time.Millisecond}})
	if res.Success || !strings.Contains(res.Error, "timed out") {
		t.Fatalf("capped: success=%v error=%q", res.Success, res.Error)
	}
	start := time.Now()
	res = p.Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess(), Timeout: 30 * time.Second})
	if !res.Success || res.Output["result"] != "done" {
		t.Fatalf("remaining time: %v %q after %s", res.Output, res.Error, time.Since(start))
	}
}

// apps/sim/app/api/function/execute/route.ts createUserFriendlyErrorMessage, with the
// line from apps/sim/lib/execution/isolated-vm-worker.cjs convertToCompatibleError: a
// script error reads "Line N: `<trimmed source line>` - <message>", prefixed with
// "Type Error: " / "Reference Error: " / "Syntax Error: " / the error's name unless it
// is a plain Error; the line is clamped to the user's last line; the run's error then
// starts with the block name (executor/utils/errors.ts). The line shown is the block's
// source as written, references included. Runs in-process and in worker processes.
func TestSimFunctionErrorNamesTheLine(t *testing.T) {
	cases := []struct {
		name, code, want string
	}{
		{"plain Error", "const a = 1\n  throw new Error('boom')  \nreturn a", "Fn: Line 2: `throw new Error('boom')` - boom"},
		{"type error after a reference", "const v = <start.input>\nconst o = undefined\nreturn o.x", "Fn: Type Error: Line 3: `return o.x` - Cannot read property 'x' of undefined"},
		{"reference error in a nested function", "function f() {\n  return missing + 1\n}\nreturn f()", "Fn: Reference Error: Line 2: `return missing + 1` - missing is not defined"},
		{"rejected await", "\nconst E = RangeError\nawait Promise.reject(new E('too far'))", "Fn: RangeError: Line 3: `await Promise.reject(new E('too far'))` - too far"},
		// Sim adds the prefix only when the message does not already contain it,
		// line content included.
		{"name already in the line", "throw new RangeError('too far')", "Fn: Line 1: `throw new RangeError('too far')` - too far"},
		// As in V8, the stack (and so the line) is where the error was created.
		{"custom name", "const e = new Error('nope')\ne.name = 'Validation' + 'Error'\nthrow e", "Fn: ValidationError: Line 1: `const e = new Error('nope')` - nope"},
		{"syntax error", "const x = (;", "Fn: Syntax Error: Line 1: `const x = (;` - Unexpected token ;"},
		{"syntax error past the end clamps to the last line", "return {a: 1", "Fn: Syntax Error: Line 1: `return {a: 1` - Unexpected token )"},
		{"thrown string has no line", "throw 'plain'", "Fn: plain"},
	}
	for _, runner := range []struct {
		name string
		r    sandbox.Runner
	}{{"in-process", sandbox.NewInProcess()}, {"pool", testPool(t)}} {
		for _, c := range cases {
			t.Run(runner.name+"/"+c.name, func(t *testing.T) {
				b := newWF()
				startBlock(b).fn("f", "Fn", c.code).edge("start", "f", "source")
				res := b.plan(t).Run(context.Background(), RunInput{Sandbox: runner.r})
				if res.Success || res.Error != c.want {
					t.Fatalf("error = %q\n want %q", res.Error, c.want)
				}
			})
		}
	}
}

// apps/sim/app/api/function/execute/route.ts gives function code the global fetch
// (apps/sim/lib/execution/isolated-vm-worker.cjs bridges it out of the isolate). Here
// the worker asks the parent, which uses the run's SSRF-guarded client: a loopback
// test server is reached only when the operator allows loopback, as for api blocks.
// Runs in-process and in worker processes.
func TestSimFunctionFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Seen", r.Header.Get("X-Token"))
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"method":%q,"body":%q}`, r.Method, body)
	}))
	defer srv.Close()
	code := `const r = await fetch(<start.url>, {method: 'post', headers: {'X-Token': 't1'}, body: JSON.stringify({a: 1})})
const j = await r.json()
return {status: r.status, ok: r.ok, type: r.headers.get('content-type'), seen: r.headers.get('x-seen'), missing: r.headers.get('nope'), j}`
	textCode := `const r = await fetch(<start.url>); return (await r.text()).length > 0`
	for _, runner := range []struct {
		name string
		r    sandbox.Runner
	}{{"in-process", sandbox.NewInProcess()}, {"pool", testPool(t)}} {
		t.Run(runner.name, func(t *testing.T) {
			b := newWF()
			startBlock(b, map[string]any{"name": "url", "type": "string"}).fn("f", "Fn", code).edge("start", "f", "source")
			p := b.plan(t)
			allowed := netguard.NewClient(netguard.Options{AllowLoopback: true})
			res := p.Run(context.Background(), RunInput{Input: map[string]any{"url": srv.URL}, Sandbox: runner.r, HTTPClient: allowed})
			want := map[string]any{"status": int64(201), "ok": true, "type": "application/json", "seen": "t1", "missing": nil,
				"j": map[string]any{"method": "POST", "body": `{"a":1}`}}
			if !res.Success || !reflect.DeepEqual(res.Output["result"], want) {
				t.Fatalf("allowed: %v %q", res.Output["result"], res.Error)
			}
			// The default client refuses private and loopback addresses.
			res = p.Run(context.Background(), RunInput{Input: map[string]any{"url": srv.URL}, Sandbox: runner.r})
			if res.Success || !strings.Contains(res.Error, "fetch failed") || !strings.Contains(res.Error, "destination address not allowed") || !strings.HasPrefix(res.Error, "Fn: Type Error: Line 1: ") {
				t.Fatalf("loopback not allowed: success=%v %q", res.Success, res.Error)
			}
			res = p.Run(context.Background(), RunInput{Input: map[string]any{"url": "http://10.1.2.3/"}, Sandbox: runner.r})
			if res.Success || !strings.Contains(res.Error, "destination address not allowed: 10.1.2.3 is private") {
				t.Fatalf("private: success=%v %q", res.Success, res.Error)
			}
			b = newWF()
			startBlock(b, map[string]any{"name": "url", "type": "string"}).fn("f", "Fn", textCode).edge("start", "f", "source")
			res = b.plan(t).Run(context.Background(), RunInput{Input: map[string]any{"url": srv.URL}, Sandbox: runner.r, HTTPClient: allowed})
			if !res.Success || res.Output["result"] != true {
				t.Fatalf("text: %v %q", res.Output, res.Error)
			}
		})
	}
}
