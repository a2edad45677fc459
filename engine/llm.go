package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Provider kinds a ModelEndpoint may have.
const (
	ProviderOpenAI    = "openai"    // OpenAI-compatible /chat/completions
	ProviderAnthropic = "anthropic" // Anthropic Messages API /v1/messages
)

// ModelEndpoint is where one model is served, as resolved for a run.
type ModelEndpoint struct {
	Provider string // the provider's name, for messages
	Kind     string // ProviderOpenAI or ProviderAnthropic
	BaseURL  string // e.g. https://api.openai.com/v1, https://api.anthropic.com
	APIKey   string
	Model    string // the model name sent to the provider (any routing prefix removed)
	Timeout  time.Duration
}

// ModelResolver maps a block's model param ("" for the workspace default) to the
// endpoint that serves it. core builds one per run from the workspace's providers.
type ModelResolver func(ctx context.Context, model string) (*ModelEndpoint, error)

const (
	defaultLLMTimeout = 5 * time.Minute
	llmAttempts       = 4 // one call and up to three retries on 429/5xx/network errors
	maxRetryAfter     = 30 * time.Second
	maxLLMErrorText   = 500
)

// llmBackoff is the first retry delay when the provider sends no Retry-After; it
// doubles per attempt. A variable so tests need not wait.
var llmBackoff = 500 * time.Millisecond

// llmMessage is one message in the provider-neutral conversation.
type llmMessage struct {
	Role       string // system | user | assistant | tool
	Content    string
	ToolCalls  []llmToolCall // assistant turns that call tools
	ToolCallID string        // tool results
}

type llmToolCall struct {
	ID        string
	Name      string
	Arguments map[string]any
}

// llmTool is a function the model may call.
type llmTool struct {
	Name        string
	Description string
	Parameters  map[string]any
}

type llmRequest struct {
	Messages    []llmMessage
	Tools       []llmTool
	ForceTool   string // name of a tool the model must call now ("" = auto)
	Temperature *float64
	MaxTokens   int
	// Schema asks for a JSON reply matching it (name, schema).
	SchemaName string
	Schema     map[string]any
}

type llmReply struct {
	Content      string
	ToolCalls    []llmToolCall
	Model        string
	InputTokens  float64
	OutputTokens float64
}

// endpoint resolves the block's model. A block's own apiKey param wins over the
// provider's key, as in Sim.
func (x *execCtx) endpoint(ctx context.Context) (*ModelEndpoint, error) {
	model := strings.TrimSpace(x.str("model"))
	if x.r.in.Models == nil {
		return nil, fmt.Errorf("no model provider is configured for this workspace (model %q): add one with `steelengine providers add`", model)
	}
	ep, err := x.r.in.Models(ctx, model)
	if err != nil {
		return nil, err
	}
	cp := *ep
	if k := strings.TrimSpace(x.str("apiKey")); k != "" {
		cp.APIKey = k
	}
	if cp.Model == "" {
		return nil, errors.New("no model selected and the provider has no default model")
	}
	return &cp, nil
}

// callModel sends one request to the endpoint, retrying 429, 5xx and network errors
// with backoff (honouring Retry-After). Cancellation of ctx aborts the call.
func (x *execCtx) callModel(ctx context.Context, ep *ModelEndpoint, req llmRequest) (*llmReply, error) {
	return x.streamModel(ctx, ep, req, nil)
}

