package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/steelengine/steelengine/engine/netguard"
)

const (
	defaultAPITimeout = 30 * time.Second
	maxAPITimeout     = 5 * time.Minute
	maxAPIResponse    = 10 << 20
	maxAPIRetries     = 5
)

var apiType = &blockType{run: runAPI}

// runAPI performs the HTTP request through the injected (SSRF-guarded) client.
func runAPI(ctx context.Context, x *execCtx) (map[string]any, error) {
	rawURL := strings.TrimSpace(x.str("url"))
	if rawURL == "" {
		return nil, errors.New("url is required")
	}
	if !strings.Contains(rawURL, "://") {
		rawURL = "https://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid url %q: %v", redactURL(rawURL), err)
	}
	q := u.Query()
	for k, v := range tableRows(x.input["params"]) {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	method := strings.ToUpper(strings.TrimSpace(x.str("method")))
	if method == "" {
		method = http.MethodGet
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead:
	default:
		return nil, fmt.Errorf("unsupported method %q", method)
	}
	headers := tableRows(x.input["headers"])
	if len(x.r.in.Via) > 0 {
		for k := range headers {
			if strings.EqualFold(k, ViaHeader) {
				delete(headers, k) // the chain is ours to send, not the workflow's
			}
		}
		headers[ViaHeader] = strings.Join(x.r.in.Via, ",")
	}
	var body []byte
	contentType := ""
	if method != http.MethodGet && method != http.MethodHead {
		switch b := x.input["body"].(type) {
		case nil:
		case string:
			if strings.TrimSpace(b) != "" {
				body = []byte(b)
				if json.Valid([]byte(b)) {
					contentType = "application/json"
				} else {
					contentType = "text/plain; charset=utf-8"
				}
			}
		default:
			body, err = json.Marshal(b)
			if err != nil {
				return nil, fmt.Errorf("encode body: %w", err)
			}
			contentType = "application/json"
		}
	}
	timeout := defaultAPITimeout
	if ms := toInt(x.input["timeout"], 0); ms > 0 {
		timeout = min(time.Duration(ms)*time.Millisecond, maxAPITimeout)
	}
	retries := min(max(toInt(x.input["retries"], 0), 0), maxAPIRetries)
	delay := time.Duration(max(toInt(x.input["retryDelayMs"], 500), 0)) * time.Millisecond
	maxDelay := time.Duration(max(toInt(x.input["retryMaxDelayMs"], 30000), 0)) * time.Millisecond
	idempotent := method != http.MethodPost && method != http.MethodPatch
	if v, ok := x.input["retryNonIdempotent"].(bool); ok && v {
		idempotent = true
	}
	var out map[string]any
	for attempt := 0; ; attempt++ {
		out, err = doHTTP(ctx, x.r.http, method, u.String(), headers, body, contentType, timeout)
		if err == nil || attempt >= retries || !idempotent || !isRetryable(err) || ctx.Err() != nil {
			break
		}
		if serr := sleepCtx(ctx, min(delay<<attempt, maxDelay)); serr != nil {
			return nil, serr
		}
	}
	return out, err
}

func doHTTP(ctx context.Context, client *http.Client, method, target string, headers map[string]string, body []byte, contentType string, timeout time.Duration) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "SteelEngine")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		err = withoutURL(err)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, &retryableError{fmt.Errorf("request to %s timed out after %s", redactURL(target), timeout)}
		}
		if isBlocked(err) {
			return nil, fmt.Errorf("request to %s refused: %w", redactURL(target), err)
		}
		return nil, &retryableError{fmt.Errorf("request to %s failed: %w", redactURL(target), err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse+1))
	if err != nil {
		return nil, &retryableError{fmt.Errorf("read response from %s: %w", redactURL(target), withoutURL(err))}
	}
	if len(raw) > maxAPIResponse {
		return nil, fmt.Errorf("response from %s is larger than %d bytes", redactURL(target), maxAPIResponse)
	}
	var data any = string(raw)
	if ct := resp.Header.Get("Content-Type"); strings.Contains(ct, "json") || json.Valid(raw) {
		var parsed any
		if json.Unmarshal(raw, &parsed) == nil {
			data = parsed
		}
	}
	hdrs := make(map[string]any, len(resp.Header))
	for k, v := range resp.Header {
		hdrs[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	out := map[string]any{"data": data, "status": float64(resp.StatusCode), "headers": hdrs}
	if resp.StatusCode >= 400 {
		msg := fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		if s := strings.TrimSpace(string(raw)); s != "" {
			if len(s) > 500 {
				s = s[:500] + "…"
			}
			msg += ": " + s
		}
		err := errors.New(msg)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, &retryableError{err}
		}
		return nil, err
	}
	return out, nil
}

// isBlocked reports an SSRF refusal by the netguard client.
func isBlocked(err error) bool {
	return errors.Is(err, netguard.ErrBlockedAddress)
}

// withoutURL drops the *url.Error wrapper net/http puts around a failed request: its
// message repeats the full URL, query string and userinfo included.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// tableRows reads Sim's table param ([{id, cells:{Key, Value}}]) or a plain object.
func tableRows(v any) map[string]string {
	out := map[string]string{}
	switch t := parseMaybeJSON(v).(type) {
	case []any:
		for _, r := range t {
			m, _ := r.(map[string]any)
			cells, _ := m["cells"].(map[string]any)
			if cells == nil {
				cells = m
			}
			k := strings.TrimSpace(toStr(cells["Key"]))
			if k == "" {
				k = strings.TrimSpace(toStr(cells["key"]))
			}
			if k == "" {
				continue
			}
			val := cells["Value"]
			if val == nil {
				val = cells["value"]
			}
			out[k] = toStr(val)
		}
	case map[string]any:
		for k, val := range t {
			out[k] = toStr(val)
		}
	}
	return out
}
