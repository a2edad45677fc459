package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func testExternalMCP(t *testing.T, open Opener) {
	t.Run("PutListDelete", func(t *testing.T) {
		s := open(t)
		_, ws := ownerAndWorkspace(t, s, "ext@x.io")
		_, other := ownerAndWorkspace(t, s, "ext2@x.io")
		a := &store.ExternalMCPServer{WorkspaceID: ws.ID, Name: " search ", URL: "https://mcp.example.com/mcp",
			HeaderNames: []string{"Authorization"}, HeadersSealed: []byte("sealed"), CreatedBy: "u1", CreatedAt: t0.Add(time.Hour)}
		b := &store.ExternalMCPServer{WorkspaceID: ws.ID, Name: "docs", URL: "https://docs.example.com/mcp", CreatedAt: t0}
		for _, m := range []*store.ExternalMCPServer{a, b} {
			wantErr(t, "put "+m.Name, s.PutExternalMCPServer(ctx, m), nil)
		}
		if a.ID == "" || a.Name != "search" {
			t.Fatalf("put = %+v", a)
		}
		now := &store.ExternalMCPServer{WorkspaceID: other.ID, Name: "search", URL: "https://x.example.com"}
		wantErr(t, "same name elsewhere", s.PutExternalMCPServer(ctx, now), nil)
		if now.CreatedAt.IsZero() {
			t.Error("no creation time")
		}
		for _, c := range []struct {
			name string
			m    *store.ExternalMCPServer
			want error
		}{
			{"duplicate name, other case", &store.ExternalMCPServer{WorkspaceID: ws.ID, Name: "SEARCH", URL: "https://y"}, store.ErrConflict},
			// Names fold as Go's strings.EqualFold does, whatever the database's ctype: ſ (long s) is an s.
			{"duplicate name, folded", &store.ExternalMCPServer{WorkspaceID: ws.ID, Name: "\u017Fearch", URL: "https://y"}, store.ErrConflict},
			{"unknown workspace", &store.ExternalMCPServer{WorkspaceID: "nope", Name: "x", URL: "https://y"}, store.ErrNotFound},
			{"no name", &store.ExternalMCPServer{WorkspaceID: ws.ID, Name: " ", URL: "https://y"}, store.ErrInvalid},
			{"no URL", &store.ExternalMCPServer{WorkspaceID: ws.ID, Name: "x"}, store.ErrInvalid},
			{"no workspace", &store.ExternalMCPServer{Name: "x", URL: "https://y"}, store.ErrInvalid},
		} {
			if err := s.PutExternalMCPServer(ctx, c.m); !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		l, err := s.ExternalMCPServers(ctx, ws.ID)
		if err != nil || len(l) != 2 || l[0].ID != b.ID || l[1].ID != a.ID {
			t.Fatalf("list (oldest first) = %+v %v", l, err)
		}
		got := l[1]
		if got.WorkspaceID != ws.ID || got.Name != "search" || got.URL != a.URL || !slices.Equal(got.HeaderNames, []string{"Authorization"}) ||
			string(got.HeadersSealed) != "sealed" || got.CreatedBy != "u1" || !got.CreatedAt.Equal(a.CreatedAt) {
			t.Errorf("stored = %+v", got)
		}
		// Replacing by id keeps one record.
		a.URL, a.Name = "https://mcp2.example.com/mcp", "Search"
		wantErr(t, "replace", s.PutExternalMCPServer(ctx, a), nil)
		if l, _ := s.ExternalMCPServers(ctx, ws.ID); len(l) != 2 || l[1].URL != a.URL || l[1].Name != "Search" {
			t.Errorf("after replace = %+v", l)
		}
		wantErr(t, "delete", s.DeleteExternalMCPServer(ctx, ws.ID, a.ID), nil)
		wantErr(t, "second delete", s.DeleteExternalMCPServer(ctx, ws.ID, a.ID), store.ErrNotFound)
		wantErr(t, "delete through another workspace", s.DeleteExternalMCPServer(ctx, other.ID, b.ID), store.ErrNotFound)
		if l, _ := s.ExternalMCPServers(ctx, ws.ID); len(l) != 1 || l[0].ID != b.ID {
			t.Errorf("after delete = %+v", l)
		}
		if l, err := s.ExternalMCPServers(ctx, "no-such-ws"); err != nil || len(l) != 0 {
			t.Errorf("unknown workspace = %+v %v", l, err)
		}
	})

	t.Run("ConcurrentNames", func(t *testing.T) {
		s := open(t)
		_, ws := ownerAndWorkspace(t, s, "ext-race@x.io")
		oneWins(t, "one name raced", 8, store.ErrConflict, func(i int) error {
			return s.PutExternalMCPServer(ctx, &store.ExternalMCPServer{WorkspaceID: ws.ID, Name: fmt.Sprintf("Tool%c", "sS"[i%2]), URL: "https://t"})
		})
	})
}
