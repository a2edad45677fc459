package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Agent tool kinds SteelEngine runs. Sim's tool "type" is a block type ("api",
// "workflow_input", an integration such as "slack") or "custom-tool" / "mcp".
const (
	toolCustom   = "custom"
	toolHTTP     = "http"
	toolWorkflow = "workflow"
	toolMCP      = "mcp"
)

// toolKindOf maps Sim's tool type to what SteelEngine runs ("" = not supported).
func toolKindOf(typ string) string {
	switch typ {
	case "custom-tool":
		return toolCustom
	case TypeAPI, "http_request":
		return toolHTTP
	case TypeWorkflow, TypeWorkflowInput, "workflow_executor":
		return toolWorkflow
	case "mcp":
		return toolMCP
	}
	return ""
}

// customToolPrefix is Sim's AGENT.CUSTOM_TOOL_PREFIX: custom tools reach the model as
// custom_<title> and are reported without the prefix.
const customToolPrefix = "custom_"

type agentTool struct {
	kind    string
	typ     string
	title   string
	def     llmTool
	usage   string         // auto | force
	params  map[string]any // values the workflow author fixed; they win over the model's
	code    string
	wfID    string
	server  string // mcp: the external server's id or name
	mcpTool string
}

var toolNameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

func toolName(s string) string {
	s = toolNameUnsafe.ReplaceAllString(s, "_")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// agentTools reads the block's tools. Tools with usageControl "none" are left out, as
// in Sim; a type SteelEngine cannot run fails the block (deploy refuses it earlier).
func (x *execCtx) agentTools() ([]*agentTool, error) {
	var out []*agentTool
	seen := map[string]int{}
	for i, raw := range asSlice(parseMaybeJSON(x.input["tools"])) {
		m, _ := raw.(map[string]any)
		if m == nil {
			continue
		}
		usage := toStr(m["usageControl"])
		if usage == "" {
			usage = "auto"
		}
		if usage == "none" {
			continue
		}
		typ := toStr(m["type"])
		t := &agentTool{kind: toolKindOf(typ), typ: typ, title: toStr(m["title"]), usage: usage}
		t.params, _ = parseMaybeJSON(m["params"]).(map[string]any)
		if t.params == nil {
			t.params = map[string]any{}
		}
		switch t.kind {
		case toolCustom:
			schema, _ := parseMaybeJSON(m["schema"]).(map[string]any)
			fn, _ := schema["function"].(map[string]any)
			if fn == nil {
				return nil, fmt.Errorf("custom tool %q has no function schema", t.title)
			}
			t.code = toStr(m["code"])
			title := t.title
			if title == "" {
				title = toStr(fn["name"])
			}
			params, _ := fn["parameters"].(map[string]any)
			t.def = llmTool{Name: toolName(customToolPrefix + title), Description: toStr(fn["description"]), Parameters: withoutFixed(params, t.params)}
		case toolHTTP:
			t.def = llmTool{Name: "http_request", Description: "Make an HTTP request to a URL and return the status, headers and response data.",
				Parameters: withoutFixed(httpToolSchema, t.params)}
		case toolWorkflow:
			t.wfID = strings.TrimSpace(toStr(t.params["workflowId"]))
			if t.wfID == "" {
				return nil, fmt.Errorf("workflow tool %d has no workflow selected", i+1)
			}
			desc := "Execute the workflow"
			if t.title != "" {
				desc += " \"" + t.title + "\""
			}
			desc += `. Pass its inputs as inputMapping, a JSON object keyed by the workflow's input field names.`
			t.def = llmTool{Name: toolName("workflow_executor_" + t.wfID), Description: desc, Parameters: map[string]any{
				"type": "object", "properties": map[string]any{"inputMapping": map[string]any{"type": "object",
					"description": "JSON object with keys matching the workflow's input field names"}}}}
		case toolMCP:
			t.server, t.mcpTool = strings.TrimSpace(toStr(t.params["serverId"])), strings.TrimSpace(toStr(t.params["toolName"]))
			if t.server == "" || t.mcpTool == "" {
				return nil, fmt.Errorf("MCP tool %q needs a serverId and a toolName", t.title)
			}
			serverName := toStr(t.params["serverName"])
			for _, k := range []string{"serverId", "toolName", "serverName"} {
				delete(t.params, k)
			}
			schema, _ := parseMaybeJSON(m["schema"]).(map[string]any)
			desc := toStr(schema["description"])
			if desc == "" {
				if serverName == "" {
					serverName = t.server
				}
				desc = "MCP tool " + t.mcpTool + " from " + serverName
			}
			t.def = llmTool{Name: toolName("mcp-" + t.server + "-" + t.mcpTool), Description: desc, Parameters: withoutFixed(toolParams(schema), t.params)}
		default:
			return nil, fmt.Errorf("agent tool %q (type %q) is not supported by SteelEngine", t.title, typ)
		}
		if n := seen[t.def.Name]; n > 0 {
			t.def.Name = toolName(fmt.Sprintf("%s_%d", t.def.Name, n+1))
		}
		seen[t.def.Name]++
		out = append(out, t)
	}
	return out, nil
}

var httpToolSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"url":     map[string]any{"type": "string", "description": "The URL to request"},
		"method":  map[string]any{"type": "string", "enum": []any{"GET", "POST", "PUT", "PATCH", "DELETE"}, "description": "HTTP method (default GET)"},
		"headers": map[string]any{"type": "object", "description": "Request headers as an object"},
		"params":  map[string]any{"type": "object", "description": "Query parameters as an object"},
		"body":    map[string]any{"description": "Request body (JSON object or text)"},
	},
	"required": []any{"url"},
}

