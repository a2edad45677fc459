package engine

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/engine/sandbox"
)

// Golden tests for the keys of trace spans, block logs and agent outputs, each written
// from Sim's source (simstudioai/sim 0b232eb8).

// keysOf returns the JSON keys of v (an object), for asserting exact key sets.
func keysOf(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

func TestTraceSpansUseSimShape(t *testing.T) {
	fp := newFakeProvider(t, ProviderOpenAI, "sk-test-1234", oaiText("hello"))
	b := agentWF(map[string]any{"model": "gpt-4o", "messages": []any{map[string]any{"role": "user", "content": "<start.q>"}}})
	b.fn("bad", "Bad", "throw new Error('nope')").fn("h", "Handler", "return 'handled'").
		edge("ag", "bad", "").edge("bad", "h", "error")
	res := b.plan(t).Run(context.Background(), RunInput{Input: map[string]any{"q": "hi"}, Sandbox: sandbox.NewInProcess(),
		HTTPClient: loopback(), Models: fp.resolver()})
	if !res.Success {
		t.Fatalf("run: %s", res.Error)
	}
	// lib/logs/execution/trace-spans/trace-spans.ts wrapInWorkflowRoot: one root span
	// {id "workflow-execution", name "Workflow Execution", type "workflow"} holding the
	// block spans, each with relativeStartMs.
	if len(res.TraceSpans) != 1 {
		t.Fatalf("want one root span, got %s", mustJSON(res.TraceSpans))
	}
	root := res.TraceSpans[0]
	if root.ID != "workflow-execution" || root.Name != "Workflow Execution" || root.Type != "workflow" || root.Status != "success" ||
		len(root.Children) != 4 || root.Cost == nil || root.Cost.Total <= 0 {
		t.Fatalf("root span %s", mustJSON(root))
	}
	for _, c := range root.Children {
		if c.RelativeStartMs == nil {
			t.Errorf("span %s has no relativeStartMs", c.ID)
		}
	}
	// span-factory.ts createBaseSpan: id "<blockId>-<startedAt ms>", blockId,
	// executionOrder, and enrichWithProviderMetadata: tokens {input,output,total}, cost
	// {input,output,total}, model, providerTiming {duration,startTime,endTime,segments}.
	ag := findSpan(res.TraceSpans, "ag")
	if ag.ID != "ag-"+strconv.FormatInt(ag.StartTime.UnixMilli(), 10) || ag.ExecutionOrder != 2 {
		t.Errorf("agent span id/order: %s / %d", ag.ID, ag.ExecutionOrder)
	}
	m := keysOf(t, ag)
	for _, k := range []string{"id", "name", "type", "duration", "startTime", "endTime", "status", "blockId", "executionOrder",
		"input", "output", "tokens", "cost", "model", "providerTiming", "relativeStartMs"} {
		if _, ok := m[k]; !ok {
			t.Errorf("agent span lacks %q: %s", k, mustJSON(ag))
		}
	}
	if mustJSON(m["tokens"]) != `{"input":1000,"output":100,"total":1100}` || m["model"] != "gpt-4o" {
		t.Errorf("agent span tokens/model: %s %v", mustJSON(m["tokens"]), m["model"])
	}
	if c := m["cost"].(map[string]any); c["input"] == nil || c["output"] == nil || c["total"] == nil || c["pricing"] != nil {
		t.Errorf("agent span cost %s", mustJSON(c))
	}
	pt := m["providerTiming"].(map[string]any)
	if segs, _ := pt["segments"].([]any); len(segs) != 1 || pt["startTime"] == nil || pt["endTime"] == nil || pt["duration"] == nil {
		t.Errorf("providerTiming %s", mustJSON(pt))
	}
	// span-factory.ts buildChildrenFromTimeSegments: the model call is a "model" child
	// "<span id>-segment-0" with the reply as output.content, tokens, cost and model.
	if len(ag.Children) != 1 {
		t.Fatalf("agent children %s", mustJSON(ag.Children))
	}
	mc := keysOf(t, ag.Children[0])
	if mc["id"] != ag.ID+"-segment-0" || mc["type"] != "model" || mc["model"] != "gpt-4o" ||
		mustJSON(mc["output"]) != `{"content":"hello"}` || mustJSON(mc["tokens"]) != `{"input":1000,"output":100,"total":1100}` {
		t.Errorf("model child span %s", mustJSON(mc))
	}
	// span-factory.ts extractDisplayOutput: a block's error is merged into its span's
	// output as output.error; TraceSpan (lib/logs/types.ts) has no top-level error.
	// errorHandled is set when an error edge took it.
	bad := keysOf(t, findSpan(res.TraceSpans, "bad"))
	if _, ok := bad["error"]; ok {
		t.Errorf("span has a top-level error key: %s", mustJSON(bad))
	}
	if out := bad["output"].(map[string]any); bad["status"] != "error" || bad["errorHandled"] != true || !strings.Contains(toStr(out["error"]), "nope") {
		t.Errorf("failed span %s", mustJSON(bad))
	}
	// executor/execution/block-executor.ts: tries is logged only when the block retried.
	if _, ok := keysOf(t, res.BlockLogs[0])["tries"]; ok {
		t.Errorf("block log has tries without a retry: %s", mustJSON(res.BlockLogs[0]))
	}
	// executor/handlers/agent/agent-handler.ts createResponseMetadata: the agent output
	// is {content, model, tokens{input,output,total}, toolCalls{list,count},
	// providerTiming, cost{input,output,total,pricing}} (providers/types.ts).
	out := res.BlockOutputs["ag"]
	for _, k := range []string{"content", "model", "tokens", "toolCalls", "providerTiming", "cost"} {
		if _, ok := out[k]; !ok {
			t.Errorf("agent output lacks %q", k)
		}
	}
	// executor/types.ts ProviderTimingSegment: {type, name, startTime, endTime (unix ms),
	// duration, assistantContent?, toolCalls?, tokens?, cost?, provider?}.
	segs, _ := out["providerTiming"].(map[string]any)["timeSegments"].([]any)
	if len(segs) != 1 {
		t.Fatalf("timeSegments %s", mustJSON(out["providerTiming"]))
	}
	seg := segs[0].(map[string]any)
	for _, k := range []string{"type", "name", "startTime", "endTime", "duration", "assistantContent", "tokens", "cost", "provider"} {
		if _, ok := seg[k]; !ok {
			t.Errorf("model segment lacks %q: %s", k, mustJSON(seg))
		}
	}
	if st, _ := seg["startTime"].(float64); st < 1e12 {
		t.Errorf("segment startTime %v is not unix ms", seg["startTime"])
	}
	if tok := out["tokens"].(map[string]any); tok["prompt"] != nil || tok["completion"] != nil || tok["input"] != 1000.0 {
		t.Errorf("agent tokens %s", mustJSON(tok))
	}
	if p, _ := out["cost"].(map[string]any)["pricing"].(map[string]any); p["input"] != 2.5 || p["output"] != 10.0 || p["updatedAt"] == nil {
		t.Errorf("agent cost.pricing %s", mustJSON(out["cost"]))
	}
}

func TestLoopSpansUseSimContainerShape(t *testing.T) {
	w := startBlock(newWF())
	w.block("lp", TypeLoop, "Each", nil, map[string]any{"loopType": "for", "count": 2})
	w.block("in", "function", "Body", map[string]any{"code": "return 1"}, map[string]any{"parentId": "lp"})
	w.edge("start", "lp", "")
	res := w.plan(t).Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess()})
	if !res.Success {
		t.Fatalf("run: %s", res.Error)
	}
	// iteration-grouping.ts: the container span is "loop-execution-<id>" named after the
	// block; its children are "<id>-iteration-<i>" spans named "Iteration <i>" of type
	// "loop-iteration".
	lp := findSpan(res.TraceSpans, "lp")
	if lp == nil || lp.ID != "loop-execution-lp" || lp.Name != "Each" || lp.Type != "loop" || len(lp.Children) != 2 {
		t.Fatalf("loop span %s", mustJSON(res.TraceSpans))
	}
	for i, it := range lp.Children {
		if it.ID != "lp-iteration-"+strconv.Itoa(i) || it.Name != "Iteration "+strconv.Itoa(i) || it.Type != "loop-iteration" {
			t.Errorf("iteration %d: %s", i, mustJSON(it))
		}
	}
}

