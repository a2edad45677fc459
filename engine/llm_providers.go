package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// openAIBody is a /chat/completions request.
func openAIBody(model string, req llmRequest) map[string]any {
	msgs := make([]any, 0, len(req.Messages))
	for _, m := range req.Messages {
		om := map[string]any{"role": m.Role, "content": m.Content}
		if len(m.ToolCalls) > 0 {
			calls := make([]any, len(m.ToolCalls))
			for i, c := range m.ToolCalls {
				args, _ := json.Marshal(nonNilMap(c.Arguments))
				calls[i] = map[string]any{"id": c.ID, "type": "function", "function": map[string]any{"name": c.Name, "arguments": string(args)}}
			}
			om["tool_calls"] = calls
			if m.Content == "" {
				om["content"] = nil
			}
		}
		if m.Role == "tool" {
			om["tool_call_id"] = m.ToolCallID
		}
		msgs = append(msgs, om)
	}
	body := map[string]any{"model": model, "messages": msgs}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	if req.MaxTokens > 0 {
		body["max_tokens"] = req.MaxTokens
	}
	if len(req.Tools) > 0 {
		tools := make([]any, len(req.Tools))
		for i, t := range req.Tools {
			tools[i] = map[string]any{"type": "function", "function": map[string]any{"name": t.Name, "description": t.Description, "parameters": toolParams(t.Parameters)}}
		}
		body["tools"] = tools
		if req.ForceTool != "" {
			body["tool_choice"] = map[string]any{"type": "function", "function": map[string]any{"name": req.ForceTool}}
		}
	}
	if req.Schema != nil {
		body["response_format"] = map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": req.SchemaName, "schema": req.Schema}}
	}
	return body
}

func parseOpenAI(raw []byte) (*llmReply, error) {
	var cr struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Content   *string `json:"content"`
				ToolCalls []struct {
					ID       string `json:"id"`
					Function struct {
						Name      string `json:"name"`
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
		Usage struct {
			Prompt     float64 `json:"prompt_tokens"`
			Completion float64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(raw, &cr); err != nil {
		return nil, fmt.Errorf("response is not valid JSON: %w", err)
	}
	if len(cr.Choices) == 0 {
		return nil, errors.New("response has no choices")
	}
	msg := cr.Choices[0].Message
	rep := &llmReply{Model: cr.Model, InputTokens: cr.Usage.Prompt, OutputTokens: cr.Usage.Completion}
	if msg.Content != nil {
		rep.Content = *msg.Content
	}
	for _, c := range msg.ToolCalls {
		args := map[string]any{}
		if s := strings.TrimSpace(c.Function.Arguments); s != "" {
			if err := json.Unmarshal([]byte(s), &args); err != nil {
				return nil, fmt.Errorf("tool call %s has arguments that are not a JSON object", c.Function.Name)
			}
		}
		rep.ToolCalls = append(rep.ToolCalls, llmToolCall{ID: c.ID, Name: c.Function.Name, Arguments: args})
	}
	return rep, nil
}

// defaultAnthropicMaxTokens is sent when the block sets none: the Messages API
// requires max_tokens.
const defaultAnthropicMaxTokens = 4096

// anthropicBody is a Messages API request. System messages go to "system"; tool
// results become tool_result blocks of one user turn; a response format becomes
// instructions in the system prompt (portable across Anthropic-compatible servers).
func anthropicBody(model string, req llmRequest) map[string]any {
	var system []string
	var msgs []any
	var pendingResults []any
	flush := func() {
		if len(pendingResults) > 0 {
			msgs = append(msgs, map[string]any{"role": "user", "content": pendingResults})
			pendingResults = nil
		}
	}
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			system = append(system, m.Content)
		case "tool":
			pendingResults = append(pendingResults, map[string]any{"type": "tool_result", "tool_use_id": m.ToolCallID, "content": m.Content})
		case "assistant":
			flush()
			var blocks []any
			if m.Content != "" {
				blocks = append(blocks, map[string]any{"type": "text", "text": m.Content})
			}
			for _, c := range m.ToolCalls {
				blocks = append(blocks, map[string]any{"type": "tool_use", "id": c.ID, "name": c.Name, "input": nonNilMap(c.Arguments)})
			}
			if blocks == nil {
				blocks = []any{map[string]any{"type": "text", "text": ""}}
			}
			msgs = append(msgs, map[string]any{"role": "assistant", "content": blocks})
		default:
			flush()
			msgs = append(msgs, map[string]any{"role": "user", "content": m.Content})
		}
	}
	flush()
	if req.Schema != nil {
		s, _ := json.Marshal(req.Schema)
		system = append(system, "Respond only with a JSON object (no prose, no code fences) that matches this JSON schema named "+
			req.SchemaName+":\n"+string(s))
	}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = defaultAnthropicMaxTokens
	}
	body := map[string]any{"model": model, "messages": msgs, "max_tokens": maxTokens}
	if len(system) > 0 {
		body["system"] = strings.Join(system, "\n\n")
	}
	if req.Temperature != nil {
		body["temperature"] = *req.Temperature
	}
	if len(req.Tools) > 0 {
		tools := make([]any, len(req.Tools))
		for i, t := range req.Tools {
			tools[i] = map[string]any{"name": t.Name, "description": t.Description, "input_schema": toolParams(t.Parameters)}
		}
		body["tools"] = tools
		if req.ForceTool != "" {
			body["tool_choice"] = map[string]any{"type": "tool", "name": req.ForceTool}
		}
	}
	return body
}

func parseAnthropic(raw []byte) (*llmReply, error) {
	var mr struct {
		Model   string `json:"model"`
		Content []struct {
			Type  string         `json:"type"`
			Text  string         `json:"text"`
			ID    string         `json:"id"`
			Name  string         `json:"name"`
			Input map[string]any `json:"input"`
		} `json:"content"`
		Usage struct {
			Input  float64 `json:"input_tokens"`
			Output float64 `json:"output_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(raw, &mr); err != nil {
		return nil, fmt.Errorf("response is not valid JSON: %w", err)
	}
	if mr.Content == nil {
		return nil, errors.New("response has no content")
	}
	rep := &llmReply{Model: mr.Model, InputTokens: mr.Usage.Input, OutputTokens: mr.Usage.Output}
	var text []string
	for _, c := range mr.Content {
		switch c.Type {
		case "text":
			text = append(text, c.Text)
		case "tool_use":
			rep.ToolCalls = append(rep.ToolCalls, llmToolCall{ID: c.ID, Name: c.Name, Arguments: nonNilMap(c.Input)})
		}
	}
	rep.Content = strings.Join(text, "")
	return rep, nil
}

// toolParams makes sure a tool schema is an object schema (both APIs require one).
func toolParams(p map[string]any) map[string]any {
	if p == nil {
		return map[string]any{"type": "object", "properties": map[string]any{}}
	}
	if _, ok := p["type"]; !ok {
		cp := make(map[string]any, len(p)+1)
		for k, v := range p {
			cp[k] = v
		}
		cp["type"] = "object"
		return cp
	}
	return p
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
