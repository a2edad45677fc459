package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/engine/sandbox"
)

// persisted simulates the store: the paused state goes through JSON, as it does when
// it is sealed into the paused-runs bucket.
func persisted(t *testing.T, st *PauseState) *PauseState {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var out PauseState
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// hitlWorkflow: start → double → approval (human_in_the_loop) → after, with an
// independent side branch start → side that runs before the pause ends the run.
func hitlWorkflow() *wfBuilder {
	w := newWF()
	startBlock(w, map[string]any{"name": "x", "type": "number"}).
		fn("double", "Double", "return <start.x> * 2").
		block("approval", TypeHITL, "Approval", map[string]any{
			"builderData": []any{map[string]any{"id": "r1", "name": "amount", "type": "number", "value": "<double.result>"}},
			"inputFormat": []any{
				map[string]any{"id": "f1", "name": "approved", "type": "boolean"},
				map[string]any{"id": "f2", "name": "comment", "type": "string", "value": "none"},
			},
		}, nil).
		fn("after", "After", "return (<approval.approved> ? 'yes ' : 'no ') + <approval.comment> + ' ' + <double.result>").
		fn("side", "Side", "return 'side'").
		edge("start", "double", "").edge("double", "approval", "").edge("approval", "after", "").edge("start", "side", "")
	w.vars["v1"] = map[string]any{"id": "v1", "name": "counter", "type": "number", "value": 0}
	return w
}

// Sim: apps/sim/executor/handlers/human-in-the-loop/human-in-the-loop-handler.ts (the
// paused output), apps/sim/executor/execution/engine.ts (buildPausedResult: the run's
// output is the pause block's response; the blocks after it do not run) and
// apps/sim/lib/workflows/executor/human-in-the-loop-manager.ts (the resume merge).
func TestHumanInTheLoopPausesAndResumes(t *testing.T) {
	p := hitlWorkflow().plan(t)
	sb := sandbox.NewInProcess()
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	in := RunInput{Input: map[string]any{"x": 21}, Sandbox: sb, ExecutionID: "exec1", WorkflowID: "wf1",
		BaseURL: "https://se.example.com", Now: func() time.Time { return t0 }}
	res := p.Run(context.Background(), in)
	if !res.Success || res.Paused == nil {
		t.Fatalf("want a paused run, got success=%v paused=%v err=%q", res.Success, res.Paused != nil, res.Error)
	}
	if len(res.Paused.Points) != 1 || res.Paused.Points[0].ContextID != "approval" || res.Paused.Points[0].Kind != PauseHuman {
		t.Fatalf("pause points %+v", res.Paused.Points)
	}
	data, _ := res.Output["data"].(map[string]any)
	if data["operation"] != "human" || res.Output["status"] != float64(200) {
		t.Fatalf("paused output %v", res.Output)
	}
	resume, _ := data["_resume"].(map[string]any)
	if resume["apiUrl"] != "https://se.example.com/api/resume/wf1/exec1/approval" {
		t.Fatalf("resume links %v", resume)
	}
	structure := data["responseStructure"].([]any)
	if row := structure[0].(map[string]any); row["name"] != "amount" || row["value"] != float64(42) {
		t.Fatalf("responseStructure %v", structure)
	}
	ran := map[string]int{}
	for _, l := range res.BlockLogs {
		ran[l.BlockID]++
	}
	if ran["after"] != 0 || ran["approval"] != 1 || ran["side"] != 1 || ran["double"] != 1 {
		t.Fatalf("blocks run before the pause: %v", ran)
	}
	out := res.BlockOutputs["approval"]
	if out["comment"] != "none" || out["approved"] != nil || out["resumeEndpoint"] != resume["apiUrl"] {
		t.Fatalf("approval output while paused %v", out)
	}

	// Resume with the approval: nothing before the pause runs again.
	st := persisted(t, res.Paused)
	var started []string
	in2 := RunInput{Sandbox: sb, ExecutionID: "exec1", WorkflowID: "wf1", BaseURL: "https://se.example.com",
		Now:    func() time.Time { return t0.Add(90 * time.Second) },
		Hooks:  Hooks{OnBlockStart: func(e BlockEvent) { started = append(started, e.BlockID) }},
		Resume: &Resume{State: st, ContextID: "approval", ExecutionID: "exec1", Input: map[string]any{"approved": true, "comment": "ship it"}}}
	res2 := p.Run(context.Background(), in2)
	if !res2.Success || res2.Paused != nil {
		t.Fatalf("resumed run: success=%v paused=%v err=%q", res2.Success, res2.Paused != nil, res2.Error)
	}
	if res2.Output["result"] != "yes ship it 42" {
		t.Fatalf("output %v", res2.Output)
	}
	if strings.Join(started, ",") != "after" {
		t.Fatalf("blocks started by the resume: %v, want only after", started)
	}
	merged := res2.BlockOutputs["approval"]
	sub, _ := merged["submission"].(map[string]any)
	if sub["comment"] != "ship it" || merged["approved"] != true || merged["_resumed"] != true ||
		merged["_resumedFrom"] != "exec1" || merged["submittedAt"] != "2026-11-29T12:01:30.000Z" ||
		merged["_pauseDurationMs"] != float64(90000) {
		t.Fatalf("merged output %v", merged)
	}
	rdata := merged["response"].(map[string]any)["data"].(map[string]any)
	if rdata["submittedAt"] != "2026-11-29T12:01:30.000Z" || rdata["operation"] != "human" {
		t.Fatalf("merged response data %v", rdata)
	}
	// The logs carry on: the earlier entries, the approval entry rewritten with the
	// submission, then what ran after.
	ids := []string{}
	for _, l := range res2.BlockLogs {
		ids = append(ids, l.BlockID)
		if l.BlockID == "approval" && l.Output["submittedAt"] == nil {
			t.Errorf("approval log not rewritten: %v", l.Output)
		}
	}
	if len(ids) != 5 || ids[4] != "after" {
		t.Fatalf("logs %v", ids)
	}
}

// Sim's resume merge normalises the payload (human-in-the-loop-manager.ts
// normalizedResumeInputRaw): a JSON string is parsed, a non-object value goes under
// "value", and a {"submission": {...}} wrapper is unwrapped.
func TestMergeResumePayloads(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	p := &PausePoint{Kind: PauseHuman, PausedAt: now.Add(-time.Second)}
	for _, tc := range []struct {
		name string
		in   any
		want map[string]any // submission
	}{
		{"object", map[string]any{"ok": true}, map[string]any{"ok": true}},
		{"json string", `{"ok":1}`, map[string]any{"ok": float64(1)}},
		{"plain string", "yes", map[string]any{"value": "yes"}},
		{"nil", nil, map[string]any{}},
		{"number", float64(3), map[string]any{"value": float64(3)}},
		{"wrapped", map[string]any{"submission": map[string]any{"a": "b"}, "extra": 1}, map[string]any{"a": "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mergeResume(map[string]any{"response": map[string]any{"status": float64(200)}}, p, tc.in, "e", now)
			got, _ := json.Marshal(out["submission"])
			want, _ := json.Marshal(tc.want)
			if string(got) != string(want) {
				t.Fatalf("submission %s, want %s", got, want)
			}
			for k, v := range tc.want {
				if out[k] != v {
					t.Errorf("field %s = %v, want spread %v", k, out[k], v)
				}
			}
		})
	}
	out := mergeResume(map[string]any{"status": "waiting"}, &PausePoint{Kind: PauseTime, PausedAt: now}, nil, "e", now)
	if out["status"] != "completed" {
		t.Fatalf("a resumed time pause is completed, got %v", out["status"])
	}
}

// Sim: apps/sim/executor/handlers/wait/wait-handler.ts (async mode returns status
// "waiting" with resumeAt and pauses with pauseKind "time"; seconds are refused; at most
// 30 days).
func TestAsyncWaitPausesUntilItsTime(t *testing.T) {
	w := newWF()
	startBlock(w).
		block("wait", TypeWait, "Wait", map[string]any{"async": true, "timeValue": "2", "timeUnitLong": "hours"}, nil).
		fn("after", "After", "return 'done after ' + <wait.waitDuration>").
		edge("start", "wait", "").edge("wait", "after", "")
	p := w.plan(t)
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	res := p.Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess(), Now: func() time.Time { return t0 }})
	if res.Paused == nil {
		t.Fatalf("not paused: %+v", res)
	}
	pt := res.Paused.Points[0]
	if pt.Kind != PauseTime || pt.ResumeAt == nil || !pt.ResumeAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("pause point %+v", pt)
	}
	if res.Output["waitDuration"] != float64(7200000) || res.Output["resumeAt"] != "2026-11-29T14:00:00.000Z" {
		t.Fatalf("paused output %v", res.Output)
	}
	if res.BlockOutputs["wait"]["status"] != "waiting" {
		t.Fatalf("wait output %v", res.BlockOutputs["wait"])
	}
	res2 := p.Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess(), Now: func() time.Time { return t0.Add(2 * time.Hour) },
		Resume: &Resume{State: persisted(t, res.Paused), ContextID: "wait", ExecutionID: "e"}})
	if !res2.Success || res2.Paused != nil || res2.Output["result"] != "done after 7200000" {
		t.Fatalf("resumed: %+v", res2)
	}
	if res2.BlockOutputs["wait"]["status"] != "completed" {
		t.Fatalf("wait output after resume %v", res2.BlockOutputs["wait"])
	}

	for _, tc := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"async": true, "timeValue": "5", "timeUnitLong": "seconds"}, "Seconds are not allowed in async mode"},
		{map[string]any{"async": true, "timeValue": "31", "timeUnitLong": "days"}, "Wait time exceeds maximum of 30 days"},
		{map[string]any{"async": true, "timeValue": "-1"}, "Wait amount must be a positive number"},
		{map[string]any{"async": "true", "timeValue": "1", "timeUnitLong": "weeks"}, "Unknown wait unit: weeks"},
	} {
		w := newWF()
		startBlock(w).block("wait", TypeWait, "Wait", tc.params, nil).edge("start", "wait", "")
		res := w.plan(t).Run(context.Background(), RunInput{})
		if res.Success || !strings.Contains(res.Error, tc.want) {
			t.Errorf("%v: success=%v err=%q, want %q", tc.params, res.Success, res.Error, tc.want)
		}
	}
}

