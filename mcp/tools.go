package mcp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// endpoint is one MCP server: all deployed workflows (serverID "") or the workflows of
// one server object. Its tool registry holds every deployed workflow in scope; the
// tool filter narrows it to what the calling principal may execute.
type endpoint struct {
	s        *Server
	serverID string
	mcp      *server.MCPServer
	http     *server.StreamableHTTPServer
	sessions *sessions

	mu    sync.Mutex // serialises sync
	epoch atomic.Uint64
	ready atomic.Bool
	gone  atomic.Bool // the server object was deleted
	reg   atomic.Pointer[registry]
}

// registry maps tool names to workflows for one endpoint.
type registry struct {
	byName      map[string]string // tool name → workflow id
	fingerprint []byte
}

func (s *Server) newEndpoint(serverID, name string) *endpoint {
	e := &endpoint{s: s, serverID: serverID, sessions: newSessions(serverID, s.sec)}
	e.reg.Store(&registry{byName: map[string]string{}})
	e.mcp = server.NewMCPServer(name, serverVersion,
		server.WithToolCapabilities(true),
		server.WithResourceCapabilities(false, false),
		server.WithLogging(),
		server.WithRecovery(),
		server.WithResourceRecovery(),
		server.WithToolFilter(e.filter),
		server.WithInstructions("Each tool runs a deployed SteelEngine workflow with the given arguments and returns its output. "+
			"Read-only keys can read workflows and executions through the steelengine:// resource templates."),
	)
	e.mcp.AddResourceTemplate(mcp.NewResourceTemplate("steelengine://workflows/{id}", "workflow",
		mcp.WithTemplateDescription("A workflow: summary, deployment state and the input schema of its deployed version"),
		mcp.WithTemplateMIMEType("application/json")), e.readWorkflow)
	e.mcp.AddResourceTemplate(mcp.NewResourceTemplate("steelengine://executions/{id}", "execution",
		mcp.WithTemplateDescription("An execution log entry: status, input, output, error, block logs"),
		mcp.WithTemplateMIMEType("application/json")), e.readExecution)
	e.http = server.NewStreamableHTTPServer(e.mcp,
		server.WithHTTPContextFunc(func(ctx context.Context, r *http.Request) context.Context {
			// The middleware resolved the key for this very request.
			return withPrincipal(ctx, principalFrom(r.Context()))
		}),
		server.WithSessionIdleTTL(s.cfg.SessionIdleTTL),
		server.WithSessionIdManagerResolver(e.sessions),
		// Host/Origin are validated by our own guard (configurable, proxy-aware).
		server.WithDisableLocalhostProtection(true),
		server.WithHeartbeatInterval(30*time.Second),
		server.WithStreamableHTTPLogger(s.log),
	)
	return e
}

// sync rebuilds the tool registry when workflows, deployments or server objects
// changed since the last build. SetTools notifies open sessions of a changed set.
func (e *endpoint) sync(ctx context.Context) error {
	st := e.s.svc.Store()
	ep := st.WorkflowEpoch()
	if e.ready.Load() && e.epoch.Load() == ep {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ready.Load() && e.epoch.Load() == ep {
		return nil
	}
	var wsID string
	var ids []string
	if e.serverID != "" {
		m, err := st.GetMCPServer(ctx, e.serverID)
		if errors.Is(err, store.ErrNotFound) {
			e.gone.Store(true)
			m = &store.MCPServer{WorkflowIDs: []string{}}
		} else if err != nil {
			return err
		}
		wsID, ids = m.WorkspaceID, m.WorkflowIDs
		if ids == nil {
			ids = []string{}
		}
	}
	// The registry lists every deployed workflow in scope; the filter decides,
	// per principal, what exists for it.
	tools, err := e.s.svc.ExecutableWorkflows(ctx, auth.Operator(), wsID, ids)
	if err != nil {
		return err
	}
	names := toolNames(tools)
	serverTools := make([]server.ServerTool, 0, len(tools))
	byName := make(map[string]string, len(tools))
	var fp bytes.Buffer
	for i, t := range tools {
		tool := buildTool(names[i], t)
		serverTools = append(serverTools, server.ServerTool{Tool: tool, Handler: e.callHandler(t.Workflow.ID, t.Inputs)})
		byName[names[i]] = t.Workflow.ID
		b, _ := json.Marshal(tool)
		fp.WriteString(t.Workflow.ID)
		fp.Write(b)
	}
	sum := sha256.Sum256(fp.Bytes())
	if old := e.reg.Load(); !e.ready.Load() || !bytes.Equal(old.fingerprint, sum[:]) {
		e.reg.Store(&registry{byName: byName, fingerprint: sum[:]})
		e.mcp.SetTools(serverTools...)
	}
	e.epoch.Store(ep)
	e.ready.Store(true)
	return nil
}

// notifyToolsChanged tells every open session to list tools again.
func (e *endpoint) notifyToolsChanged() {
	e.mcp.SendNotificationToAllClients(mcp.MethodNotificationToolsListChanged, nil)
}

// filter keeps the tools whose workflow the principal may execute — at list time
// and, with one tool, at call time. No principal, no tools.
func (e *endpoint) filter(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
	p := principalFrom(ctx)
	if p == nil {
		return nil
	}
	reg := e.reg.Load()
	out := make([]mcp.Tool, 0, len(tools))
	for _, t := range tools {
		wfID, ok := reg.byName[t.Name]
		if ok && e.s.svc.CanExecute(ctx, p, wfID) == nil {
			out = append(out, t)
		}
	}
	return out
}

// toolNames derives unique MCP tool names: the sanitized workflow name for the oldest
// workflow of that name, the name plus a suffix derived from the workflow id for the
// others.
func toolNames(tools []core.Tool) []string {
	order := make([]int, len(tools))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		wa, wb := tools[a].Workflow, tools[b].Workflow
		if c := wa.CreatedAt.Compare(wb.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(wa.ID, wb.ID)
	})
	names := make([]string, len(tools))
	used := map[string]bool{}
	for _, i := range order {
		base := sanitizeToolName(tools[i].Workflow.Name)
		name := base
		if used[name] {
			h := sha256.Sum256([]byte(tools[i].Workflow.ID))
			suffix := "_" + hex.EncodeToString(h[:])[:6]
			name = truncate(base, maxToolName-len(suffix)) + suffix
			for n := 2; used[name]; n++ { // practically unreachable
				s := fmt.Sprintf("%s_%d", suffix, n)
				name = truncate(base, maxToolName-len(s)) + s
			}
		}
		used[name] = true
		names[i] = name
	}
	return names
}

