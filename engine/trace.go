package engine

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Trace spans follow Sim's TraceSpan (apps/sim/lib/logs/types.ts) as Sim builds them
// from block logs (apps/sim/lib/logs/execution/trace-spans/{span-factory,
// iteration-grouping,trace-spans}.ts), since the logs API serves them to Sim clients:
//
//	field              Sim                                  SteelEngine before
//	id                 "<blockId>-<startMs>"                 "<blockId>"
//	error              output.error (no span field)          "error"
//	tokens/cost/model  copied from the block output          absent
//	providerTiming     {duration,startTime,endTime,segments} absent
//	executionOrder     the block log's                       absent
//	errorHandled/tries the block log's                       absent
//	relativeStartMs    ms since the run's first span         absent
//	tool calls         children of type "tool"               absent
//	child workflow     its spans are the block's children    one synthetic "workflow" span
//	loop/parallel      "loop-execution-<id>", iterations     "<id>", iterations
//	                   "Iteration <i>"                       "<name> (iteration <i>)"
//	root               one "Workflow Execution" span         the block spans themselves

// Root span of every run's trace (Sim's wrapInWorkflowRoot).
const (
	RootSpanID   = "workflow-execution"
	RootSpanName = "Workflow Execution"
)

// TokenUsage is Sim's token count (TokenUsage / BlockTokens): input, output, total.
// Sim's older prompt/completion keys are read, never written.
type TokenUsage struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
	Total  float64 `json:"total"`
}

// SpanCost is the cost (USD) attributed to a span.
type SpanCost struct {
	Input    *float64 `json:"input,omitempty"`
	Output   *float64 `json:"output,omitempty"`
	Total    float64  `json:"total"`
	ToolCost float64  `json:"toolCost,omitempty"`
}

// ProviderTiming is a model block's timing on its span (Sim's ProviderTiming).
type ProviderTiming struct {
	Duration  float64 `json:"duration"`
	StartTime string  `json:"startTime"`
	EndTime   string  `json:"endTime"`
	Segments  []any   `json:"segments"`
}

// spanID is Sim's span id: the block id and the start in unix milliseconds, unique per
// iteration where the block id alone is not.
func spanID(blockID string, start time.Time) string {
	var buf [80]byte // on the stack for ordinary ids: only the string is allocated
	b := append(append(buf[:0], blockID...), '-')
	return string(strconv.AppendInt(b, start.UnixMilli(), 10))
}

// blockSpan builds the span of one block execution from what its log holds.
func blockSpan(l *BlockLog, children []TraceSpan) TraceSpan {
	s := TraceSpan{ID: spanID(l.BlockID, l.StartedAt), Name: l.BlockName, Type: l.BlockType, BlockID: l.BlockID,
		Duration: l.DurationMs, StartTime: l.StartedAt, EndTime: l.EndedAt, Status: "success", Input: l.Input,
		Output: l.Output, Error: l.Error, ErrorHandled: l.ErrorHandled, Tries: l.Tries, ExecutionOrder: l.ExecutionOrder,
		LoopID: l.LoopID, ParallelID: l.ParallelID, IterationIndex: l.IterationIndex}
	if l.Error != "" {
		s.Status = "error"
		s.Output = withError(l.Output, l.Error)
	}
	if id, ok := l.Output["childWorkflowId"].(string); ok && id != "" {
		s.ChildWorkflowID = id
	}
	if l.BlockType != TypeCondition {
		s.enrich()
	}
	// Tool spans take their details from the logged output, which is redacted; the
	// span itself only carried the child workflow spans a tool ran.
	var calls []any
	if tc, ok := l.Output["toolCalls"].(map[string]any); ok {
		calls, _ = tc["list"].([]any)
	}
	if pt, ok := l.Output["providerTiming"].(map[string]any); ok && l.BlockType != TypeWorkflow {
		if segs, ok := pt["timeSegments"].([]any); ok && len(segs) > 0 {
			s.Children = segmentSpans(&s, l, segs, calls, children)
			return s
		}
	}
	n := 0
	for i := range children {
		if children[i].Type == "tool" && children[i].ID == "" {
			var rec map[string]any
			if n < len(calls) {
				rec, _ = calls[n].(map[string]any)
			}
			children[i] = toolSpan(rec, children[i].Children)
			children[i].ID = s.ID + "-tool-" + strconv.Itoa(n)
			n++
		}
	}
	s.Children = children
	return s
}