// Two pause points: resuming one leaves the other paused with its original time, and
// the run pauses again there.
func TestResumeOnePauseOfTwo(t *testing.T) {
	w := newWF()
	startBlock(w).
		block("h1", TypeHITL, "First", nil, nil).
		block("h2", TypeHITL, "Second", nil, nil).
		fn("a1", "After1", "return 'one'").fn("a2", "After2", "return 'two'").
		edge("start", "h1", "").edge("start", "h2", "").edge("h1", "a1", "").edge("h2", "a2", "")
	p := w.plan(t)
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	clock := func(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }
	res := p.Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess(), Now: clock(0)})
	if res.Paused == nil || len(res.Paused.Points) != 2 || res.Output["pauseCount"] != float64(2) {
		t.Fatalf("want two pause points: %+v", res.Output)
	}
	res2 := p.Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess(), Now: clock(time.Minute),
		Resume: &Resume{State: persisted(t, res.Paused), ContextID: "h1"}})
	if res2.Paused == nil || len(res2.Paused.Points) != 1 || res2.Paused.Points[0].ContextID != "h2" {
		t.Fatalf("want h2 still paused: %+v", res2)
	}
	if !res2.Paused.Points[0].PausedAt.Equal(t0) {
		t.Fatalf("h2 keeps its pause time, got %v", res2.Paused.Points[0].PausedAt)
	}
	if res2.BlockOutputs["a1"]["result"] != "one" || res2.BlockOutputs["a2"] != nil {
		t.Fatalf("outputs %v", res2.BlockOutputs)
	}
	res3 := p.Run(context.Background(), RunInput{Sandbox: sandbox.NewInProcess(), Now: clock(2 * time.Minute),
		Resume: &Resume{State: persisted(t, res2.Paused), ContextID: "h2"}})
	if !res3.Success || res3.Paused != nil || res3.BlockOutputs["a1"]["result"] != "one" || res3.BlockOutputs["a2"]["result"] != "two" {
		t.Fatalf("final: %+v", res3)
	}
	n := 0
	for _, l := range res3.BlockLogs {
		if l.BlockID == "a1" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("a1 logged %d times, want once", n)
	}
}