const maxToolName = 64

// sanitizeToolName: lowercase, [a-z0-9_-] only, spaces and other separators → "_",
// runs collapsed, trimmed, at most 64 characters, "workflow" when nothing is left.
func sanitizeToolName(name string) string {
	var b strings.Builder
	lastSep := true
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			lastSep = false
		case r == '-' && !lastSep:
			b.WriteRune('-')
			lastSep = false
		default:
			if !lastSep {
				b.WriteByte('_')
				lastSep = true
			}
		}
	}
	s := strings.Trim(b.String(), "_-")
	s = strings.Trim(truncate(s, maxToolName), "_-")
	if s == "" {
		return "workflow"
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// buildTool describes a deployed workflow as an MCP tool.
func buildTool(name string, t core.Tool) mcp.Tool {
	tool := mcp.NewToolWithRawSchema(name, toolDescription(t.Workflow), inputSchema(t.Inputs))
	f := false
	open := t.Outbound
	tool.Annotations = mcp.ToolAnnotation{
		Title:           t.Workflow.Name,
		ReadOnlyHint:    &f,
		DestructiveHint: &f,
		IdempotentHint:  &f,
		OpenWorldHint:   &open,
	}
	return tool
}

func toolDescription(wf *store.Workflow) string {
	d := strings.TrimSpace(wf.Description)
	if d == "" || strings.EqualFold(d, "New workflow") || d == wf.Name {
		return fmt.Sprintf("Run the SteelEngine workflow %q.", wf.Name)
	}
	return d
}

// inputSchema is the JSON schema of the start block's input format: required only
// when a field has no default.
func inputSchema(inputs []engine.InputField) json.RawMessage {
	props := make(map[string]any, len(inputs))
	required := []string{}
	for _, f := range inputs {
		p := map[string]any{}
		switch schemaType(f.Type) {
		case "array":
			p["type"] = "array"
			if f.Type == "files" {
				p["items"] = map[string]any{"type": "object", "properties": map[string]any{
					"name": map[string]any{"type": "string"}, "url": map[string]any{"type": "string"},
					"type": map[string]any{"type": "string"}, "size": map[string]any{"type": "number"}}}
			} else {
				p["items"] = map[string]any{}
			}
		default:
			p["type"] = schemaType(f.Type)
		}
		desc := f.Description
		if desc == "" {
			desc = f.Name
		}
		p["description"] = desc
		if f.HasDefault {
			p["default"] = f.Default
		} else {
			required = append(required, f.Name)
		}
		props[f.Name] = p
	}
	b, _ := json.Marshal(map[string]any{"type": "object", "properties": props, "required": required})
	return b
}

func schemaType(t string) string {
	switch t {
	case "string", "number", "boolean", "object", "array":
		return t
	case "files", "file[]":
		return "array"
	}
	return "string"
}

// validateArgs checks arguments against the input format; the message names the
// offending field.
func validateArgs(inputs []engine.InputField, args map[string]any) string {
	for _, f := range inputs {
		v, ok := args[f.Name]
		if !ok || v == nil {
			if !f.HasDefault {
				return fmt.Sprintf("Missing required argument %q", f.Name)
			}
			continue
		}
		want := schemaType(f.Type)
		good := true
		switch want {
		case "string":
			_, good = v.(string)
		case "number":
			switch v.(type) {
			case float64, float32, int, int64, json.Number:
			default:
				good = false
			}
		case "boolean":
			_, good = v.(bool)
		case "object":
			_, good = v.(map[string]any)
		case "array":
			_, good = v.([]any)
		}
		if !good {
			return fmt.Sprintf("Argument %q must be %s %s", f.Name, article(want), want)
		}
	}
	return ""
}

func article(t string) string {
	if t == "array" || t == "object" {
		return "an"
	}
	return "a"
}

// callHandler runs the workflow's deployed version for the calling principal.
func (e *endpoint) callHandler(wfID string, inputs []engine.InputField) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
		defer func() {
			if v := recover(); v != nil {
				e.s.log.Error("panic in MCP tool call", "workflow", wfID, "panic", v)
				res, err = mcp.NewToolResultError("Internal error while running the workflow"), nil
			}
		}()
		p := principalFrom(ctx)
		if p == nil {
			return mcp.NewToolResultError(auth.InvalidKeyMessage), nil
		}
		var args map[string]any
		switch a := req.Params.Arguments.(type) {
		case nil:
			args = map[string]any{}
		case map[string]any:
			args = a
		default:
			return mcp.NewToolResultError("Arguments must be a JSON object"), nil
		}
		if msg := validateArgs(inputs, args); msg != "" {
			return mcp.NewToolResultError(msg), nil
		}
		var hooks engine.Hooks
		progressSent := false
		if req.Params.Meta != nil && req.Params.Meta.ProgressToken != nil {
			token := req.Params.Meta.ProgressToken
			n := 0
			hooks.OnBlockEnd = func(ev engine.BlockEvent) {
				n++
				msg := ev.BlockName
				if msg == "" {
					msg = ev.BlockID
				}
				if ev.Error != "" {
					msg += " failed"
				} else {
					msg += " finished"
				}
				if e.mcp.SendNotificationToClient(ctx, "notifications/progress", map[string]any{
					"progressToken": token, "progress": n, "message": msg,
				}) == nil {
					progressSent = true
				}
			}
			// Agents stream their replies; each piece is a progress message, in order.
			hooks.StreamBlock = func(string, string) bool { return true }
			hooks.OnChunk = func(c engine.BlockChunk) {
				n++
				if e.mcp.SendNotificationToClient(ctx, "notifications/progress", map[string]any{
					"progressToken": token, "progress": n, "message": c.Chunk,
				}) == nil {
					progressSent = true
				}
			}
		}
		// A run that pauses hands out resume links under --public-url (relative without it).
		run, err := e.s.svc.Execute(ctx, p, core.RunRequest{WorkflowID: wfID, Input: args, Trigger: store.TriggerMCP, Hooks: hooks,
			BaseURL: strings.TrimRight(e.s.cfg.PublicURL, "/")})
		if progressSent {
			settleNotifications(ctx)
		}
		if err != nil {
			return mcp.NewToolResultError(callErrorMessage(err)), nil
		}
		return runResult(run), nil
	}
}

