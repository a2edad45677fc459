package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Pause and resume, after Sim's executor (apps/sim/executor/execution/engine.ts
// buildPausedResult, handlers/human-in-the-loop/human-in-the-loop-handler.ts,
// handlers/wait/wait-handler.ts, lib/workflows/executor/human-in-the-loop-manager.ts).
//
// A human_in_the_loop block, or a wait block in async mode, pauses: its output is
// recorded but its outgoing edges do not fire, so nothing after it runs; the rest of
// the run goes on until no block is left to run (as in Sim). The run then ends with
// Result.Paused: the outputs of every completed block, the variables and the logs so
// far. Resuming runs the plan again with that state: completed blocks are replayed
// from their recorded outputs (so conditions, routers and error edges take the same
// paths without running anything twice), the resumed block's output becomes its paused
// output merged with the resume payload the way Sim merges it, and everything after
// it runs. Other pause points still open pause again with their original times.
//
// Pausing is supported at the workflow's top level; deploy refuses pause blocks inside
// loops and parallels (a snapshot of iteration positions is not kept), and a child
// workflow that pauses fails its workflow block.

// Pause kinds (Sim's PauseKind).
const (
	PauseHuman = "human"
	PauseTime  = "time"
)

// MaxAsyncWait is Sim's ceiling for async waits (MAX_ASYNC_WAIT_MS).
const MaxAsyncWait = 30 * 24 * time.Hour

// PausePoint is one block a paused run waits at. ContextID is Sim's pause context id:
// the block id at the top level.
type PausePoint struct {
	ContextID string     `json:"contextId"`
	BlockID   string     `json:"blockId"`
	BlockName string     `json:"blockName"`
	Kind      string     `json:"pauseKind"`
	PausedAt  time.Time  `json:"pausedAt"`
	ResumeAt  *time.Time `json:"resumeAt,omitempty"`
	// Response is what the block shows while paused (Sim's pauseMetadata.response): the
	// run's output while it waits.
	Response map[string]any `json:"response"`
}

// PauseState is everything a paused run needs to continue. It holds block outputs as
// they are (not redacted): keep it sealed at rest.
type PauseState struct {
	Points    []PausePoint              `json:"pausePoints"`
	Input     map[string]any            `json:"input,omitempty"`
	Outputs   map[string]map[string]any `json:"outputs"`
	Variables map[string]any            `json:"variables,omitempty"` // by variable id
	Final     map[string]any            `json:"final,omitempty"`
	Logs      []BlockLog                `json:"logs"`
	Spans     []TraceSpan               `json:"spans"`
	OrderSeq  int                       `json:"orderSeq"`
}

// Point returns the pause point with contextID, nil when there is none.
func (s *PauseState) Point(contextID string) *PausePoint {
	for i := range s.Points {
		if s.Points[i].ContextID == contextID {
			return &s.Points[i]
		}
	}
	return nil
}

// Resume continues a paused run at one of its pause points.
type Resume struct {
	State     *PauseState
	ContextID string
	// Input is the resume payload (Sim's resumeInput): an object, a JSON string, or any
	// other value (kept under "value").
	Input any
	// ExecutionID is the run being resumed (Sim's _resumedFrom).
	ExecutionID string
}

// errPaused tells runScope that a node paused: recorded, but its edges do not fire.
var errPaused = errors.New("paused")

// ResumeLinks are the URLs a paused human_in_the_loop block hands out (Sim's
// resumeLinks); relative to the server unless RunInput.BaseURL is set.
func ResumeLinks(baseURL, workflowID, executionID, contextID string) map[string]any {
	p := "/api/resume/" + url.PathEscape(workflowID) + "/" + url.PathEscape(executionID)
	base := strings.TrimRight(baseURL, "/")
	return map[string]any{
		"apiUrl":      base + p + "/" + url.PathEscape(contextID),
		"uiUrl":       base + p,
		"contextId":   contextID,
		"executionId": executionID,
		"workflowId":  workflowID,
	}
}

var hitlType = &blockType{run: runHITL}

