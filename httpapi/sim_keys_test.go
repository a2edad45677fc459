package httpapi_test

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// hasKeys fails unless m has every key.
func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

// spanOf returns the first span of blockID below spans.
func spanOf(spans []any, blockID string) map[string]any {
	for _, s := range spans {
		m, _ := s.(map[string]any)
		if m["blockId"] == blockID {
			return m
		}
		if c, ok := m["children"].([]any); ok {
			if f := spanOf(c, blockID); f != nil {
				return f
			}
		}
	}
	return nil
}

// TestSimFieldNamesOverHTTP runs an agent workflow through the execute API and reads
// it back through the v1 and v2 logs APIs, asserting Sim's current field names at
// each front door (simstudioai/sim 0b232eb8):
//   - execute: apps/sim/app/api/workflows/[id]/execute/route.ts filteredResult;
//   - agent output: apps/sim/executor/handlers/agent/agent-handler.ts
//     createResponseMetadata, tokens {input,output,total} (providers/types.ts);
//   - logs: apps/sim/app/api/v1/logs/route.ts, [id]/route.ts, v2/logs/[runId]/route.ts;
//   - trace spans: apps/sim/lib/logs/types.ts TraceSpan as built by
//     lib/logs/execution/trace-spans/{trace-spans,span-factory}.ts;
//   - executionData: WorkflowExecutionLog.executionData (workflowInput, tokens, models).
func TestSimFieldNamesOverHTTP(t *testing.T) {
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.AllowLoopback = true }})
	ctx := context.Background()
	fake := newFakeOpenAI(t, chatText("hello there"))
	if _, err := e.App.Service.AddModelProvider(ctx, auth.Operator(), e.WS.ID, core.ModelProviderInput{Name: "fake", Kind: "openai",
		BaseURL: fake.srv.URL + "/v1", APIKey: "sk-fake-0123456789", DefaultModel: "gpt-4o", IsDefault: true}); err != nil {
		t.Fatal(err)
	}
	wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, simAgentExport("Keys", map[string]any{"userPrompt": "<start.question>", "model": "gpt-4o"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}

	// Sync execute: {success, executionId, output, error?, metadata{duration,startTime,endTime}}.
	res := xwant(t, e, 200, "", "POST", execPath(wf.ID), e.WSKey, map[string]any{"question": "hi"}, nil)
	hasKeys(t, "execute response", res, "success", "executionId", "output", "metadata")
	hasKeys(t, "execute metadata", xobj(t, res, "metadata"), "duration", "startTime", "endTime")
	execID, _ := res["executionId"].(string)
	out := xobj(t, res, "output")
	hasKeys(t, "agent output", out, "content", "model", "tokens", "toolCalls", "providerTiming", "cost")
	if tok := xobj(t, out, "tokens"); len(tok) != 3 || tok["input"] != 10.0 || tok["output"] != 2.0 || tok["total"] != 12.0 {
		t.Errorf("agent tokens %v, want {input:10, output:2, total:12}", tok)
	}
	hasKeys(t, "agent toolCalls", xobj(t, out, "toolCalls"), "list", "count")
	hasKeys(t, "agent cost", xobj(t, out, "cost"), "input", "output", "total", "pricing")
	hasKeys(t, "agent providerTiming", xobj(t, out, "providerTiming"), "startTime", "endTime", "duration")

	// v1 list with details=full: Sim's item keys, trace under one root span.
	ws := "/api/v1/logs?workspaceId=" + e.WS.ID + "&workflowIds=" + wf.ID
	items := logItems(t, xwant(t, e, 200, "", "GET", ws+"&details=full&includeTraceSpans=true&includeFinalOutput=true", e.WSKey, nil, nil))
	if len(items) != 1 {
		t.Fatalf("%d items", len(items))
	}
	it := items[0]
	hasKeys(t, "v1 log item", it, "id", "workflowId", "executionId", "deploymentVersionId", "level", "trigger", "startedAt",
		"endedAt", "totalDurationMs", "cost", "files", "workflow", "finalOutput", "traceSpans")
	checkTrace(t, it["traceSpans"])
	// cost.total is the run's model cost: gpt-4o at $2.5/$10 per million tokens.
	if c := xobj(t, it, "cost"); c["total"] != 10*2.5/1e6+2*10/1e6 {
		t.Errorf("log cost %v", c)
	}

	// v1 detail: executionData under Sim's names.
	d := xobj(t, xwant(t, e, 200, "", "GET", "/api/v1/logs/"+execID, e.WSKey, nil, nil), "data")
	ed := xobj(t, d, "executionData")
	hasKeys(t, "executionData", ed, "workflowInput", "finalOutput", "traceSpans", "tokens", "models")
	for _, old := range []string{"input", "truncated"} {
		if _, ok := ed[old]; ok {
			t.Errorf("executionData still has %q", old)
		}
	}
	if wi := xobj(t, ed, "workflowInput"); wi["question"] != "hi" {
		t.Errorf("workflowInput %v", wi)
	}
	if tok := xobj(t, ed, "tokens"); tok["input"] != 10.0 || tok["output"] != 2.0 || tok["total"] != 12.0 {
		t.Errorf("executionData.tokens %v", tok)
	}
	if m := xobj(t, xobj(t, ed, "models"), "gpt-4o"); xobj(t, m, "tokens")["total"] != 12.0 || m["total"] == nil {
		t.Errorf("executionData.models %v", m)
	}
	checkTrace(t, ed["traceSpans"])

	// v2 list and detail.
	v2 := logItems(t, xwant(t, e, 200, "", "GET", "/api/v2/logs?workspaceId="+e.WS.ID+"&workflowIds="+wf.ID, e.WSKey, nil, nil))
	hasKeys(t, "v2 log item", v2[0], "runId", "workflowId", "deploymentVersionId", "status", "level", "trigger", "startedAt",
		"endedAt", "totalDurationMs", "cost", "files")
	d2 := xobj(t, xwant(t, e, 200, "", "GET", "/api/v2/logs/"+execID, e.WSKey, nil, nil), "data")
	hasKeys(t, "v2 log detail", d2, "runId", "workflowId", "deploymentVersionId", "status", "level", "trigger", "startedAt",
		"endedAt", "totalDurationMs", "files", "workflow", "workflowState", "traceSpans", "finalOutput", "cost", "createdAt")
	checkTrace(t, d2["traceSpans"])
}

