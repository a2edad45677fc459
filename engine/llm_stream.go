package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// sseData calls fn with the payload of every "data:" line of a server-sent event
// stream until fn says stop or the stream ends. Lines are capped at maxAPIResponse.
func sseData(r io.Reader, fn func(data string) (stop bool, err error)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxAPIResponse)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			continue
		}
		stop, err := fn(strings.TrimSpace(data))
		if err != nil || stop {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &retryableError{fmt.Errorf("read model stream: %w", err)}
	}
	return nil
}

// readOpenAIStream reads a chat completions stream: text deltas go to emit, tool call
// fragments are joined by index, usage comes with the last chunk (include_usage).
func readOpenAIStream(r io.Reader, emit func(string)) (*llmReply, error) {
	rep := &llmReply{}
	var text strings.Builder
	type partial struct {
		id, name string
		args     strings.Builder
	}
	calls := map[int]*partial{}
	err := sseData(r, func(data string) (bool, error) {
		if data == "[DONE]" {
			return true, nil
		}
		var ch struct {
			Model   string `json:"model"`
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []struct {
						Index    int    `json:"index"`
						ID       string `json:"id"`
						Function struct {
							Name      string `json:"name"`
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
			Usage *struct {
				Prompt     float64 `json:"prompt_tokens"`
				Completion float64 `json:"completion_tokens"`
			} `json:"usage"`
			Error any `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return true, fmt.Errorf("stream chunk is not valid JSON: %w", err)
		}
		if ch.Error != nil {
			b, _ := json.Marshal(map[string]any{"error": ch.Error})
			return true, errors.New(providerErrorText(b))
		}
		if ch.Model != "" {
			rep.Model = ch.Model
		}
		if ch.Usage != nil {
			rep.InputTokens, rep.OutputTokens = ch.Usage.Prompt, ch.Usage.Completion
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != "" {
				text.WriteString(c.Delta.Content)
				emit(c.Delta.Content)
			}
			for _, tc := range c.Delta.ToolCalls {
				p := calls[tc.Index]
				if p == nil {
					p = &partial{}
					calls[tc.Index] = p
				}
				if tc.ID != "" {
					p.id = tc.ID
				}
				if tc.Function.Name != "" {
					p.name = tc.Function.Name
				}
				p.args.WriteString(tc.Function.Arguments)
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	rep.Content = text.String()
	idx := make([]int, 0, len(calls))
	for i := range calls {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		p := calls[i]
		args := map[string]any{}
		if s := strings.TrimSpace(p.args.String()); s != "" {
			if err := json.Unmarshal([]byte(s), &args); err != nil {
				return nil, fmt.Errorf("tool call %s has arguments that are not a JSON object", p.name)
			}
		}
		rep.ToolCalls = append(rep.ToolCalls, llmToolCall{ID: p.id, Name: p.name, Arguments: args})
	}
	return rep, nil
}

// readAnthropicStream reads a Messages API stream (message_start, content_block_*,
// message_delta, message_stop, error events).
func readAnthropicStream(r io.Reader, emit func(string)) (*llmReply, error) {
	rep := &llmReply{}
	var text strings.Builder
	type block struct {
		typ, id, name string
		json          strings.Builder
	}
	blocks := map[int]*block{}
	var order []int
	err := sseData(r, func(data string) (bool, error) {
		var ev struct {
			Type    string `json:"type"`
			Index   int    `json:"index"`
			Message struct {
				Model string `json:"model"`
				Usage struct {
					Input float64 `json:"input_tokens"`
				} `json:"usage"`
			} `json:"message"`
			ContentBlock struct {
				Type string `json:"type"`
				ID   string `json:"id"`
				Name string `json:"name"`
				Text string `json:"text"`
			} `json:"content_block"`
			Delta struct {
				Type        string `json:"type"`
				Text        string `json:"text"`
				PartialJSON string `json:"partial_json"`
			} `json:"delta"`
			Usage struct {
				Output float64 `json:"output_tokens"`
			} `json:"usage"`
			Error any `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return true, fmt.Errorf("stream event is not valid JSON: %w", err)
		}
		switch ev.Type {
		case "message_start":
			rep.Model, rep.InputTokens = ev.Message.Model, ev.Message.Usage.Input
		case "content_block_start":
			blocks[ev.Index] = &block{typ: ev.ContentBlock.Type, id: ev.ContentBlock.ID, name: ev.ContentBlock.Name}
			order = append(order, ev.Index)
			if ev.ContentBlock.Text != "" {
				text.WriteString(ev.ContentBlock.Text)
				emit(ev.ContentBlock.Text)
			}
		case "content_block_delta":
			b := blocks[ev.Index]
			switch {
			case ev.Delta.Type == "text_delta":
				text.WriteString(ev.Delta.Text)
				emit(ev.Delta.Text)
			case ev.Delta.Type == "input_json_delta" && b != nil:
				b.json.WriteString(ev.Delta.PartialJSON)
			}
		case "message_delta":
			if ev.Usage.Output > 0 {
				rep.OutputTokens = ev.Usage.Output
			}
		case "message_stop":
			return true, nil
		case "error":
			b, _ := json.Marshal(map[string]any{"error": ev.Error})
			return true, errors.New(providerErrorText(b))
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	rep.Content = text.String()
	for _, i := range order {
		b := blocks[i]
		if b.typ != "tool_use" {
			continue
		}
		args := map[string]any{}
		if s := strings.TrimSpace(b.json.String()); s != "" {
			if err := json.Unmarshal([]byte(s), &args); err != nil {
				return nil, fmt.Errorf("tool call %s has input that is not a JSON object", b.name)
			}
		}
		rep.ToolCalls = append(rep.ToolCalls, llmToolCall{ID: b.id, Name: b.name, Arguments: args})
	}
	return rep, nil
}