// withError returns out plus error: Sim merges a block's error into its span's output.
func withError(out map[string]any, msg string) map[string]any {
	m := make(map[string]any, len(out)+1)
	for k, v := range out {
		m[k] = v
	}
	m["error"] = msg
	return m
}

// enrich copies tokens, cost, model and provider timing from the span's output, as
// Sim's enrichWithProviderMetadata does (prompt/completion read as input/output).
func (s *TraceSpan) enrich() {
	out := s.Output
	if out == nil {
		return
	}
	if t, ok := out["tokens"].(map[string]any); ok && s.Tokens == nil {
		in, hasIn := numberOf(t["input"])
		if !hasIn {
			in, hasIn = numberOf(t["prompt"])
		}
		o, hasOut := numberOf(t["output"])
		if !hasOut {
			o, hasOut = numberOf(t["completion"])
		}
		total, hasTotal := numberOf(t["total"])
		if !hasTotal {
			total, hasTotal = in+o, hasIn || hasOut
		}
		if hasIn || hasOut || hasTotal {
			s.Tokens = &TokenUsage{Input: in, Output: o, Total: total}
		}
	}
	if c, ok := out["cost"].(map[string]any); ok && s.Cost == nil {
		sc := &SpanCost{}
		if v, ok := numberOf(c["input"]); ok {
			sc.Input = &v
		}
		if v, ok := numberOf(c["output"]); ok {
			sc.Output = &v
		}
		sc.Total, _ = numberOf(c["total"])
		if v, ok := numberOf(c["toolCost"]); ok && v > 0 {
			sc.ToolCost = v
		}
		s.Cost = sc
	}
	if m, ok := out["model"].(string); ok && s.Model == "" {
		s.Model = m
	}
	if pt, ok := out["providerTiming"].(map[string]any); ok && s.ProviderTiming == nil {
		d, _ := numberOf(pt["duration"])
		st, _ := pt["startTime"].(string)
		et, _ := pt["endTime"].(string)
		segs, _ := pt["timeSegments"].([]any)
		if segs == nil {
			segs = []any{}
		}
		s.ProviderTiming = &ProviderTiming{Duration: d, StartTime: st, EndTime: et, Segments: segs}
	}
}

