package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

var agentType = &blockType{run: runAgent}

const (
	// maxToolIterations is Sim's MAX_TOOL_ITERATIONS: model turns that may call tools.
	maxToolIterations = 20
	// agentTotalTimeout bounds one agent block, every model call and tool included.
	agentTotalTimeout = 15 * time.Minute
)

// runAgent is Sim's agent block: messages (or legacy systemPrompt/userPrompt) go to the
// block's model; tool calls are run and their results sent back until the model
// answers without tools (at most maxToolIterations rounds).
func runAgent(ctx context.Context, x *execCtx) (map[string]any, error) {
	mem, err := x.openMemory(ctx)
	if err != nil {
		return nil, err
	}
	msgs := mem.messages(agentMessages(x))
	if len(msgs) == 0 {
		return nil, errors.New("agent has no messages: set messages, or a system or user prompt")
	}
	schemaName, schema, err := parseResponseFormat(x.input["responseFormat"])
	if err != nil {
		return nil, err
	}
	tools, err := x.agentTools()
	if err != nil {
		return nil, err
	}
	ep, err := x.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, agentTotalTimeout)
	defer cancel()

	req := llmRequest{Messages: msgs, Temperature: temperatureOf(x.input["temperature"]), MaxTokens: toInt(x.input["maxTokens"], 0),
		SchemaName: schemaName, Schema: schema}
	byName := map[string]*agentTool{}
	var forced []string
	for _, t := range tools {
		req.Tools = append(req.Tools, t.def)
		byName[t.def.Name] = t
		if t.usage == "force" {
			forced = append(forced, t.def.Name)
		}
	}
	usedForced := map[string]bool{}
	nextForced := func() string {
		for _, f := range forced {
			if !usedForced[f] {
				return f
			}
		}
		return ""
	}
	req.ForceTool = nextForced()

	var onText func(string)
	if h := x.r.in.Hooks; h.StreamBlock != nil && h.OnChunk != nil && h.StreamBlock(x.n.id, x.n.name) {
		onText = func(s string) { x.r.chunk(x.n, s) }
	}
	start := time.Now()
	var (
		inTok, outTok      float64
		modelTime, toolsTm time.Duration
		calls              []any
		rep                *llmReply
		iterations         int
	)
	var segments []any // Sim's providerTiming.timeSegments: one per model call and tool call
	for {
		iterations++
		t0 := time.Now()
		rep, err = x.streamModel(ctx, ep, req, onText)
		modelTime += time.Since(t0)
		if err != nil {
			return nil, err
		}
		inTok += rep.InputTokens
		outTok += rep.OutputTokens
		for i := range rep.ToolCalls {
			if rep.ToolCalls[i].ID == "" {
				rep.ToolCalls[i].ID = fmt.Sprintf("call_%d_%d", iterations, i)
			}
		}
		segments = append(segments, x.modelSegment(ep, rep, t0, time.Now()))
		if len(rep.ToolCalls) == 0 || iterations > maxToolIterations {
			break
		}
		req.Messages = append(req.Messages, llmMessage{Role: "assistant", Content: rep.Content, ToolCalls: rep.ToolCalls})
		t1 := time.Now()
		for _, c := range rep.ToolCalls {
			usedForced[c.Name] = true
			before := len(x.spans())
			ts := time.Now()
			rec, content := x.runToolCall(ctx, byName[c.Name], c)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			calls = append(calls, rec)
			segments = append(segments, toolSegment(rec["name"], c.ID, ts, time.Now()))
			x.toolSpan(before)
			req.Messages = append(req.Messages, llmMessage{Role: "tool", ToolCallID: c.ID, Content: content})
		}
		toolsTm += time.Since(t1)
		req.ForceTool = nextForced()
	}
	end := time.Now()
	if calls == nil {
		calls = []any{}
	}
	out := map[string]any{
		"model":     rep.Model,
		"tokens":    tokensOut(inTok, outTok),
		"toolCalls": map[string]any{"list": calls, "count": float64(len(calls))},
		"providerTiming": map[string]any{"startTime": start.UTC().Format(time.RFC3339Nano), "endTime": end.UTC().Format(time.RFC3339Nano),
			"duration": float64(end.Sub(start).Milliseconds()), "modelTime": float64(modelTime.Milliseconds()),
			"toolsTime": float64(toolsTm.Milliseconds()), "iterations": float64(iterations), "timeSegments": segments},
		"cost": x.agentCostOut(rep.Model, inTok, outTok),
	}
	if schema == nil {
		out["content"] = rep.Content
		if err := mem.save(ctx, rep.Content); err != nil {
			return nil, err
		}
		return out, nil
	}
	if err := mem.save(ctx, ""); err != nil {
		return nil, err
	}
	fields, err := parseStructured(rep.Content)
	if err != nil {
		return nil, err
	}
	for k, v := range fields {
		if _, meta := out[k]; !meta {
			out[k] = v
		}
	}
	return out, nil
}

