package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/steelengine/steelengine/store"
)

func testMCPServers(t *testing.T, open Opener) {
	t.Run("CreateGetDelete", func(t *testing.T) {
		s := open(t)
		_, ws := ownerAndWorkspace(t, s, "mcp-create@x.io")
		_, other := ownerAndWorkspace(t, s, "mcp-create2@x.io")
		wf := &store.Workflow{WorkspaceID: ws.ID, Name: "tool"}
		elsewhere := &store.Workflow{WorkspaceID: other.ID, Name: "not here"}
		for _, w := range []*store.Workflow{wf, elsewhere} {
			wantErr(t, "create workflow", s.CreateWorkflow(ctx, w), nil)
		}
		w0, a0 := s.WorkflowEpoch(), s.AuthEpoch()
		m := &store.MCPServer{WorkspaceID: ws.ID, Name: "  tools ", Description: "d", WorkflowIDs: []string{wf.ID}, CreatedBy: "u1"}
		wantErr(t, "create", s.CreateMCPServer(ctx, m), nil)
		if m.ID == "" || m.Name != "tools" || m.CreatedAt.IsZero() || !m.UpdatedAt.Equal(m.CreatedAt) {
			t.Fatalf("created = %+v", m)
		}
		// Tool lists follow the workflow epoch.
		if s.WorkflowEpoch() == w0 || s.AuthEpoch() != a0 {
			t.Errorf("create: workflow epoch %d→%d (want bumped), auth %d→%d (want kept)", w0, s.WorkflowEpoch(), a0, s.AuthEpoch())
		}
		got, err := s.GetMCPServer(ctx, m.ID)
		if err != nil || got.WorkspaceID != ws.ID || got.Name != "tools" || got.Description != "d" || got.CreatedBy != "u1" ||
			!slices.Equal(got.WorkflowIDs, []string{wf.ID}) || !got.CreatedAt.Equal(m.CreatedAt) {
			t.Fatalf("get = %+v %v, want %+v", got, err, m)
		}

		// No workflows is an empty list, not null: clients read workflowIds as an array.
		empty := &store.MCPServer{WorkspaceID: ws.ID, Name: "empty"}
		wantErr(t, "create empty", s.CreateMCPServer(ctx, empty), nil)
		if got, err := s.GetMCPServer(ctx, empty.ID); err != nil || got.WorkflowIDs == nil || len(got.WorkflowIDs) != 0 {
			t.Errorf("server without workflows = %#v %v, want an empty list", got, err)
		}

		for _, c := range []struct {
			name string
			m    *store.MCPServer
			want error
		}{
			{"no name", &store.MCPServer{WorkspaceID: ws.ID, Name: " "}, store.ErrInvalid},
			{"unknown workspace", &store.MCPServer{WorkspaceID: "no-such-ws", Name: "x"}, store.ErrNotFound},
			{"unknown workflow", &store.MCPServer{WorkspaceID: ws.ID, Name: "x", WorkflowIDs: []string{"no-such-wf"}}, store.ErrNotFound},
			{"workflow of another workspace", &store.MCPServer{WorkspaceID: ws.ID, Name: "x", WorkflowIDs: []string{elsewhere.ID}}, store.ErrInvalid},
		} {
			if err := s.CreateMCPServer(ctx, c.m); !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		if l, _ := s.ListMCPServers(ctx, ws.ID); len(l) != 2 {
			t.Errorf("servers after refused creates = %d, want 2", len(l))
		}
		if _, err := s.GetMCPServer(ctx, "no-such-server"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get unknown: %v", err)
		}
		view(t, s, func(r store.Reader) error {
			if got, err := r.MCPServer(m.ID); err != nil || got.Name != "tools" {
				t.Errorf("reader server = %+v %v", got, err)
			}
			if _, err := r.MCPServer("no-such-server"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("reader unknown server: %v", err)
			}
			return nil
		})

		w0 = s.WorkflowEpoch()
		wantErr(t, "delete", s.DeleteMCPServer(ctx, m.ID), nil)
		if s.WorkflowEpoch() == w0 {
			t.Error("delete did not bump the workflow epoch")
		}
		if _, err := s.GetMCPServer(ctx, m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get deleted: %v", err)
		}
		wantErr(t, "second delete", s.DeleteMCPServer(ctx, m.ID), store.ErrNotFound)
		if l, _ := s.ListMCPServers(ctx, ws.ID); len(l) != 1 || l[0].ID != empty.ID {
			t.Errorf("servers after delete = %+v", l)
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		_, ws := ownerAndWorkspace(t, s, "mcp-update@x.io")
		_, other := ownerAndWorkspace(t, s, "mcp-update2@x.io")
		var ids []string
		for _, name := range []string{"a", "b", "c"} {
			w := &store.Workflow{WorkspaceID: ws.ID, Name: name}
			wantErr(t, "create workflow", s.CreateWorkflow(ctx, w), nil)
			ids = append(ids, w.ID)
		}
		elsewhere := &store.Workflow{WorkspaceID: other.ID, Name: "x"}
		wantErr(t, "create workflow", s.CreateWorkflow(ctx, elsewhere), nil)
		m := &store.MCPServer{WorkspaceID: ws.ID, Name: "tools", WorkflowIDs: []string{ids[0]}}
		wantErr(t, "create", s.CreateMCPServer(ctx, m), nil)
		created, _ := s.GetMCPServer(ctx, m.ID)

		w0 := s.WorkflowEpoch()
		got, err := s.UpdateMCPServer(ctx, m.ID, func(m *store.MCPServer) error {
			m.Name, m.Description = " renamed ", "new"
			// The list is stored sorted and without repeats.
			m.WorkflowIDs = []string{ids[2], ids[0], ids[2], ids[1]}
			m.ID, m.WorkspaceID, m.CreatedAt = "moved", other.ID, t0
			return nil
		})
		wantErr(t, "update", err, nil)
		if s.WorkflowEpoch() == w0 {
			t.Error("update did not bump the workflow epoch")
		}
		sorted := slices.Sorted(slices.Values(ids))
		stored, _ := s.GetMCPServer(ctx, m.ID)
		for _, g := range []*store.MCPServer{got, stored} {
			if g.ID != m.ID || g.WorkspaceID != ws.ID || !g.CreatedAt.Equal(created.CreatedAt) || g.Name != "renamed" ||
				g.Description != "new" || !slices.Equal(g.WorkflowIDs, sorted) || g.UpdatedAt.Before(created.UpdatedAt) {
				t.Errorf("after update = %+v, want workflows %v", g, sorted)
			}
		}

		boom := errors.New("boom")
		for _, c := range []struct {
			name string
			id   string
			fn   func(*store.MCPServer) error
			want error
		}{
			{"fn error", m.ID, func(m *store.MCPServer) error { m.Name = "lost"; return boom }, boom},
			{"no name", m.ID, func(m *store.MCPServer) error { m.Name = ""; return nil }, store.ErrInvalid},
			{"workflow of another workspace", m.ID, func(m *store.MCPServer) error {
				m.Name, m.WorkflowIDs = "lost", []string{elsewhere.ID}
				return nil
			}, store.ErrInvalid},
			{"unknown workflow", m.ID, func(m *store.MCPServer) error { m.WorkflowIDs = []string{"no-such-wf"}; return nil }, store.ErrNotFound},
			{"unknown server", "no-such-server", func(*store.MCPServer) error { return nil }, store.ErrNotFound},
		} {
			if _, err := s.UpdateMCPServer(ctx, c.id, c.fn); !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			}
		}
		if g, _ := s.GetMCPServer(ctx, m.ID); g.Name != "renamed" || !slices.Equal(g.WorkflowIDs, sorted) {
			t.Errorf("a refused update was stored: %+v", g)
		}
		// Emptying the list keeps an empty list.
		got, err = s.UpdateMCPServer(ctx, m.ID, func(m *store.MCPServer) error { m.WorkflowIDs = nil; return nil })
		if err != nil || got.WorkflowIDs == nil || len(got.WorkflowIDs) != 0 {
			t.Errorf("emptied = %#v %v", got, err)
		}
		if g, _ := s.GetMCPServer(ctx, m.ID); g.WorkflowIDs == nil || len(g.WorkflowIDs) != 0 {
			t.Errorf("stored emptied = %#v", g)
		}
	})

	t.Run("ListingOrder", func(t *testing.T) {
		s := open(t)
		_, ws1 := ownerAndWorkspace(t, s, "mcp-list1@x.io")
		_, ws2 := ownerAndWorkspace(t, s, "mcp-list2@x.io")
		wsOf := map[string]string{"m-c": ws1.ID, "m-a": ws2.ID, "m-B": ws1.ID, "m-b": ws1.ID}
		for _, id := range []string{"m-c", "m-a", "m-B", "m-b"} {
			wantErr(t, "create", s.CreateMCPServer(ctx, &store.MCPServer{ID: id, WorkspaceID: wsOf[id], Name: id}), nil)
		}
		ids := func(l []*store.MCPServer) (out []string) {
			for _, m := range l {
				out = append(out, m.ID)
			}
			return out
		}
		if l, err := s.ListMCPServers(ctx, ""); err != nil || !slices.Equal(ids(l), []string{"m-B", "m-a", "m-b", "m-c"}) {
			t.Errorf("list all = %v %v", ids(l), err)
		}
		if l, err := s.ListMCPServers(ctx, ws1.ID); err != nil || !slices.Equal(ids(l), []string{"m-B", "m-b", "m-c"}) {
			t.Errorf("list ws1 = %v %v", ids(l), err)
		}
		if l, err := s.ListMCPServers(ctx, "no-such-ws"); err != nil || len(l) != 0 {
			t.Errorf("list unknown workspace = %v %v", ids(l), err)
		}
	})
}