// streamModel is callModel that, when onText is set, asks the provider to stream and
// hands each text delta to onText as it arrives. Once text has been handed on, a
// failure is not retried (the caller has already seen part of a reply).
func (x *execCtx) streamModel(ctx context.Context, ep *ModelEndpoint, req llmRequest, onText func(string)) (*llmReply, error) {
	var (
		path string
		body map[string]any
		hdr  = http.Header{}
	)
	switch ep.Kind {
	case ProviderAnthropic:
		path, body = "/v1/messages", anthropicBody(ep.Model, req)
		if strings.HasSuffix(strings.TrimRight(ep.BaseURL, "/"), "/v1") {
			path = "/messages"
		}
		hdr.Set("anthropic-version", "2023-06-01")
		if ep.APIKey != "" {
			hdr.Set("x-api-key", ep.APIKey)
		}
	case ProviderOpenAI, "":
		path, body = "/chat/completions", openAIBody(ep.Model, req)
		if ep.APIKey != "" {
			hdr.Set("Authorization", "Bearer "+ep.APIKey)
		}
	default:
		return nil, fmt.Errorf("model provider %s has unknown kind %q", ep.Provider, ep.Kind)
	}
	if onText != nil {
		body["stream"] = true
		if ep.Kind != ProviderAnthropic {
			body["stream_options"] = map[string]any{"include_usage": true}
		}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode model request: %w", err)
	}
	emitted := false
	read := func(r io.Reader) (*llmReply, error) {
		if onText == nil {
			data, err := io.ReadAll(io.LimitReader(r, maxAPIResponse))
			if err != nil {
				return nil, &retryableError{fmt.Errorf("read model response: %w", err)}
			}
			if ep.Kind == ProviderAnthropic {
				return parseAnthropic(data)
			}
			return parseOpenAI(data)
		}
		emit := func(s string) {
			if s != "" {
				emitted = true
				onText(s)
			}
		}
		if ep.Kind == ProviderAnthropic {
			return readAnthropicStream(r, emit)
		}
		return readOpenAIStream(r, emit)
	}
	timeout := ep.Timeout
	if timeout <= 0 {
		timeout = defaultLLMTimeout
	}
	target := strings.TrimRight(ep.BaseURL, "/") + path
	var lastErr error
	for attempt := 0; attempt < llmAttempts; attempt++ {
		if attempt > 0 {
			wait := llmBackoff << (attempt - 1)
			var ra *retryAfterError
			if errors.As(lastErr, &ra) && ra.after > 0 {
				wait = min(ra.after, maxRetryAfter)
			}
			if err := sleepCtx(ctx, wait); err != nil {
				return nil, err
			}
		}
		client := x.r.in.ModelHTTPClient
		if client == nil {
			client = x.r.http
		}
		rep, err := postModel(ctx, client, target, hdr, raw, timeout, read)
		if err == nil {
			if rep.Model == "" {
				rep.Model = ep.Model
			}
			return rep, nil
		}
		lastErr = scrubKey(err, ep.APIKey)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !isRetryable(err) || emitted {
			return nil, fmt.Errorf("model provider %s: %w", ep.Provider, lastErr)
		}
	}
	return nil, &retryableError{fmt.Errorf("model provider %s: %w (after %d attempts)", ep.Provider, lastErr, llmAttempts)}
}

// retryAfterError carries the provider's Retry-After.
type retryAfterError struct {
	error
	after time.Duration
}

func (e *retryAfterError) Unwrap() error { return e.error }

func postModel(ctx context.Context, client *http.Client, target string, hdr http.Header, body []byte, timeout time.Duration,
	read func(io.Reader) (*llmReply, error)) (*llmReply, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build model request: %w", err)
	}
	hr.Header = hdr.Clone()
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "SteelEngine")
	resp, err := client.Do(hr)
	if err != nil {
		err = withoutURL(err)
		if isBlocked(err) {
			return nil, fmt.Errorf("endpoint %s refused: %w", redactURL(target), err)
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, &retryableError{fmt.Errorf("request to %s timed out after %s", redactURL(target), timeout)}
		}
		return nil, &retryableError{fmt.Errorf("request to %s failed: %w", redactURL(target), err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 400 {
		return read(resp.Body)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		return nil, &retryableError{fmt.Errorf("read model response: %w", err)}
	}
	e := fmt.Errorf("HTTP %d: %s", resp.StatusCode, providerErrorText(raw))
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return nil, &retryableError{&retryAfterError{e, retryAfter(resp.Header.Get("Retry-After"))}}
	}
	return nil, e
}

// providerErrorText is the provider's own error message when the body is a JSON
// error envelope ({"error": {"message": …}} for both kinds), else the body, trimmed.
func providerErrorText(raw []byte) string {
	var env struct {
		Error any `json:"error"`
	}
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &env) == nil {
		switch e := env.Error.(type) {
		case string:
			msg = e
		case map[string]any:
			if m := toStr(e["message"]); m != "" {
				msg = m
			}
		}
	}
	if len(msg) > maxLLMErrorText {
		msg = msg[:maxLLMErrorText] + "…"
	}
	if msg == "" {
		msg = "(empty body)"
	}
	return msg
}

func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// scrubKey removes the API key from an error message, whatever echoed it.
func scrubKey(err error, key string) error {
	if err == nil || len(key) < 4 || !strings.Contains(err.Error(), key) {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), key, Redacted)
	if isRetryable(err) {
		return &retryableError{errors.New(msg)}
	}
	return errors.New(msg)
}

func temperatureOf(v any) *float64 {
	if f, ok := toNumber(v); ok && v != nil && v != "" {
		return &f
	}
	return nil
}

// tokensOut and costOut are Sim's output shapes.
func tokensOut(in, out float64) map[string]any {
	return map[string]any{"input": in, "output": out, "total": in + out}
}

// TestModel sends a one-line prompt to ep and returns the model that answered; for
// checking a provider's configuration.
func TestModel(ctx context.Context, client *http.Client, ep *ModelEndpoint) (string, error) {
	x := &execCtx{r: &run{http: client, in: RunInput{ModelHTTPClient: client}}}
	rep, err := x.callModel(ctx, ep, llmRequest{Messages: []llmMessage{{Role: "user", Content: "Reply with the single word OK."}}, MaxTokens: 16})
	if err != nil {
		return "", err
	}
	return rep.Model, nil
}