// parseStructured reads a structured reply: a JSON object, tolerating a code fence.
func parseStructured(content string) (map[string]any, error) {
	s := strings.TrimSpace(content)
	if strings.HasPrefix(s, "```") {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "```json"), "```")
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(s), &fields); err != nil || fields == nil {
		snippet := strings.TrimSpace(content)
		if len(snippet) > 200 {
			snippet = snippet[:200] + "…"
		}
		return nil, fmt.Errorf("model reply is not a JSON object matching the response format: %q", snippet)
	}
	return fields, nil
}

// agentInput is the block's messages by kind, before memory is applied.
type agentInput struct {
	system, convo []llmMessage
	user          *llmMessage // legacy userPrompt, new each run
}

// agentMessages reads messages (system ones first, as Sim does), the legacy
// systemPrompt (only when no system message exists) and the legacy userPrompt.
func agentMessages(x *execCtx) agentInput {
	var in agentInput
	for _, m := range asSlice(parseMaybeJSON(x.input["messages"])) {
		mm, _ := m.(map[string]any)
		if mm == nil {
			continue
		}
		role := toStr(mm["role"])
		if _, ok := mm["content"]; !ok || (role != "system" && role != "user" && role != "assistant") {
			continue
		}
		msg := llmMessage{Role: role, Content: contentString(mm["content"])}
		if role == "system" {
			in.system = append(in.system, msg)
		} else {
			in.convo = append(in.convo, msg)
		}
	}
	if sp := x.input["systemPrompt"]; len(in.system) == 0 && sp != nil && toStr(sp) != "" {
		in.system = []llmMessage{{Role: "system", Content: contentString(sp)}}
	}
	if up := x.input["userPrompt"]; up != nil && toStr(up) != "" {
		if m, ok := parseMaybeJSON(up).(map[string]any); ok && m["input"] != nil {
			up = toStr(m["input"])
		}
		in.user = &llmMessage{Role: "user", Content: contentString(up)}
	}
	return in
}

func contentString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return toStr(v)
	}
	return string(b)
}

// parseResponseFormat reads Sim's responseFormat: a JSON string or object, either
// {name?, schema, strict?} or a bare JSON schema. Empty means none.
func parseResponseFormat(v any) (string, map[string]any, error) {
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return "", nil, nil
	}
	if v == nil {
		return "", nil, nil
	}
	m, ok := parseMaybeJSON(v).(map[string]any)
	if !ok {
		return "", nil, errors.New("responseFormat is not a valid JSON object")
	}
	name := toStr(m["name"])
	if name == "" {
		name = "response_schema"
	}
	if inner, ok := m["schema"].(map[string]any); ok {
		return name, inner, nil
	}
	return name, m, nil
}

// modelSegment is Sim's model time segment (executor/types.ts ProviderTimingSegment;
// providers/trace-enrichment.ts enrichLastModelSegment): times in unix milliseconds,
// the reply's text, the tool calls it asked for, its tokens and cost.
func (x *execCtx) modelSegment(ep *ModelEndpoint, rep *llmReply, start, end time.Time) map[string]any {
	model := rep.Model
	if model == "" {
		model = ep.Model
	}
	seg := map[string]any{"type": "model", "name": model, "startTime": float64(start.UnixMilli()), "endTime": float64(end.UnixMilli()),
		"duration": float64(end.Sub(start).Milliseconds()), "tokens": tokensOut(rep.InputTokens, rep.OutputTokens),
		"cost": x.costOut(model, rep.InputTokens, rep.OutputTokens)}
	if rep.Content != "" {
		seg["assistantContent"] = rep.Content
	}
	if len(rep.ToolCalls) > 0 {
		tcs := make([]any, len(rep.ToolCalls))
		for i, c := range rep.ToolCalls {
			tcs[i] = map[string]any{"id": c.ID, "name": strings.TrimPrefix(c.Name, customToolPrefix), "arguments": nonNilMap(c.Arguments)}
		}
		seg["toolCalls"] = tcs
	}
	if ep.Kind != "" {
		seg["provider"] = ep.Kind // openai | anthropic, as Sim's gen_ai.system
	}
	return seg
}

// toolSegment is Sim's tool time segment: the tool's name and the model's call id.
func toolSegment(name any, callID string, start, end time.Time) map[string]any {
	return map[string]any{"type": "tool", "name": name, "startTime": float64(start.UnixMilli()), "endTime": float64(end.UnixMilli()),
		"duration": float64(end.Sub(start).Milliseconds()), "toolCallId": callID}
}