// runResult is the tool result of a finished run: its output as JSON text and
// structuredContent; a failed run is isError with its message.
func runResult(run *core.Run) *mcp.CallToolResult {
	r := run.Result
	if r == nil || !r.Success {
		body := map[string]any{"success": false, "executionId": run.Execution.ID}
		msg := "Workflow failed"
		if r != nil {
			body["error"] = r.Error
			body["output"] = r.Output
			if r.Error != "" {
				msg = r.Error
			}
		} else if run.Execution.Error != "" {
			msg = run.Execution.Error
			body["error"] = msg
		}
		text, _ := json.MarshalIndent(body, "", "  ")
		res := mcp.NewToolResultError(msg)
		res.Content = append(res.Content, mcp.NewTextContent(string(text)))
		return res
	}
	var out any = r.Output
	if r.Response != nil {
		out = map[string]any{"data": r.Response.Body, "status": r.Response.Status, "headers": r.Response.Headers}
	}
	if out == nil || isNilMap(out) {
		out = map[string]any{}
	}
	text, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return mcp.NewToolResultError("Workflow output is not JSON")
	}
	res := mcp.NewToolResultStructured(out, string(text))
	res.Meta = mcp.NewMetaFromMap(map[string]any{"executionId": run.Execution.ID})
	return res
}

func isNilMap(v any) bool {
	m, ok := v.(map[string]any)
	return ok && m == nil
}

// callErrorMessage is what the model sees when a run could not start.
func callErrorMessage(err error) string {
	var ae *auth.Error
	var ce *core.Error
	switch {
	case errors.As(err, &ae):
		return ae.Message
	case errors.As(err, &ce):
		return ce.Message
	case errors.Is(err, context.Canceled):
		return "Request cancelled"
	}
	return "Internal error while running the workflow"
}

// settleNotifications gives the transport a moment to forward queued progress
// notifications before the response ends the request stream (mcp-go v1.2.1 can
// drop a notification that is still in flight when the response is written).
func settleNotifications(ctx context.Context) {
	sess := server.ClientSessionFromContext(ctx)
	if sess == nil {
		return
	}
	ch := sess.NotificationChannel()
	deadline := time.Now().Add(200 * time.Millisecond)
	for len(ch) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(2 * time.Millisecond)
}