// runHITL builds Sim's paused output for the human approval operation (the only one
// Sim's block offers): the display data, the resume form's fields (each also a
// top-level output key with its default), and the resume links.
func runHITL(_ context.Context, x *execCtx) (map[string]any, error) {
	ctxID := x.n.id
	var links map[string]any
	if x.r.in.ExecutionID != "" && x.r.in.WorkflowID != "" {
		links = ResumeLinks(x.r.in.BaseURL, x.r.in.WorkflowID, x.r.in.ExecutionID, ctxID)
	}
	format := hitlInputFormat(x.input["inputFormat"])
	structure := responseStructure(x.input["builderData"], "")
	data := map[string]any{"operation": "human", "responseStructure": structure, "inputFormat": format, "submission": nil}
	if links != nil {
		data["_resume"] = links
	}
	headers := map[string]any{"Content-Type": "application/json"}
	resp := map[string]any{"data": data, "status": float64(200), "headers": headers, "operation": "human",
		"responseStructure": structure, "inputFormat": format, "submission": nil}
	if links != nil {
		resp["resume"] = links
	}
	out := map[string]any{}
	for _, f := range format {
		m := f.(map[string]any)
		out[m["name"].(string)] = m["value"]
	}
	out["response"] = resp
	if links != nil {
		out["url"], out["resumeEndpoint"] = links["uiUrl"], links["apiUrl"]
	}
	pausedAt := x.r.now()
	if p := x.r.pending[ctxID]; p != nil {
		pausedAt = p.PausedAt
	}
	x.pause = &PausePoint{ContextID: ctxID, BlockID: x.n.id, BlockName: x.n.name, Kind: PauseHuman, PausedAt: pausedAt,
		Response: map[string]any{"data": data, "status": float64(200), "headers": headers}}
	return out, nil
}

// hitlInputFormat is Sim's normalizeInputFormat: fields without a name are dropped;
// id, label and type get defaults; value is null when absent.
func hitlInputFormat(v any) []any {
	out := []any{}
	for i, f := range asSlice(parseMaybeJSON(v)) {
		m, _ := f.(map[string]any)
		name := strings.TrimSpace(toStr(m["name"]))
		if name == "" {
			continue
		}
		id, _ := m["id"].(string)
		if id == "" {
			id = "field_" + jsNumber(float64(i))
		}
		label := strings.TrimSpace(toStr(m["label"]))
		if label == "" {
			label = name
		}
		typ := toStr(m["type"])
		if strings.TrimSpace(typ) == "" {
			typ = "string"
		}
		field := map[string]any{"id": id, "name": name, "label": label, "type": typ, "value": m["value"],
			"required": m["required"] == true}
		for _, k := range []string{"description", "placeholder"} {
			if s := strings.TrimSpace(toStr(m[k])); s != "" {
				field[k] = s
			}
		}
		if opts, ok := m["options"].([]any); ok {
			field["options"] = opts
		}
		out = append(out, field)
	}
	return out
}