// withoutFixed removes the parameters the workflow author already set from the schema
// the model sees (Sim's filterSchemaForLLM).
func withoutFixed(schema map[string]any, fixed map[string]any) map[string]any {
	if schema == nil {
		return nil
	}
	props, _ := schema["properties"].(map[string]any)
	if len(fixed) == 0 || props == nil {
		return schema
	}
	out := make(map[string]any, len(schema))
	for k, v := range schema {
		out[k] = v
	}
	np := map[string]any{}
	for k, v := range props {
		if !isSet(fixed[k]) {
			np[k] = v
		}
	}
	out["properties"] = np
	var req []any
	for _, r := range asSlice(schema["required"]) {
		if _, ok := np[toStr(r)]; ok {
			req = append(req, r)
		}
	}
	if req != nil {
		out["required"] = req
	} else {
		delete(out, "required")
	}
	return out
}

func isSet(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(t) != ""
	}
	return true
}

// runToolCall runs one tool call. It returns the toolCalls entry for the output and
// the content sent back to the model; a failing tool is reported to the model as
// {error, message, tool}, as Sim does, rather than failing the block.
func (x *execCtx) runToolCall(ctx context.Context, t *agentTool, c llmToolCall) (map[string]any, string) {
	start := time.Now()
	name := strings.TrimPrefix(c.Name, customToolPrefix)
	var (
		result any
		err    error
	)
	if t == nil {
		err = fmt.Errorf("the model called an unknown tool %q", c.Name)
	} else {
		args := make(map[string]any, len(c.Arguments)+len(t.params))
		for k, v := range c.Arguments {
			args[k] = v
		}
		for k, v := range t.params {
			if isSet(v) {
				args[k] = v
			}
		}
		switch t.kind {
		case toolCustom:
			result, err = x.runCustomTool(ctx, t, args)
		case toolHTTP:
			result, err = runAPI(ctx, &execCtx{r: x.r, fr: x.fr, n: x.n, input: args})
		case toolWorkflow:
			result, err = x.runWorkflowTool(ctx, t, c.Arguments)
		case toolMCP:
			if x.r.in.MCP == nil {
				err = errors.New("external MCP servers are not available for this run")
			} else {
				result, err = x.r.in.MCP(ctx, t.server, t.mcpTool, args)
			}
		}
	}
	end := time.Now()
	rec := map[string]any{"name": name, "arguments": nonNilMap(c.Arguments), "startTime": start.UTC().Format(time.RFC3339Nano),
		"endTime": end.UTC().Format(time.RFC3339Nano), "duration": float64(end.Sub(start).Milliseconds()), "success": err == nil}
	var content any
	if err != nil {
		rec["error"] = err.Error()
		content = map[string]any{"error": true, "message": err.Error(), "tool": name}
	} else {
		rec["result"] = result
		content = result
	}
	b, jerr := json.Marshal(content)
	if jerr != nil {
		b = []byte(`{"error":true,"message":"tool result is not JSON-serialisable"}`)
	}
	return rec, string(b)
}