var spanIDPattern = regexp.MustCompile(`^agent-\d{13}$`)

// checkTrace asserts Sim's trace shape for the one-agent workflow.
func checkTrace(t *testing.T, v any) {
	t.Helper()
	spans, _ := v.([]any)
	if len(spans) != 1 {
		t.Fatalf("want one root span, got %v", v)
	}
	root := spans[0].(map[string]any)
	if root["id"] != "workflow-execution" || root["name"] != "Workflow Execution" || root["type"] != "workflow" {
		t.Fatalf("root span %v", root)
	}
	ag := spanOf(root["children"].([]any), "agent")
	if ag == nil {
		t.Fatalf("no agent span in %v", root)
	}
	if id, _ := ag["id"].(string); !spanIDPattern.MatchString(id) {
		t.Errorf("agent span id %q, want agent-<ms>", id)
	}
	hasKeys(t, "agent span", ag, "id", "name", "type", "duration", "startTime", "endTime", "status", "blockId",
		"executionOrder", "relativeStartMs", "input", "output", "tokens", "cost", "model", "providerTiming")
	if tok, _ := json.Marshal(ag["tokens"]); string(tok) != `{"input":10,"output":2,"total":12}` {
		t.Errorf("span tokens %s", tok)
	}
	if ag["model"] != "gpt-4o" {
		t.Errorf("span model %v", ag["model"])
	}
}

// TestLegacyTraceServedInSimShape: a record written before the rename (top-level span
// error, tokens.prompt/completion, no root span) decodes and is served in the current
// shape by the logs API, without rewriting the stored record.
func TestLegacyTraceServedInSimShape(t *testing.T) {
	e := testenv.New(t)
	exec := xrun(t, e, e.Greet.ID)
	stored, err := e.App.Store.Logs().Get(context.Background(), exec.ID)
	if err != nil {
		t.Fatal(err)
	}
	legacy := `[{"id":"ag","name":"Agent","type":"agent","blockId":"ag","duration":5,"startTime":"2026-11-20T10:00:00Z",` +
		`"endTime":"2026-11-20T10:00:00.005Z","status":"error","error":"model down","output":{"model":"gpt-4o",` +
		`"tokens":{"prompt":7,"completion":3,"total":10}}}]`
	stored.TraceSpans = json.RawMessage(legacy)
	if err := e.App.Store.Logs().Put(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	d := xobj(t, xwant(t, e, 200, "", "GET", "/api/v1/logs/"+exec.ID, e.WSKey, nil, nil), "data")
	spans := xobj(t, d, "executionData")["traceSpans"].([]any)
	root := spans[0].(map[string]any)
	ag := spanOf(root["children"].([]any), "ag")
	if root["id"] != "workflow-execution" || ag == nil {
		t.Fatalf("legacy trace not upgraded: %v", spans)
	}
	if _, ok := ag["error"]; ok || xobj(t, ag, "output")["error"] != "model down" {
		t.Errorf("legacy error not moved to output.error: %v", ag)
	}
	if tok, _ := json.Marshal(ag["tokens"]); string(tok) != `{"input":7,"output":3,"total":10}` {
		t.Errorf("legacy tokens %s", tok)
	}
	// The stored record is left as it was.
	again, _ := e.App.Store.Logs().Get(context.Background(), exec.ID)
	if string(again.TraceSpans) != legacy {
		t.Errorf("stored trace rewritten: %s", again.TraceSpans)
	}
}
