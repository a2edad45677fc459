package bolt

import (
	"context"
	"errors"
	"testing"

	"github.com/steelengine/steelengine/store"
)

func TestModelProviders(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	u := &store.User{Email: "o@example.com", Name: "O"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	ws := store.NewWorkspace("W", u.ID, "")
	if err := s.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	a := &store.ModelProvider{WorkspaceID: ws.ID, Name: "openai", Kind: "openai", IsDefault: true, KeySealed: []byte("ct")}
	b := &store.ModelProvider{WorkspaceID: ws.ID, Name: "anthropic", Kind: "anthropic", Models: []string{"claude-*"}}
	for _, p := range []*store.ModelProvider{a, b} {
		if err := s.PutModelProvider(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutModelProvider(ctx, &store.ModelProvider{WorkspaceID: ws.ID, Name: "OpenAI", Kind: "openai"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	if err := s.PutModelProvider(ctx, &store.ModelProvider{WorkspaceID: "nope", Name: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown workspace: %v", err)
	}
	// Making b the default clears a's flag.
	b.IsDefault = true
	if err := s.PutModelProvider(ctx, b); err != nil {
		t.Fatal(err)
	}
	ps, err := s.ModelProviders(ctx, ws.ID)
	if err != nil || len(ps) != 2 || ps[0].Name != "openai" || ps[0].IsDefault || !ps[1].IsDefault || string(ps[0].KeySealed) != "ct" {
		t.Fatalf("list %v %+v", err, ps)
	}
	if err := s.DeleteModelProvider(ctx, ws.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteModelProvider(ctx, ws.ID, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if ps, _ := s.ModelProviders(ctx, ws.ID); len(ps) != 1 {
		t.Fatalf("after delete %+v", ps)
	}
}