// A pause inside a loop or parallel is refused at deploy (SteelEngine keeps pause
// state for the top level only), and so are notification tools.
func TestPauseBlocksDeployChecks(t *testing.T) {
	w := newWF()
	startBlock(w).
		block("l", TypeLoop, "Each", nil, map[string]any{"loopType": "for", "count": 2}).
		block("h", TypeHITL, "Approve", nil, map[string]any{"parentId": "l"}).
		block("aw", TypeWait, "Long", map[string]any{"async": true, "timeValue": "1"}, map[string]any{"parentId": "l"}).
		block("sw", TypeWait, "Short", map[string]any{"timeValue": "0"}, map[string]any{"parentId": "l"}).
		block("top", TypeHITL, "Top", map[string]any{"notification": []any{map[string]any{"toolId": "slack_message"}}}, nil).
		edge("start", "l", "").edge("l", "h", "loop-start-source").edge("h", "aw", "").edge("aw", "sw", "").edge("l", "top", "loop-end-source")
	wf, err := Import(w.json())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range Unsupported(wf) {
		got[p.BlockID] = p.Message
	}
	if len(got) != 3 || !strings.Contains(got["h"], "inside a loop or parallel") || !strings.Contains(got["aw"], "inside a loop or parallel") ||
		!strings.Contains(got["top"], "notification tools") {
		t.Fatalf("problems %v", got)
	}
}
