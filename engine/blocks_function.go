package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/steelengine/steelengine/engine/sandbox"
)

// ErrNoSandbox is returned by function/condition blocks when RunInput.Sandbox is nil.
var ErrNoSandbox = errors.New("no JavaScript sandbox configured")

const (
	defaultFunctionTimeout = 5 * time.Second
	maxFunctionTimeout     = 5 * time.Minute
)

type functionPlan struct {
	code     *compiledCode
	language string
}

var functionType = &blockType{
	raw: map[string]bool{"code": true},
	compile: func(p *Plan, n *node) error {
		src, _ := n.b.Param("code").(string)
		lang, _ := n.b.Param("language").(string)
		if lang == "" {
			lang = "javascript"
		}
		n.ext = &functionPlan{code: p.names.compileCode(src, "__ref_"), language: strings.ToLower(lang)}
		return nil
	},
	run: runFunction,
}

// runFunction runs the block's code as an async function body in the sandbox. Each
// reference in the code was replaced at compile time by an identifier whose value is
// passed in the globals map.
func runFunction(ctx context.Context, x *execCtx) (map[string]any, error) {
	fp := x.n.ext.(*functionPlan)
	switch fp.language {
	case "javascript", "js", "typescript", "ts":
	default:
		return nil, fmt.Errorf("language %q is not supported: SteelEngine runs JavaScript only", fp.language)
	}
	if x.r.in.Sandbox == nil {
		return nil, ErrNoSandbox
	}
	g, err := x.codeGlobals(fp.code, false)
	if err != nil {
		return nil, err
	}
	params := make(map[string]any, len(x.input))
	for k, v := range x.input {
		if k != "code" && k != "language" && k != "timeout" && !hiddenParams[k] {
			params[k] = v
		}
	}
	g["params"] = params
	env := make(map[string]any, len(x.r.in.Env))
	for k, v := range x.r.in.Env {
		env[k] = v
	}
	g["environmentVariables"] = env
	// Sim gives a function the run's remaining time (handlers/function/function-handler.ts;
	// there is no per-block timeout in its UI); the operator's --function-timeout caps it.
	limit := x.r.in.Limits.MaxFunctionTimeout
	if limit <= 0 {
		limit = maxFunctionTimeout
	}
	timeout := defaultFunctionTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	if ms := toInt(x.input["timeout"], 0); ms > 0 {
		timeout = min(timeout, time.Duration(ms)*time.Millisecond)
	}
	timeout = min(timeout, limit)
	x.input["code"] = fp.code.code
	resp, err := x.r.script(ctx, ScriptRequest{Code: fp.code.code, Globals: g, Timeout: timeout, Fetch: x.r.scriptFetch})
	if err != nil {
		src, _ := x.n.b.Param("code").(string)
		return nil, simScriptError(err, src)
	}
	return map[string]any{"result": resp.Result, "stdout": strings.TrimRight(resp.Stdout, "\n")}, nil
}

// hiddenParams are subBlock values a function's code does not receive as params.
var hiddenParams = map[string]bool{"apiKey": true, "apikey": true, "api_key": true, "password": true, "token": true,
	"secret": true, "accessToken": true, "authorization": true, "Authorization": true}

// functionError is a script's failure as Sim words it; the sandbox's error stays
// reachable with errors.As.
type functionError struct {
	msg string
	err error
}

func (e *functionError) Error() string { return e.msg }
func (e *functionError) Unwrap() error { return e.err }

var (
	// goja's frames name the wrapped body "function" (sandbox.compile), whose first
	// line is the user's first line.
	stackLineRE = regexp.MustCompile(`\bfunction:(\d+):\d+`)
	// goja's compile errors: "SyntaxError: function: Line 1:28 Unexpected token ; (and 4 more errors)".
	syntaxLineRE = regexp.MustCompile(`^SyntaxError: function: Line (\d+):\d+ (.*?)(?: \(and \d+ more errors?\))?$`)
	errorNameRE  = regexp.MustCompile(`^([A-Za-z_$][\w$]*): `)
)

// simScriptError words a script error as Sim's function route does
// (apps/sim/app/api/function/execute/route.ts createUserFriendlyErrorMessage, with
// the line from apps/sim/lib/execution/isolated-vm-worker.cjs convertToCompatibleError):
// "Line N: `<trimmed source line>` - <message>", then "Type Error: " (etc.) in front
// when the error is not a plain Error. The line shown is the block's source as the
// user wrote it, clamped to its first and last line as Sim's worker clamps it.
// Errors that are not the script's (timeouts, memory, overload) pass through.
func simScriptError(err error, src string) error {
	var se *sandbox.ScriptError
	if !errors.As(err, &se) {
		return err
	}
	name, msg, line := "Error", se.Message, 0
	if m := syntaxLineRE.FindStringSubmatch(se.Message); m != nil {
		name, msg = "SyntaxError", m[2]
		line, _ = strconv.Atoi(m[1])
	} else {
		if m := stackLineRE.FindStringSubmatch(se.Stack); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		if m := errorNameRE.FindStringSubmatch(se.Message); m != nil && se.Stack != "" {
			name, msg = m[1], se.Message[len(m[0]):]
		}
	}
	if line == 0 {
		// No position known (a thrown string, a never-settling promise): as before.
		return err
	}
	lines := strings.Split(src, "\n")
	line = min(max(line, 1), len(lines))
	out := fmt.Sprintf("Line %d", line)
	if content := strings.TrimSpace(lines[line-1]); content != "" {
		out += ": `" + content + "`"
	}
	out += " - " + msg
	if name != "Error" {
		prefix := name
		switch name {
		case "SyntaxError":
			prefix = "Syntax Error"
		case "TypeError":
			prefix = "Type Error"
		case "ReferenceError":
			prefix = "Reference Error"
		}
		if !strings.Contains(strings.ToLower(out), strings.ToLower(prefix)) {
			out = prefix + ": " + out
		}
	}
	return &functionError{msg: out, err: err}
}

// maxFetchResponseBytes caps a response body handed to a function's fetch().
const maxFetchResponseBytes = 10 << 20

// scriptFetch performs a function's fetch() (Sim gives function code the global
// fetch) with the run's SSRF-guarded client, so the operator's
// --allow-loopback/--allow-network apply as for api blocks. ctx ends with the
// function's time (the run's remaining time, capped by --function-timeout).
func (r *run) scriptFetch(ctx context.Context, fr sandbox.FetchRequest) (sandbox.FetchResponse, error) {
	var body io.Reader
	if fr.Body != "" {
		body = strings.NewReader(fr.Body)
	}
	req, err := http.NewRequestWithContext(ctx, fr.Method, fr.URL, body)
	if err != nil {
		return sandbox.FetchResponse{}, fmt.Errorf("bad request: %w", err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return sandbox.FetchResponse{}, fmt.Errorf("only http and https URLs can be fetched, not %q", fr.URL)
	}
	for k, v := range fr.Headers {
		req.Header.Set(k, v)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return sandbox.FetchResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchResponseBytes+1))
	if err != nil {
		return sandbox.FetchResponse{}, fmt.Errorf("reading the response: %w", err)
	}
	if len(b) > maxFetchResponseBytes {
		return sandbox.FetchResponse{}, fmt.Errorf("response body over %d MiB", maxFetchResponseBytes>>20)
	}
	out := sandbox.FetchResponse{Status: resp.StatusCode, StatusText: http.StatusText(resp.StatusCode), Headers: map[string]string{}, Body: string(b)}
	for k, v := range resp.Header {
		out.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	return out, nil
}