// Traces stored before the rename still decode and are served in the current shape.
func TestLegacyTraceSpansUpgrade(t *testing.T) {
	legacy := `[{"id":"ag","name":"Agent 1","type":"agent","blockId":"ag","duration":5,"startTime":"2026-11-20T10:00:00Z",` +
		`"endTime":"2026-11-20T10:00:00.005Z","status":"success","output":{"content":"hi","model":"gpt-4o",` +
		`"tokens":{"prompt":7,"completion":3,"total":10},"cost":{"input":0.1,"output":0.2,"total":0.3}}},` +
		`{"id":"f","name":"F","type":"function","blockId":"f","duration":1,"startTime":"2026-11-20T10:00:01Z",` +
		`"endTime":"2026-11-20T10:00:01.001Z","status":"error","error":"boom","output":{}},` +
		`{"id":"wf","name":"Call","type":"workflow","blockId":"wf","duration":1,"startTime":"2026-11-20T10:00:02Z",` +
		`"endTime":"2026-11-20T10:00:02.001Z","status":"success","children":[{"id":"wf:Kid","name":"Kid","type":"workflow",` +
		`"duration":1,"startTime":"2026-11-20T10:00:02Z","endTime":"2026-11-20T10:00:02.001Z","status":"success",` +
		`"children":[{"id":"k","name":"K","type":"function","blockId":"k","duration":1,"startTime":"2026-11-20T10:00:02Z",` +
		`"endTime":"2026-11-20T10:00:02.001Z","status":"success"}]}]},` +
		`{"id":"lp","name":"Each","type":"loop","blockId":"lp","duration":1,"startTime":"2026-11-20T10:00:03Z",` +
		`"endTime":"2026-11-20T10:00:03.001Z","status":"success","children":[{"id":"lp-iteration-0","name":"Each (iteration 0)",` +
		`"type":"loop-iteration","blockId":"lp","loopId":"lp","iterationIndex":0,"duration":1,"startTime":"2026-11-20T10:00:03Z",` +
		`"endTime":"2026-11-20T10:00:03.001Z","status":"success"}]}]`
	var spans []TraceSpan
	if err := json.Unmarshal([]byte(legacy), &spans); err != nil {
		t.Fatal(err)
	}
	// The dashboard reads Error; the old top-level "error" lands there and in output.
	if spans[1].Error != "boom" || spans[1].Output["error"] != "boom" {
		t.Errorf("legacy error: %+v", spans[1])
	}
	// span-factory.ts reads legacy tokens.prompt/completion as input/output.
	if spans[0].Tokens == nil || *spans[0].Tokens != (TokenUsage{Input: 7, Output: 3, Total: 10}) || spans[0].Model != "gpt-4o" {
		t.Errorf("legacy tokens: %s", mustJSON(spans[0]))
	}
	up, changed := UpgradeTraceSpans(json.RawMessage(legacy))
	if !changed {
		t.Error("legacy trace reported unchanged")
	}
	var got []map[string]any
	if err := json.Unmarshal(up, &got); err != nil {
		t.Fatalf("%s: %v", up, err)
	}
	if len(got) != 1 || got[0]["id"] != RootSpanID {
		t.Fatalf("upgraded: %s", up)
	}
	kids := got[0]["children"].([]any)
	ag, f, wf := kids[0].(map[string]any), kids[1].(map[string]any), kids[2].(map[string]any)
	if ag["id"] != "ag-1795168800000" || mustJSON(ag["tokens"]) != `{"input":7,"output":3,"total":10}` {
		t.Errorf("agent: %s", mustJSON(ag))
	}
	if _, ok := f["error"]; ok || f["output"].(map[string]any)["error"] != "boom" {
		t.Errorf("function: %s", mustJSON(f))
	}
	// The synthetic child-workflow wrapper is gone: the child's blocks are direct children.
	if c := wf["children"].([]any); len(c) != 1 || c[0].(map[string]any)["name"] != "K" {
		t.Errorf("workflow: %s", mustJSON(wf))
	}
	// Loop containers and iterations take Sim's ids and names (iteration-grouping.ts).
	lp := kids[3].(map[string]any)
	if it := lp["children"].([]any)[0].(map[string]any); lp["id"] != "loop-execution-lp" || it["id"] != "lp-iteration-0" || it["name"] != "Iteration 0" {
		t.Errorf("loop: %s", mustJSON(lp))
	}
	// Current traces pass through untouched, and upgrading is idempotent.
	if again, changed := UpgradeTraceSpans(up); changed || string(again) != string(up) {
		t.Errorf("second upgrade changed the trace:\n%s\n%s", up, again)
	}
}
