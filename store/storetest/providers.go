package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func testProviders(t *testing.T, open Opener) {
	t.Run("PutListDelete", func(t *testing.T) {
		s := open(t)
		_, ws := ownerAndWorkspace(t, s, "prov@x.io")
		_, other := ownerAndWorkspace(t, s, "prov2@x.io")
		a := &store.ModelProvider{WorkspaceID: ws.ID, Name: " openai ", Kind: "openai", BaseURL: "https://api.openai.com/v1",
			DefaultModel: "gpt-4o", IsDefault: true, TimeoutMs: 30000, KeySealed: []byte("ct"), CreatedBy: "u1", CreatedAt: t0.Add(time.Hour)}
		b := &store.ModelProvider{WorkspaceID: ws.ID, Name: "anthropic", Kind: "anthropic", Models: []string{"claude-*", "sonnet"}, CreatedAt: t0}
		for _, p := range []*store.ModelProvider{a, b} {
			wantErr(t, "put "+p.Name, s.PutModelProvider(ctx, p), nil)
		}
		if a.ID == "" || a.Name != "openai" || a.UpdatedAt.IsZero() {
			t.Fatalf("put = %+v", a)
		}
		// Another workspace may use the same name.
		wantErr(t, "same name elsewhere", s.PutModelProvider(ctx, &store.ModelProvider{WorkspaceID: other.ID, Name: "openai", Kind: "openai", IsDefault: true}), nil)
		for _, c := range []struct {
			name string
			p    *store.ModelProvider
			want error
		}{
			{"duplicate name, other case", &store.ModelProvider{WorkspaceID: ws.ID, Name: "OpenAI", Kind: "openai"}, store.ErrConflict},
			{"unknown workspace", &store.ModelProvider{WorkspaceID: "nope", Name: "x"}, store.ErrNotFound},
			{"no name", &store.ModelProvider{WorkspaceID: ws.ID, Name: "  "}, store.ErrInvalid},
			{"no workspace", &store.ModelProvider{Name: "x"}, store.ErrInvalid},
		} {
			if err := s.PutModelProvider(ctx, c.p); !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		// Oldest first: b was created before a.
		ps, err := s.ModelProviders(ctx, ws.ID)
		if err != nil || len(ps) != 2 || ps[0].ID != b.ID || ps[1].ID != a.ID {
			t.Fatalf("list = %+v %v", ps, err)
		}
		got := ps[1]
		if got.Name != "openai" || got.Kind != "openai" || got.BaseURL != a.BaseURL || got.DefaultModel != "gpt-4o" || !got.IsDefault ||
			got.TimeoutMs != 30000 || string(got.KeySealed) != "ct" || got.CreatedBy != "u1" || !got.CreatedAt.Equal(a.CreatedAt) ||
			!got.UpdatedAt.Truncate(time.Microsecond).Equal(a.UpdatedAt.Truncate(time.Microsecond)) || !slices.Equal(ps[0].Models, []string{"claude-*", "sonnet"}) {
			t.Errorf("stored = %+v / %+v", got, ps[0])
		}

		// Making b the default clears a's flag, in that workspace only.
		b.IsDefault = true
		wantErr(t, "make b default", s.PutModelProvider(ctx, b), nil)
		ps, _ = s.ModelProviders(ctx, ws.ID)
		if len(ps) != 2 || !ps[0].IsDefault || ps[1].IsDefault || string(ps[1].KeySealed) != "ct" {
			t.Fatalf("after default moved = %+v", ps)
		}
		if ps, _ := s.ModelProviders(ctx, other.ID); len(ps) != 1 || !ps[0].IsDefault {
			t.Errorf("default of another workspace cleared: %+v", ps)
		}
		// Replacing keeps one record and may keep its own name in another case.
		b.Name, b.Models = "Anthropic", nil
		wantErr(t, "replace", s.PutModelProvider(ctx, b), nil)
		ps, _ = s.ModelProviders(ctx, ws.ID)
		if len(ps) != 2 || ps[0].Name != "Anthropic" || len(ps[0].Models) != 0 {
			t.Errorf("after replace = %+v", ps)
		}

		wantErr(t, "delete", s.DeleteModelProvider(ctx, ws.ID, a.ID), nil)
		wantErr(t, "second delete", s.DeleteModelProvider(ctx, ws.ID, a.ID), store.ErrNotFound)
		wantErr(t, "delete through another workspace", s.DeleteModelProvider(ctx, other.ID, b.ID), store.ErrNotFound)
		if ps, _ := s.ModelProviders(ctx, ws.ID); len(ps) != 1 || ps[0].ID != b.ID {
			t.Fatalf("after delete = %+v", ps)
		}
		if ps, err := s.ModelProviders(ctx, "no-such-ws"); err != nil || len(ps) != 0 {
			t.Errorf("unknown workspace = %+v %v", ps, err)
		}
	})

	t.Run("ConcurrentPuts", func(t *testing.T) {
		s := open(t)
		_, ws := ownerAndWorkspace(t, s, "prov-race@x.io")
		const n = 8
		// n providers made default at once: exactly one stays the default.
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := &store.ModelProvider{WorkspaceID: ws.ID, Name: fmt.Sprintf("p%d", i), Kind: "openai", IsDefault: true}
				if err := s.PutModelProvider(ctx, p); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		ps, err := s.ModelProviders(ctx, ws.ID)
		defaults := 0
		for _, p := range ps {
			if p.IsDefault {
				defaults++
			}
		}
		if err != nil || len(ps) != n || defaults != 1 {
			t.Fatalf("%d providers, %d defaults, %v: want %d and 1", len(ps), defaults, err, n)
		}
		// n creators of one name: exactly one wins, the others conflict.
		oneWins(t, "one name raced", n, store.ErrConflict, func(i int) error {
			return s.PutModelProvider(ctx, &store.ModelProvider{WorkspaceID: ws.ID, Name: fmt.Sprintf("Same%c", "eE"[i%2]), Kind: "openai"})
		})
	})
}