var jsIdent = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

var jsReserved = map[string]bool{"break": true, "case": true, "catch": true, "class": true, "const": true, "continue": true,
	"debugger": true, "default": true, "delete": true, "do": true, "else": true, "export": true, "extends": true, "false": true,
	"finally": true, "for": true, "function": true, "if": true, "import": true, "in": true, "instanceof": true, "new": true,
	"null": true, "return": true, "super": true, "switch": true, "this": true, "throw": true, "true": true, "try": true,
	"typeof": true, "var": true, "void": true, "while": true, "with": true, "yield": true, "let": true, "static": true,
	"enum": true, "await": true, "params": true, "environmentVariables": true}

// runCustomTool runs a Sim custom tool's JavaScript body in the sandbox. As in Sim,
// each argument is also a constant of its own name, and params holds them all.
func (x *execCtx) runCustomTool(ctx context.Context, t *agentTool, args map[string]any) (any, error) {
	if x.r.in.Sandbox == nil {
		return nil, ErrNoSandbox
	}
	keys := make([]string, 0, len(args))
	for k := range args {
		if jsIdent.MatchString(k) && !jsReserved[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString("const " + k + " = params." + k + ";\n")
	}
	sb.WriteString(t.code)
	env := make(map[string]any, len(x.r.in.Env))
	for k, v := range x.r.in.Env {
		env[k] = v
	}
	resp, err := x.r.script(ctx, ScriptRequest{Code: sb.String(), Globals: map[string]any{"params": args, "environmentVariables": env},
		Timeout: defaultFunctionTimeout})
	if err != nil {
		return nil, err
	}
	return resp.Result, nil
}

// runWorkflowTool runs the tool's workflow as a child; the model's inputMapping is
// merged under the author's fixed one.
func (x *execCtx) runWorkflowTool(ctx context.Context, t *agentTool, modelArgs map[string]any) (any, error) {
	input := map[string]any{}
	if m, ok := parseMaybeJSON(modelArgs["inputMapping"]).(map[string]any); ok {
		for k, v := range m {
			input[k] = v
		}
	}
	if m, ok := parseMaybeJSON(t.params["inputMapping"]).(map[string]any); ok {
		for k, v := range m {
			if isSet(v) {
				input[k] = v
			}
		}
	}
	out, err := x.runChild(ctx, t.wfID, input)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func init() { RegisterDeployCheck(TypeAgent, agentDeployCheck) }

// agentDeployCheck lists the agent tools SteelEngine cannot run,
// naming block and tool, so that deploy refuses them rather than the run failing.
func agentDeployCheck(b *Block) []BlockProblem {
	var out []BlockProblem
	for i, raw := range asSlice(parseMaybeJSON(b.Param("tools"))) {
		m, _ := raw.(map[string]any)
		if m == nil || toStr(m["usageControl"]) == "none" {
			continue
		}
		typ := toStr(m["type"])
		if toolKindOf(typ) != "" {
			continue
		}
		title := toStr(m["title"])
		if title == "" {
			title = fmt.Sprintf("#%d", i+1)
		}
		out = append(out, BlockProblem{BlockID: b.ID, BlockName: b.Name, BlockType: b.Type, Code: ProblemUnsupported,
			Message: fmt.Sprintf("agent tool %q (type %q) is not supported by SteelEngine", title, typ),
			Hint:    "remove the tool, set its usage to none, or replace it with an HTTP request, custom, workflow or MCP tool"})
	}
	return out
}
