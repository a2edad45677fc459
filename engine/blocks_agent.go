package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
)

var agentType = &blockType{run: runAgent}

// runAgent is a minimal agent: one chat completion against an OpenAI-compatible
// endpoint. Tools and memory are not supported and fail clearly instead of being
// silently ignored.
func runAgent(ctx context.Context, x *execCtx) (map[string]any, error) {
	if tools := asSlice(parseMaybeJSON(x.input["tools"])); len(tools) > 0 {
		return nil, errors.New("agent tools are not supported by SteelEngine")
	}
	if mt := x.str("memoryType"); mt != "" && mt != "none" {
		return nil, errors.New("agent memory is not supported by SteelEngine")
	}
	var msgs []chatMessage
	for _, m := range asSlice(parseMaybeJSON(x.input["messages"])) {
		mm, _ := m.(map[string]any)
		role, content := toStr(mm["role"]), toStr(mm["content"])
		if role == "" || strings.TrimSpace(content) == "" {
			continue
		}
		msgs = append(msgs, chatMessage{Role: role, Content: content})
	}
	if len(msgs) == 0 {
		if s := x.str("systemPrompt"); strings.TrimSpace(s) != "" {
			msgs = append(msgs, chatMessage{Role: "system", Content: s})
		}
		if s := x.str("userPrompt"); strings.TrimSpace(s) != "" {
			msgs = append(msgs, chatMessage{Role: "user", Content: s})
		}
	}
	if len(msgs) == 0 {
		return nil, errors.New("agent has no messages")
	}
	req := chatRequest{Messages: msgs, Temperature: temperatureOf(x.input["temperature"]), MaxTokens: toInt(x.input["maxTokens"], 0)}
	var schema map[string]any
	if rf := strings.TrimSpace(x.str("responseFormat")); rf != "" {
		if err := json.Unmarshal([]byte(rf), &schema); err != nil {
			return nil, errors.New("responseFormat is not valid JSON")
		}
		name := toStr(schema["name"])
		if name == "" {
			name = "response"
		}
		inner := schema["schema"]
		if inner == nil {
			inner = schema
		}
		req.ResponseFormat = map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": name, "schema": inner}}
	}
	rep, err := x.chat(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"content": rep.Content, "model": rep.Model, "tokens": rep.Tokens,
		"toolCalls":      map[string]any{"list": []any{}, "count": float64(0)},
		"providerTiming": map[string]any{"duration": float64(rep.Timing.Milliseconds())},
		"cost":           map[string]any{"input": float64(0), "output": float64(0), "total": float64(0)}}
	if schema != nil {
		var fields map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(rep.Content)), &fields); err == nil {
			delete(out, "content")
			for k, v := range fields {
				out[k] = v
			}
		} else {
			out["_responseFormatWarning"] = "response was not valid JSON for the response format"
		}
	}
	return out, nil
}
