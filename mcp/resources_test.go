package mcp_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// Through a server object holding Greet and Echo, a key granted Echo alone sees neither
// Greet's tool nor its resource, nor its id anywhere in what it can read.
func TestServerObjectHidesWorkflowsOutsideGrants(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	m := &store.MCPServer{WorkspaceID: e.WS.ID, Name: "both", WorkflowIDs: []string{e.Greet.ID, e.Echo.ID}}
	if err := e.App.Service.CreateMCPServer(ctx, auth.Operator(), m); err != nil {
		t.Fatal(err)
	}
	c := connect(t, e.URL+"/api/mcp/serve/"+m.ID, e.OrgWorkflowKey)
	if got := toolNames(t, c); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("tools: %v", got)
	}
	read := func(id string) (string, error) {
		req := mcp.ReadResourceRequest{}
		req.Params.URI = "steelengine://workflows/" + id
		res, err := c.ReadResource(ctx, req)
		if err != nil {
			return "", err
		}
		return res.Contents[0].(mcp.TextResourceContents).Text, nil
	}
	if _, err := read(e.Greet.ID); err == nil {
		t.Error("read Greet's resource without a grant on it")
	}
	doc, err := read(e.Echo.ID)
	if err != nil || strings.Contains(doc, e.Greet.ID) {
		t.Errorf("Echo's resource: %v %s", err, doc)
	}
	got, err := e.App.Service.GetMCPServer(ctx, principal(t, e, e.OrgWorkflowKey), m.ID)
	if err != nil || !slices.Equal(got.WorkflowIDs, []string{e.Echo.ID}) {
		t.Errorf("server object as the key sees it: %v %+v", err, got)
	}
}

func principal(t *testing.T, e *testenv.Env, key string) *auth.Principal {
	t.Helper()
	p, err := e.App.Resolver.Resolve(context.Background(), key, "", auth.TransportMCP)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
