package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const llmTimeout = 5 * time.Minute

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model          string         `json:"model"`
	Messages       []chatMessage  `json:"messages"`
	Temperature    *float64       `json:"temperature,omitempty"`
	MaxTokens      int            `json:"max_tokens,omitempty"`
	ResponseFormat map[string]any `json:"response_format,omitempty"`
}

type chatReply struct {
	Content string
	Model   string
	Tokens  map[string]any
	Timing  time.Duration
}

// llmEndpoint picks the endpoint and key: block params win over the run's LLMConfig.
func (x *execCtx) llmEndpoint() (base, key, model string, err error) {
	cfg := x.r.in.LLM
	if cfg != nil {
		base, key, model = cfg.BaseURL, cfg.APIKey, cfg.Model
	}
	if s := strings.TrimSpace(x.str("baseUrl")); s != "" {
		base = s
	}
	if s := strings.TrimSpace(x.str("apiKey")); s != "" {
		key = s
	}
	if s := strings.TrimSpace(x.str("model")); s != "" {
		model = s
	}
	if base == "" {
		return "", "", "", errors.New("no model endpoint configured: set an OpenAI-compatible base URL for the workspace")
	}
	if model == "" {
		return "", "", "", errors.New("no model selected")
	}
	return strings.TrimRight(base, "/"), key, model, nil
}

// chat calls an OpenAI-compatible /chat/completions endpoint.
func (x *execCtx) chat(ctx context.Context, req chatRequest) (*chatReply, error) {
	base, key, model, err := x.llmEndpoint()
	if err != nil {
		return nil, err
	}
	req.Model = model
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode chat request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, llmTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build chat request: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	if key != "" {
		hr.Header.Set("Authorization", "Bearer "+key)
	}
	start := time.Now()
	resp, err := x.r.http.Do(hr)
	if err != nil {
		err = withoutURL(err)
		if isBlocked(err) {
			return nil, fmt.Errorf("model endpoint %s refused: %w", redactURL(base), err)
		}
		return nil, &retryableError{fmt.Errorf("model request failed: %w", err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		return nil, &retryableError{fmt.Errorf("read model response: %w", err)}
	}
	if resp.StatusCode >= 400 {
		msg := strings.TrimSpace(string(raw))
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		err := fmt.Errorf("model endpoint returned HTTP %d: %s", resp.StatusCode, msg)
		if resp.StatusCode >= 500 || resp.StatusCode == 429 {
			return nil, &retryableError{err}
		}
		return nil, err
	}
	var cr struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Usage struct {
			Prompt     float64 `json:"prompt_tokens"`
			Completion float64 `json:"completion_tokens"`
			Total      float64 `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(raw, &cr); err != nil {
		return nil, fmt.Errorf("decode model response: %w", err)
	}
	if len(cr.Choices) == 0 {
		return nil, errors.New("model response has no choices")
	}
	if cr.Model == "" {
		cr.Model = model
	}
	return &chatReply{Content: cr.Choices[0].Message.Content, Model: cr.Model, Timing: time.Since(start),
		Tokens: map[string]any{"prompt": cr.Usage.Prompt, "completion": cr.Usage.Completion, "total": cr.Usage.Total}}, nil
}

func temperatureOf(v any) *float64 {
	if f, ok := toNumber(v); ok && v != nil && v != "" {
		return &f
	}
	return nil
}
