package mcp_test

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/internal/testenv"
)

func TestStdio(t *testing.T) {
	e := testenv.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if err := e.App.MCP.ServeStdio(ctx, "sk-steelengine-bad", "", nil, io.Discard); err == nil {
		t.Fatal("stdio with a bad key started")
	}

	inR, inW := io.Pipe()   // client → server
	outR, outW := io.Pipe() // server → client
	done := make(chan error, 1)
	go func() {
		done <- e.App.MCP.ServeStdio(ctx, e.WSNarrowKey, "", inR, outW)
		outW.Close()
	}()
	c := client.NewClient(transport.NewIO(outR, inW, io.NopCloser(nil)))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	if got := toolNames(t, c); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("stdio tools: %v", got)
	}
	res, err := call(t, c, "echo", map[string]any{"message": "via stdio"})
	if err != nil || res.IsError {
		t.Fatalf("stdio call: %v %+v", err, res)
	}
	// Revocation reaches a running stdio session on its next request.
	if _, err := e.App.Resolver.RevokeKey(ctx, auth.Operator(), keyID(t, e, e.WSNarrowKey)); err != nil {
		t.Fatal(err)
	}
	if got := toolNames(t, c); len(got) != 0 {
		t.Fatalf("revoked stdio key still sees %v", got)
	}
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeStdio: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeStdio did not return after stdin closed")
	}
}
