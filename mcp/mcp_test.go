package mcp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

func connect(t testing.TB, url, key string, opts ...transport.StreamableHTTPCOption) *client.Client {
	t.Helper()
	ctx := context.Background()
	opts = append(opts, transport.WithHTTPHeaders(map[string]string{"X-API-Key": key}))
	c, err := client.NewStreamableHttpClient(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "steelengine-test", Version: "0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func toolNames(t testing.TB, c *client.Client) []string {
	t.Helper()
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

func call(t testing.TB, c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, error) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	return c.CallTool(context.Background(), req)
}

func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestToolsPerKey(t *testing.T) {
	e := testenv.New(t)
	url := e.URL + "/mcp"
	cases := []struct {
		name string
		key  string
		want []string
	}{
		{"personal admin", e.AdminKey, []string{"echo", "greet"}},
		{"personal member", e.MemberKey, []string{"echo", "greet"}},
		{"personal outsider", e.OutsiderKey, nil},
		{"workspace", e.WSKey, []string{"echo", "greet"}},
		{"workspace read", e.WSReadKey, nil},
		{"workspace narrowed", e.WSNarrowKey, []string{"echo"}},
		{"org", e.OrgKey, []string{"echo", "greet"}},
		{"org workflow grant", e.OrgWorkflowKey, []string{"echo"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, url, tc.key)
			if got := toolNames(t, c); !slices.Equal(got, tc.want) {
				t.Fatalf("tools = %v, want %v", got, tc.want)
			}
			for _, tool := range []string{"echo", "greet"} {
				res, err := call(t, c, tool, map[string]any{"message": "hi"})
				if !slices.Contains(tc.want, tool) {
					if err == nil || !strings.Contains(err.Error(), "not found") {
						t.Fatalf("call %s outside grants: res=%v err=%v, want tool not found", tool, res, err)
					}
					continue
				}
				if err != nil || res.IsError {
					t.Fatalf("call %s: %v %s", tool, err, text(res))
				}
			}
		})
	}
}

