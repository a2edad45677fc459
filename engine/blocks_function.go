package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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
	resp, err := x.r.script(ctx, ScriptRequest{Code: fp.code.code, Globals: g, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return map[string]any{"result": resp.Result, "stdout": strings.TrimRight(resp.Stdout, "\n")}, nil
}

// hiddenParams are subBlock values a function's code does not receive as params.
var hiddenParams = map[string]bool{"apiKey": true, "apikey": true, "api_key": true, "password": true, "token": true,
	"secret": true, "accessToken": true, "authorization": true, "Authorization": true}