// responseStructure is Sim's normalizeResponseStructure: builder rows flattened to
// {name: dotted path, type, value}.
func responseStructure(v any, prefix string) []any {
	out := []any{}
	for _, r := range asSlice(parseMaybeJSON(v)) {
		m, _ := r.(map[string]any)
		name := strings.TrimSpace(toStr(m["name"]))
		if name == "" {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		typ := toStr(m["type"])
		if kids, ok := m["value"].([]any); ok && typ == "object" {
			if nested := responseStructure(kids, path); len(nested) > 0 {
				out = append(out, nested...)
				continue
			}
		}
		val, _ := convertTyped(typ, m["value"])
		out = append(out, map[string]any{"name": path, "type": m["type"], "value": val})
	}
	return out
}

// mergeResume is Sim's resume merge (human-in-the-loop-manager.ts, "Set the pause
// block as completed with the resume input"): the payload becomes the block's
// submission, its fields are spread over the output, and the response data records
// the submission and its time. A time pause's status becomes "completed".
func mergeResume(existing map[string]any, p *PausePoint, input any, execID string, now time.Time) map[string]any {
	var normalized any
	switch v := input.(type) {
	case nil:
		normalized = map[string]any{}
	case string:
		if v == "" {
			normalized = map[string]any{}
		} else if err := json.Unmarshal([]byte(v), &normalized); err != nil {
			normalized = map[string]any{"value": v}
		}
	case map[string]any:
		normalized = v
	case bool:
		if !v {
			normalized = map[string]any{}
		} else {
			normalized = map[string]any{"value": v}
		}
	case float64:
		if v == 0 {
			normalized = map[string]any{}
		} else {
			normalized = map[string]any{"value": v}
		}
	default:
		normalized = map[string]any{"value": v}
	}
	submission, _ := normalized.(map[string]any)
	if nm, ok := normalized.(map[string]any); ok {
		if sub, ok := nm["submission"].(map[string]any); ok {
			submission = sub
		}
	}
	if submission == nil {
		submission = map[string]any{} // a JSON string holding a non-object
	}
	submittedAt := now.UTC().Format("2006-01-02T15:04:05.000Z")
	existingResp, _ := existing["response"].(map[string]any)
	data := map[string]any{}
	if d, ok := existingResp["data"].(map[string]any); ok {
		for k, v := range d {
			data[k] = v
		}
	}
	data["submission"], data["submittedAt"] = submission, submittedAt
	resp := map[string]any{}
	for k, v := range existingResp {
		resp[k] = v
	}
	resp["data"] = data
	if resp["status"] == nil {
		resp["status"] = float64(200)
	}
	if resp["headers"] == nil {
		resp["headers"] = map[string]any{"Content-Type": "application/json"}
	}
	if resp["resume"] == nil && existing["resume"] != nil {
		resp["resume"] = existing["resume"]
	}
	out := make(map[string]any, len(existing)+8)
	for k, v := range existing {
		out[k] = v
	}
	out["response"], out["submission"], out["resumeInput"], out["submittedAt"] = resp, submission, normalized, submittedAt
	out["_resumed"], out["_resumedFrom"] = true, execID
	out["_pauseDurationMs"] = float64(now.Sub(p.PausedAt).Milliseconds())
	if p.Kind == PauseTime {
		out["status"] = "completed"
	}
	if out["resume"] == nil && resp["resume"] != nil {
		out["resume"] = resp["resume"]
	}
	if links, ok := out["resume"].(map[string]any); ok {
		if u, ok := links["uiUrl"].(string); ok && u != "" {
			out["url"] = u
		}
		if u, ok := links["apiUrl"].(string); ok && u != "" {
			out["resumeEndpoint"] = u
		}
	}
	for k, v := range submission {
		out[k] = v
	}
	return out
}

func init() {
	// Pause state is kept for the workflow's top level only: a pause inside a loop or
	// parallel would need iteration positions, so deploy refuses it up front.
	inContainer := func(b *Block, what string) []BlockProblem {
		if b.ParentID() == "" {
			return nil
		}
		return []BlockProblem{{BlockID: b.ID, BlockName: b.Name, BlockType: b.Type, Code: ProblemUnsupported,
			Message: what + " inside a loop or parallel is not supported by SteelEngine: a run can pause only at the workflow's top level",
			Hint:    "move the block out of the loop or parallel"}}
	}
	RegisterDeployCheck(TypeHITL, func(b *Block) []BlockProblem {
		out := inContainer(b, "a human_in_the_loop block")
		if n := asSlice(parseMaybeJSON(b.Param("notification"))); len(n) > 0 {
			out = append(out, BlockProblem{BlockID: b.ID, BlockName: b.Name, BlockType: b.Type, Code: ProblemUnsupported,
				Message: "notification tools of a human_in_the_loop block are not supported by SteelEngine",
				Hint:    "remove the notification tools; the paused run's response and GET /api/workflows/{id}/paused give the resume URL"})
		}
		return out
	})
	RegisterDeployCheck(TypeWait, func(b *Block) []BlockProblem {
		if !waitIsAsync(b.Param("async")) {
			return nil
		}
		return inContainer(b, "an async wait")
	})
}

func waitIsAsync(v any) bool { return v == true || v == "true" }

// now is the run's clock.
func (r *run) now() time.Time {
	if r.in.Now != nil {
		return r.in.Now().UTC()
	}
	return time.Now().UTC()
}

// restore loads a paused run's state into a new run about to resume it at rs.ContextID.
func (r *run) restore(root *frame, rs *Resume) error {
	st := rs.State
	if st == nil {
		return errors.New("resume: no paused state")
	}
	p := st.Point(rs.ContextID)
	if p == nil {
		return fmt.Errorf("resume: pause point %q not found", rs.ContextID)
	}
	if n := r.p.nodes[p.BlockID]; n == nil || n.scope != r.p.root {
		return fmt.Errorf("resume: paused block %q is not at the top level of this workflow version", p.BlockID)
	}
	paused := map[string]bool{}
	r.pending = map[string]*PausePoint{}
	for i := range st.Points {
		pt := st.Points[i]
		paused[pt.BlockID] = true
		if pt.ContextID != rs.ContextID {
			r.pending[pt.ContextID] = &pt
		}
	}
	r.replay = make(map[string]map[string]any, len(st.Outputs)+1)
	for id, out := range st.Outputs {
		root.outputs[id] = out
		if n := r.p.nodes[id]; n != nil && n.scope == r.p.root && !paused[id] {
			r.replay[id] = out
		}
	}
	merged := mergeResume(st.Outputs[p.BlockID], p, rs.Input, rs.ExecutionID, r.now())
	r.replay[p.BlockID], root.outputs[p.BlockID], r.resumed = merged, merged, p.BlockID
	for id, v := range st.Variables {
		if vs := r.vars["id:"+id]; vs != nil {
			vs.v.Value = v
		}
	}
	r.final = st.Final
	r.orderSeq = st.OrderSeq
	r.logs = append([]BlockLog(nil), st.Logs...)
	root.spans = append([]TraceSpan(nil), st.Spans...)
	// Sim rewrites the paused block's log entry with the merged output.
	logged, _ := r.logValue(merged)
	for i := len(r.logs) - 1; i >= 0; i-- {
		if r.logs[i].BlockID == p.BlockID {
			r.logs[i].Output = logged
			break
		}
	}
	for i := len(root.spans) - 1; i >= 0; i-- {
		if root.spans[i].BlockID == p.BlockID {
			root.spans[i].Output = logged
			break
		}
	}
	return nil
}

// replayed returns the recorded output of a top-level block a resumed run already
// completed before it paused, marking it done without running it again.
func (r *run) replayed(fr *frame, n *node) (map[string]any, bool) {
	if r.replay == nil || fr != r.rootFrame {
		return nil, false
	}
	out, ok := r.replay[n.id]
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	fr.outputs[n.id] = out
	fr.order = append(fr.order, n.id)
	if n.id == r.resumed && n.terminal && !r.finalSet {
		r.final = out
	}
	r.mu.Unlock()
	return out, true
}

// pauseState is the state a paused run leaves for its resume. Caller holds r.mu.
func (r *run) pauseState(root *frame) *PauseState {
	vars := map[string]any{}
	for k, st := range r.vars {
		if id, ok := strings.CutPrefix(k, "id:"); ok {
			vars[id] = st.v.Value
		}
	}
	return &PauseState{Points: r.pauses, Input: r.in.Input, Outputs: root.outputs, Variables: vars, Final: r.final,
		Logs: r.logs, Spans: root.spans, OrderSeq: r.orderSeq}
}

// pauseOutput is a paused run's output (Sim's collectPauseResponses): the one pause
// block's response, or all of them.
func pauseOutput(points []PausePoint) map[string]any {
	if len(points) == 1 {
		return points[0].Response
	}
	rs := make([]any, len(points))
	for i, p := range points {
		rs[i] = p.Response
	}
	return map[string]any{"pausedBlocks": rs, "pauseCount": float64(len(points))}
}