func TestToolShapeAndCall(t *testing.T) {
	e := testenv.New(t)
	c := connect(t, e.URL+"/mcp", e.WSKey)
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var echo mcp.Tool
	for _, tl := range res.Tools {
		if tl.Name == "echo" {
			echo = tl
		}
	}
	b, _ := json.Marshal(echo)
	var doc struct {
		Description string `json:"description"`
		InputSchema struct {
			Type       string                    `json:"type"`
			Properties map[string]map[string]any `json:"properties"`
			Required   []string                  `json:"required"`
		} `json:"inputSchema"`
		Annotations map[string]any `json:"annotations"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Description == "" || doc.InputSchema.Type != "object" ||
		doc.InputSchema.Properties["message"]["type"] != "string" || doc.InputSchema.Properties["count"]["type"] != "number" ||
		!slices.Equal(doc.InputSchema.Required, []string{"message"}) {
		t.Fatalf("echo tool = %s", b)
	}
	for _, h := range []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} {
		if v, ok := doc.Annotations[h]; !ok || v != false {
			t.Fatalf("annotation %s = %v (%s)", h, v, b)
		}
	}

	out, err := call(t, c, "echo", map[string]any{"message": "hello", "count": 3})
	if err != nil || out.IsError {
		t.Fatalf("call: %v %s", err, text(out))
	}
	sc, _ := json.Marshal(out.StructuredContent)
	if !strings.Contains(string(sc), `"message":"hello"`) || !strings.Contains(text(out), "hello") {
		t.Fatalf("structured %s text %s", sc, text(out))
	}

	g, err := call(t, c, "greet", nil)
	if err != nil || g.IsError {
		t.Fatalf("greet: %v %s", err, text(g))
	}
	if gs, _ := json.Marshal(g.StructuredContent); !strings.Contains(string(gs), "Hello World! 4 5") {
		t.Fatalf("greet output %s", gs)
	}

	// Argument validation names the field.
	bad, err := call(t, c, "echo", map[string]any{"count": 2})
	if err != nil || !bad.IsError || !strings.Contains(text(bad), "message") {
		t.Fatalf("missing arg: %v %+v", err, bad)
	}
	bad, err = call(t, c, "echo", map[string]any{"message": "x", "count": "many"})
	if err != nil || !bad.IsError || !strings.Contains(text(bad), "count") {
		t.Fatalf("wrong type: %v %+v", err, bad)
	}
}

func TestBearerAndRawAuth(t *testing.T) {
	e := testenv.New(t)
	c, err := client.NewStreamableHttpClient(e.URL+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + e.WSKey}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Start(context.Background())
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	if _, err := c.Initialize(context.Background(), init); err != nil {
		t.Fatalf("bearer initialize: %v", err)
	}

	for _, key := range []string{"", "sk-steelengine-nope", e.WSKey + "x"} {
		resp := rawInit(t, e.URL+"/mcp", key, nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" ||
			!strings.Contains(string(body), `"code":"invalid_api_key"`) {
			t.Fatalf("key %q: %d %q %s", key, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	}
}

func rawInit(t testing.TB, url, key string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func keyID(t testing.TB, e *testenv.Env, key string) string {
	t.Helper()
	p, err := e.App.Resolver.Resolve(context.Background(), key, "", auth.TransportHTTP)
	if err != nil {
		t.Fatal(err)
	}
	return p.KeyID
}

func TestRevocationAndGrantsTakeEffect(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()

	c := connect(t, e.URL+"/mcp", e.OrgKey)
	if got := toolNames(t, c); !slices.Equal(got, []string{"echo", "greet"}) {
		t.Fatalf("before: %v", got)
	}
	// Narrow the org key's grants to Echo: greet disappears and cannot be called.
	if err := e.App.Store.SetKeyGrants(ctx, keyID(t, e, e.OrgKey),
		[]store.Grant{{TargetType: store.TargetWorkflow, TargetID: e.Echo.ID, Level: store.LevelWrite}}); err != nil {
		t.Fatal(err)
	}
	if got := toolNames(t, c); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("after grant change: %v", got)
	}
	if _, err := call(t, c, "greet", nil); err == nil {
		t.Fatal("greet still callable after grant removal")
	}

	// Revoke the workspace key: the next request of an open session is refused.
	w := connect(t, e.URL+"/mcp", e.WSKey)
	toolNames(t, w)
	if _, err := e.App.Resolver.RevokeKey(ctx, auth.Operator(), keyID(t, e, e.WSKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ListTools(ctx, mcp.ListToolsRequest{}); err == nil {
		t.Fatal("revoked key still lists tools")
	}
	resp := rawInit(t, e.URL+"/mcp", e.WSKey, nil)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("revoked key initialize: %d", resp.StatusCode)
	}
}

func TestPersonalKeysDisabled(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	if _, err := e.App.Store.UpdateWorkspace(ctx, e.WS.ID, func(ws *store.Workspace) error {
		ws.AllowPersonalKeys = false
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	resp := rawInit(t, e.URL+"/mcp", e.MemberKey, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "personal_keys_disabled") {
		t.Fatalf("personal key, disabled: %d %s", resp.StatusCode, body)
	}
	// Workspace keys are unaffected.
	resp = rawInit(t, e.URL+"/mcp", e.WSKey, nil)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("workspace key: %d", resp.StatusCode)
	}
}

func TestHostAndOrigin(t *testing.T) {
	e := testenv.New(t)
	for _, tc := range []struct {
		hdr  map[string]string
		want int
	}{
		{map[string]string{"Host": "evil.example.com", "Origin": "http://evil.example.com"}, 403},
		{map[string]string{"Origin": "http://evil.example.com"}, 403},
		{map[string]string{"Origin": e.URL}, 200},
		{nil, 200},
	} {
		resp := rawInit(t, e.URL+"/mcp", e.WSKey, tc.hdr)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("%v: %d, want %d", tc.hdr, resp.StatusCode, tc.want)
		}
	}
}

func TestProgressNotifications(t *testing.T) {
	e := testenv.New(t)
	c := connect(t, e.URL+"/mcp", e.WSKey)
	var mu sync.Mutex
	var got []mcp.JSONRPCNotification
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" {
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		}
	})
	req := mcp.CallToolRequest{}
	req.Params.Name = "greet"
	req.Params.Meta = &mcp.Meta{ProgressToken: "p-1"}
	res, err := c.CallTool(context.Background(), req)
	if err != nil || res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 2 {
		t.Fatalf("progress notifications: %d, want one per finished block (>=2)", len(got))
	}
	for i, n := range got {
		if n.Params.AdditionalFields["progressToken"] != "p-1" || n.Params.AdditionalFields["progress"] != float64(i+1) {
			t.Fatalf("notification %d: %+v", i, n.Params.AdditionalFields)
		}
	}
}

func TestResources(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	c := connect(t, e.URL+"/mcp", e.WSReadKey)
	tpl, err := c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
	if err != nil || len(tpl.ResourceTemplates) != 2 {
		t.Fatalf("templates: %v %+v", err, tpl)
	}
	read := func(uri string) (string, error) {
		req := mcp.ReadResourceRequest{}
		req.Params.URI = uri
		res, err := c.ReadResource(ctx, req)
		if err != nil {
			return "", err
		}
		return res.Contents[0].(mcp.TextResourceContents).Text, nil
	}
	doc, err := read("steelengine://workflows/" + e.Echo.ID)
	if err != nil || !strings.Contains(doc, `"inputSchema"`) || !strings.Contains(doc, `"message"`) {
		t.Fatalf("workflow resource: %v %s", err, doc)
	}
	other := &store.Workflow{WorkspaceID: e.OtherWS.ID, Name: "Secret", Draft: testenv.Workflow(t, "greet.json")}
	if err := e.App.Store.CreateWorkflow(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := read("steelengine://workflows/" + other.ID); err == nil {
		t.Fatal("read a workflow outside the key's reach")
	}

	// An execution logged by an MCP call is readable as a resource.
	w := connect(t, e.URL+"/mcp", e.WSKey)
	res, err := call(t, w, "greet", nil)
	if err != nil || res.IsError || res.Meta == nil {
		t.Fatalf("greet: %v %+v", err, res)
	}
	execID, _ := res.Meta.AdditionalFields["executionId"].(string)
	if execID == "" {
		t.Fatalf("no executionId in %+v", res.Meta)
	}
	log, err := read("steelengine://executions/" + execID)
	if err != nil {
		t.Fatalf("execution resource: %v", err)
	}
	if !strings.Contains(log, `"trigger": "mcp"`) {
		t.Fatalf("execution resource: %s", log)
	}
}

func TestToolsListChangedNotification(t *testing.T) {
	e := testenv.New(t)
	c := connect(t, e.URL+"/mcp", e.WSKey, transport.WithContinuousListening())
	changed := make(chan struct{}, 10)
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == mcp.MethodNotificationToolsListChanged {
			changed <- struct{}{}
		}
	})
	if got := toolNames(t, c); len(got) != 2 {
		t.Fatalf("tools: %v", got)
	}
	time.Sleep(100 * time.Millisecond) // let the GET stream open
	if _, err := e.App.Service.Undeploy(context.Background(), auth.Operator(), e.Echo.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no notifications/tools/list_changed after undeploy")
	}
	if got := toolNames(t, c); !slices.Equal(got, []string{"greet"}) {
		t.Fatalf("after undeploy: %v", got)
	}
}

func TestServeEndpoint(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	m := &store.MCPServer{WorkspaceID: e.WS.ID, Name: "Echo only", WorkflowIDs: []string{e.Echo.ID}}
	if err := e.App.Service.CreateMCPServer(ctx, auth.Operator(), m); err != nil {
		t.Fatal(err)
	}
	url := e.URL + "/api/mcp/serve/" + m.ID
	c := connect(t, url, e.WSKey)
	if got := toolNames(t, c); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("serve tools: %v", got)
	}
	if _, err := call(t, c, "greet", nil); err == nil {
		t.Fatal("greet callable through a server object without it")
	}
	if res, err := call(t, c, "echo", map[string]any{"message": "m"}); err != nil || res.IsError {
		t.Fatalf("echo: %v %+v", err, res)
	}
	// Resources on a server object stay within its workflows.
	for id, want := range map[string]bool{e.Echo.ID: true, e.Greet.ID: false} {
		req := mcp.ReadResourceRequest{}
		req.Params.URI = "steelengine://workflows/" + id
		if _, err := c.ReadResource(ctx, req); (err == nil) != want {
			t.Errorf("resource %s on server object: err %v", id, err)
		}
	}
	resp := rawInit(t, url, e.OutsiderKey, nil)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("outsider on server object: %d", resp.StatusCode)
	}
	resp = rawInit(t, e.URL+"/api/mcp/serve/nope", e.WSKey, nil)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown server object: %d", resp.StatusCode)
	}
}