func numberOf(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// toolSpan is the child span of one agent tool call (Sim's buildChildrenFromToolCalls)
// from its toolCalls.list entry rec; blockSpan sets its id. children are the spans of
// a child workflow the tool ran.
func toolSpan(rec map[string]any, children []TraceSpan) TraceSpan {
	name, _ := rec["name"].(string)
	if name == "" {
		name = "unnamed-tool"
	}
	st, _ := time.Parse(time.RFC3339Nano, toStr(rec["startTime"]))
	et, _ := time.Parse(time.RFC3339Nano, toStr(rec["endTime"]))
	d, _ := numberOf(rec["duration"])
	s := TraceSpan{Name: name, Type: "tool", Duration: int64(d), StartTime: st.UTC(), EndTime: et.UTC(), Status: "success",
		Children: flattenWorkflowSpans(children)}
	s.Input, _ = rec["arguments"].(map[string]any)
	var out map[string]any
	switch r := rec["result"].(type) {
	case nil:
	case map[string]any:
		out = r
	default:
		out = map[string]any{"value": r}
	}
	if e, ok := rec["error"].(string); ok && e != "" {
		s.Status, s.Error = "error", e
		out = withError(out, e)
	}
	s.Output = out
	return s
}

// toolSpan replaces the child spans added since index from (a workflow tool's run)
// with a placeholder span for one tool call that holds them; blockSpan fills it in
// from the call's (redacted) log entry.
func (x *execCtx) toolSpan(from int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	kids := append([]TraceSpan(nil), x.childSpans[from:]...)
	x.childSpans = append(x.childSpans[:from], TraceSpan{Type: "tool", Children: kids})
}

// segmentSpans are a model block's children built from its time segments, as Sim's
// buildChildrenFromTimeSegments (span-factory.ts): a "model" span per model call (the
// last one stretched to the block's end) and a "tool" span per tool call, matched to
// the toolCalls list by name in order. placeholders are the agent's tool spans in call
// order, holding the spans of child workflows the tools ran.
func segmentSpans(s *TraceSpan, l *BlockLog, segs, calls []any, placeholders []TraceSpan) []TraceSpan {
	byName := map[string][]map[string]any{}
	for _, c := range calls {
		if m, ok := c.(map[string]any); ok {
			name := toStr(m["name"])
			byName[name] = append(byName[name], m)
		}
	}
	used := map[string]int{}
	next := 0
	out := make([]TraceSpan, 0, len(segs))
	for i, raw := range segs {
		seg, _ := raw.(map[string]any)
		st, _ := numberOf(seg["startTime"])
		et, _ := numberOf(seg["endTime"])
		d, _ := numberOf(seg["duration"])
		start, end := time.UnixMilli(int64(st)).UTC(), time.UnixMilli(int64(et)).UTC()
		id := s.ID + "-segment-" + strconv.Itoa(i)
		if seg["type"] == "tool" {
			name := toStr(seg["name"])
			var rec map[string]any
			if k := used[name]; k < len(byName[name]) {
				rec = byName[name][k]
			}
			used[name]++
			var kids []TraceSpan
			for next < len(placeholders) && placeholders[next].Type != "tool" {
				next++
			}
			if next < len(placeholders) {
				kids = placeholders[next].Children
				next++
			}
			c := toolSpan(rec, kids)
			c.ID, c.Name, c.StartTime, c.EndTime, c.Duration = id, name, start, end, int64(d)
			c.ToolCallID = toStr(seg["toolCallId"])
			out = append(out, c)
			continue
		}
		if i == len(segs)-1 && l.EndedAt.After(end) {
			end, d = l.EndedAt, float64(l.EndedAt.Sub(start).Milliseconds())
		}
		name := toStr(seg["name"])
		if name == "" {
			name = "Model"
		}
		c := TraceSpan{ID: id, Name: name, Type: "model", Duration: int64(d), StartTime: start, EndTime: end, Status: "success",
			Model: s.Model, Provider: toStr(seg["provider"])}
		if ac := toStr(seg["assistantContent"]); ac != "" {
			c.Output = map[string]any{"content": ac}
		}
		c.ModelToolCalls, _ = seg["toolCalls"].([]any)
		c.Output = mergeSegmentUsage(&c, seg)
		out = append(out, c)
	}
	return out
}

// mergeSegmentUsage sets a model span's tokens and cost from its segment and returns
// its output unchanged.
func mergeSegmentUsage(c *TraceSpan, seg map[string]any) map[string]any {
	tmp := TraceSpan{Output: map[string]any{"tokens": seg["tokens"], "cost": seg["cost"]}}
	tmp.enrich()
	c.Tokens, c.Cost = tmp.Tokens, tmp.Cost
	return c.Output
}

// flattenWorkflowSpans drops synthetic workflow wrappers (type "workflow" without a
// block id, such as a child run's root span), keeping their children in their place,
// as Sim's flattenWorkflowChildren does for child workflow traces.
func flattenWorkflowSpans(spans []TraceSpan) []TraceSpan {
	if len(spans) == 0 {
		return spans
	}
	out := make([]TraceSpan, 0, len(spans))
	for _, s := range spans {
		if s.Type == TypeWorkflow && s.BlockID == "" {
			out = append(out, flattenWorkflowSpans(s.Children)...)
			continue
		}
		out = append(out, s)
	}
	return out
}

// rootSpan wraps a run's top-level spans in Sim's "Workflow Execution" span, spanning
// the earliest start to the latest end, with relativeStartMs on every span below it
// and the summed cost of the block spans (Sim's wrapInWorkflowRoot). A trace that is
// already wrapped is rewrapped, so wrapping twice changes nothing.
func rootSpan(spans []TraceSpan) []TraceSpan {
	if len(spans) == 1 && spans[0].ID == RootSpanID {
		spans = spans[0].Children
	}
	if len(spans) == 0 {
		return []TraceSpan{}
	}
	var start, end time.Time
	var cost float64
	failed := false
	var walk func([]TraceSpan)
	walk = func(ss []TraceSpan) {
		for _, s := range ss {
			if s.Type == "truncated" || s.StartTime.IsZero() {
				continue
			}
			if start.IsZero() || s.StartTime.Before(start) {
				start = s.StartTime
			}
			if s.EndTime.After(end) {
				end = s.EndTime
			}
			if s.Cost != nil && s.BlockID != "" {
				cost += s.Cost.Total
			}
			walk(s.Children)
		}
	}
	walk(spans)
	for _, s := range spans {
		if unhandledError(&s) {
			failed = true
		}
	}
	var count func([]TraceSpan) int
	count = func(ss []TraceSpan) int {
		n := len(ss)
		for i := range ss {
			n += count(ss[i].Children)
		}
		return n
	}
	slab := make([]int64, count(spans)) // one allocation for every span's offset
	var rel func([]TraceSpan)
	rel = func(ss []TraceSpan) {
		for i := range ss {
			if !ss[i].StartTime.IsZero() {
				slab[0] = ss[i].StartTime.Sub(start).Milliseconds()
				ss[i].RelativeStartMs = &slab[0]
				slab = slab[1:]
			}
			rel(ss[i].Children)
		}
	}
	rel(spans)
	root := TraceSpan{ID: RootSpanID, Name: RootSpanName, Type: TypeWorkflow, Duration: end.Sub(start).Milliseconds(),
		StartTime: start, EndTime: end, Status: "success", Children: spans}
	if failed {
		root.Status = "error"
	}
	if cost > 0 {
		root.Cost = &SpanCost{Total: cost}
	}
	return []TraceSpan{root}
}

// Cost is the run's model cost in USD: its root span's (every block span's cost,
// child workflows included).
func (r *Result) Cost() float64 {
	if len(r.TraceSpans) == 1 && r.TraceSpans[0].ID == RootSpanID && r.TraceSpans[0].Cost != nil {
		return r.TraceSpans[0].Cost.Total
	}
	return 0
}

// unhandledError is Sim's hasUnhandledError: an error span nothing handled, here or below.
func unhandledError(s *TraceSpan) bool {
	if s.Status == "error" && !s.ErrorHandled {
		return true
	}
	for i := range s.Children {
		if unhandledError(&s.Children[i]) {
			return true
		}
	}
	return false
}

// UnmarshalJSON reads a span, including spans stored before SteelEngine used Sim's
// names: a top-level "error" moves into output.error, and tokens, cost and model are
// taken from the output when the span lacks them (tokens.prompt/completion read as
// input/output, as Sim's span factory does for its own legacy rows).
func (s *TraceSpan) UnmarshalJSON(b []byte) error {
	type plain TraceSpan
	var v struct {
		plain
		LegacyError string `json:"error"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = TraceSpan(v.plain)
	if v.LegacyError != "" {
		if _, ok := s.Output["error"]; !ok {
			s.Output = withError(s.Output, v.LegacyError)
		}
	}
	if e, ok := s.Output["error"].(string); ok && s.Status == "error" {
		s.Error = e
	} else if v.LegacyError != "" {
		s.Error = v.LegacyError
	}
	if s.BlockID != "" && s.Type != TypeCondition && s.Type != "tool" {
		s.enrich()
	}
	return nil
}

// UpgradeTraceSpans rewrites a stored trace into the current shape (see UnmarshalJSON,
// plus the root span and flattened child workflow wrappers) and reports whether it
// changed anything. A trace already in the current shape, or one that does not
// decode, is returned as it is.
func UpgradeTraceSpans(raw json.RawMessage) (json.RawMessage, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) || bytes.Equal(t, []byte("[]")) ||
		bytes.HasPrefix(t, []byte(`[{"id":"`+RootSpanID+`"`)) {
		return raw, false
	}
	var spans []TraceSpan
	if json.Unmarshal(t, &spans) != nil {
		return raw, false
	}
	var fix func([]TraceSpan) []TraceSpan
	fix = func(ss []TraceSpan) []TraceSpan {
		ss = flattenWorkflowSpans(ss)
		for i := range ss {
			sp := &ss[i]
			switch {
			case (sp.Type == TypeLoop || sp.Type == TypeParallel) && sp.ID == sp.BlockID:
				sp.ID = sp.Type + "-execution-" + sp.BlockID
			case (sp.Type == "loop-iteration" || sp.Type == "parallel-iteration") && sp.IterationIndex != nil:
				sp.Name = "Iteration " + strconv.Itoa(*sp.IterationIndex)
			case sp.BlockID != "" && sp.ID == sp.BlockID:
				sp.ID = spanID(sp.BlockID, sp.StartTime)
			}
			sp.Children = fix(sp.Children)
		}
		return ss
	}
	out, err := json.Marshal(rootSpan(fix(spans)))
	if err != nil {
		return raw, false
	}
	return out, true
}

// ModelUsage is one model's share of a run (Sim's executionData.models entries).
type ModelUsage struct {
	Input    float64    `json:"input"`
	Output   float64    `json:"output"`
	Total    float64    `json:"total"`
	ToolCost float64    `json:"toolCost,omitempty"`
	Tokens   TokenUsage `json:"tokens"`
}

// TraceUsage sums the tokens of a stored trace and its cost and tokens per model, as
// Sim's calculateCostSummary does for executionData.tokens and .models
// (apps/sim/lib/logs/execution/logging-factory.ts): workflow spans are containers
// whose own cost is never counted; a span with its own cost is counted once.
func TraceUsage(raw json.RawMessage) (TokenUsage, map[string]ModelUsage) {
	var tok TokenUsage
	models := map[string]ModelUsage{}
	var spans []TraceSpan
	if len(raw) == 0 || json.Unmarshal(raw, &spans) != nil {
		return tok, models
	}
	var walk func([]TraceSpan)
	walk = func(ss []TraceSpan) {
		for i := range ss {
			s := &ss[i]
			// Model spans break down their block's cost, which is counted already.
			if s.Type != TypeWorkflow && s.Type != "model" && s.Cost != nil {
				if s.Tokens != nil {
					tok.Input += s.Tokens.Input
					tok.Output += s.Tokens.Output
					tok.Total += s.Tokens.Total
				}
				if s.Model != "" {
					m := models[s.Model]
					if s.Cost.Input != nil {
						m.Input += *s.Cost.Input
					}
					if s.Cost.Output != nil {
						m.Output += *s.Cost.Output
					}
					m.Total += s.Cost.Total
					m.ToolCost += s.Cost.ToolCost
					if s.Tokens != nil {
						m.Tokens.Input += s.Tokens.Input
						m.Tokens.Output += s.Tokens.Output
						m.Tokens.Total += s.Tokens.Total
					}
					models[s.Model] = m
				}
			}
			walk(s.Children)
		}
	}
	walk(spans)
	return tok, models
}
