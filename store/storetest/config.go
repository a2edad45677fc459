package storetest

import (
	"testing"

	"github.com/steelengine/steelengine/store"
)

// testConfigEpoch: every committed change to what a run reads before it starts
// (environment variables, model providers, external MCP servers) moves ConfigEpoch, so a
// run cache stamped with it goes stale at once; a write that fails moves nothing, and
// none of them moves the auth or workflow epochs.
func testConfigEpoch(t *testing.T, open Opener) {
	s := open(t)
	u, ws := ownerAndWorkspace(t, s, "cfg@x.io")
	prov := &store.ModelProvider{WorkspaceID: ws.ID, Name: "openai", Kind: "openai"}
	ext := &store.ExternalMCPServer{WorkspaceID: ws.ID, Name: "search", URL: "https://mcp.example.com/mcp"}
	for _, c := range []struct {
		name  string
		write func() error
		moves bool
	}{
		{"set workspace variable", func() error {
			return s.SetEnvVar(ctx, &store.EnvVar{WorkspaceID: ws.ID, Name: "A", Ciphertext: []byte("x")})
		}, true},
		{"set personal variable", func() error {
			return s.SetEnvVar(ctx, &store.EnvVar{UserID: u.ID, Name: "A", Ciphertext: []byte("x")})
		}, true},
		{"set a variable of no workspace", func() error {
			return s.SetEnvVar(ctx, &store.EnvVar{WorkspaceID: "nope", Name: "A", Ciphertext: []byte("x")})
		}, false},
		{"delete workspace variable", func() error { return s.DeleteEnvVar(ctx, ws.ID, "A") }, true},
		{"delete it again", func() error { return s.DeleteEnvVar(ctx, ws.ID, "A") }, false},
		{"delete personal variable", func() error { return s.DeleteUserEnvVar(ctx, u.ID, "A") }, true},
		{"put provider", func() error { return s.PutModelProvider(ctx, prov) }, true},
		{"list providers", func() error { _, err := s.ModelProviders(ctx, ws.ID); return err }, false},
		{"delete provider", func() error { return s.DeleteModelProvider(ctx, ws.ID, prov.ID) }, true},
		{"delete unknown provider", func() error { return s.DeleteModelProvider(ctx, ws.ID, "nope") }, false},
		{"put external MCP server", func() error { return s.PutExternalMCPServer(ctx, ext) }, true},
		{"delete external MCP server", func() error { return s.DeleteExternalMCPServer(ctx, ws.ID, ext.ID) }, true},
		{"delete unknown external MCP server", func() error { return s.DeleteExternalMCPServer(ctx, ws.ID, "nope") }, false},
	} {
		c0, a0, w0 := s.ConfigEpoch(), s.AuthEpoch(), s.WorkflowEpoch()
		err := c.write()
		if c.moves && err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if moved := s.ConfigEpoch() != c0; moved != c.moves {
			t.Errorf("%s (err %v): config epoch moved %v, want %v", c.name, err, moved, c.moves)
		}
		if s.AuthEpoch() != a0 || s.WorkflowEpoch() != w0 {
			t.Errorf("%s: moved the auth or workflow epoch", c.name)
		}
	}
}
