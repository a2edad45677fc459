package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func testConversations(t *testing.T, open Opener) {
	t.Run("AppendCapPrune", func(t *testing.T) {
		s := open(t)
		add := func(ws, id string, msgs ...store.MemoryMessage) {
			t.Helper()
			err := s.UpdateConversation(ctx, ws, id, func(old []store.MemoryMessage) []store.MemoryMessage { return append(old, msgs...) })
			wantErr(t, "update conversation", err, nil)
		}
		add("ws1", "c", store.MemoryMessage{Role: "user", Content: "hi"})
		add("ws1", "c", store.MemoryMessage{Role: "assistant", Content: "hello"})
		add("ws2", "c", store.MemoryMessage{Role: "user", Content: "other workspace"})
		c, err := s.Conversation(ctx, "ws1", "c")
		if err != nil || c.WorkspaceID != "ws1" || c.ID != "c" || len(c.Messages) != 2 || c.Messages[0] != (store.MemoryMessage{Role: "user", Content: "hi"}) ||
			c.Messages[1].Content != "hello" || c.UpdatedAt.IsZero() {
			t.Fatalf("%v %+v", err, c)
		}
		if c, _ := s.Conversation(ctx, "ws2", "c"); len(c.Messages) != 1 || c.Messages[0].Content != "other workspace" {
			t.Fatalf("conversations of two workspaces mixed: %+v", c)
		}
		c, err = s.Conversation(ctx, "ws1", "none")
		if err != nil || c == nil || c.WorkspaceID != "ws1" || c.ID != "none" || len(c.Messages) != 0 {
			t.Fatalf("unknown conversation = %+v %v", c, err)
		}
		// fn sees what is stored and its result replaces it.
		err = s.UpdateConversation(ctx, "ws1", "c", func(old []store.MemoryMessage) []store.MemoryMessage {
			if len(old) != 2 {
				t.Errorf("fn got %d messages, want 2", len(old))
			}
			return old[1:]
		})
		wantErr(t, "trim", err, nil)
		if c, _ := s.Conversation(ctx, "ws1", "c"); len(c.Messages) != 1 || c.Messages[0].Content != "hello" {
			t.Fatalf("after trim = %+v", c)
		}

		// The cap keeps the newest messages.
		big := make([]store.MemoryMessage, store.MaxConversationMessages+5)
		for i := range big {
			big[i] = store.MemoryMessage{Role: "user", Content: fmt.Sprint(i)}
		}
		add("ws1", "big", big...)
		c, _ = s.Conversation(ctx, "ws1", "big")
		if len(c.Messages) != store.MaxConversationMessages || c.Messages[0].Content != "5" ||
			c.Messages[len(c.Messages)-1].Content != fmt.Sprint(len(big)-1) {
			t.Fatalf("cap: %d messages, first %q", len(c.Messages), c.Messages[0].Content)
		}

		if n, err := s.PruneConversations(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("prune of nothing old = %d %v", n, err)
		}
		n, err := s.PruneConversations(ctx, time.Now().Add(time.Hour))
		if err != nil || n != 3 {
			t.Fatalf("prune %d %v", n, err)
		}
		if c, _ := s.Conversation(ctx, "ws1", "c"); len(c.Messages) != 0 {
			t.Fatal("pruned conversation still there")
		}
	})

	t.Run("EachAndPut", func(t *testing.T) { testConversationsEachPut(t, open) })

	t.Run("ConcurrentAppends", func(t *testing.T) {
		s := open(t)
		const runs, turns = 8, 5
		var wg sync.WaitGroup
		for r := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range turns {
					err := s.UpdateConversation(ctx, "ws", "shared", func(old []store.MemoryMessage) []store.MemoryMessage {
						return append(old, store.MemoryMessage{Role: "user", Content: fmt.Sprintf("%d/%d", r, i)})
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		c, err := s.Conversation(ctx, "ws", "shared")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, m := range c.Messages {
			seen[m.Content] = true
		}
		if len(c.Messages) != runs*turns || len(seen) != runs*turns {
			t.Fatalf("%d concurrent turns left %d messages (%d distinct): turns were lost", runs*turns, len(c.Messages), len(seen))
		}
	})
}

// testConversationsEachPut is what migrate-store relies on: every conversation can be
// read, a page at a time, and stored back as it was, its update time (which retention
// prunes by) included.
func testConversationsEachPut(t *testing.T, open Opener) {
	s := open(t)
	n := 0
	wantErr(t, "each of none", s.EachConversation(ctx, func(*store.Conversation) error { n++; return nil }), nil)
	if n != 0 {
		t.Fatalf("an empty store walked %d conversations", n)
	}

	for name, c := range map[string]*store.Conversation{
		"no workspace":   {ID: "c", UpdatedAt: t0},
		"no id":          {WorkspaceID: "ws", UpdatedAt: t0},
		"no update time": {WorkspaceID: "ws", ID: "c"},
		"too long":       {WorkspaceID: "ws", ID: "c", UpdatedAt: t0, Messages: make([]store.MemoryMessage, store.MaxConversationMessages+1)},
	} {
		wantErr(t, "put conversation with "+name, s.PutConversation(ctx, c), store.ErrInvalid)
	}

	// More than a page (backends read a few dozen at a time), over three workspaces,
	// put out of order; each dated a minute apart, in the past.
	var want []*store.Conversation
	for _, ws := range []string{"ws-a", "ws-b", "ws-c"} {
		for i := range 30 {
			want = append(want, &store.Conversation{WorkspaceID: ws, ID: fmt.Sprintf("conv-%03d", i),
				Messages:  []store.MemoryMessage{{Role: "user", Content: ws + fmt.Sprint(i)}, {Role: "assistant", Content: "ok"}},
				UpdatedAt: t0.Add(-time.Duration(len(want)) * time.Minute)})
		}
	}
	for i := len(want) - 1; i >= 0; i-- {
		wantErr(t, "put conversation", s.PutConversation(ctx, want[i]), nil)
	}
	var got []*store.Conversation
	wantErr(t, "each conversation", s.EachConversation(ctx, func(c *store.Conversation) error {
		got = append(got, c)
		return nil
	}), nil)
	if len(got) != len(want) {
		t.Fatalf("walked %d conversations, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("conversation %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}

	// Put keeps the update time: retention prunes a copied conversation by its last
	// turn, not by the copy. The newest put is dated t0; everything else is older.
	c, err := s.Conversation(ctx, "ws-a", "conv-000")
	if err != nil || !c.UpdatedAt.Equal(t0) || len(c.Messages) != 2 {
		t.Fatalf("put conversation read back = %+v, %v; want updated at %v", c, err, t0)
	}
	if n, err := s.PruneConversations(ctx, t0.Add(-10*time.Minute).Add(time.Second)); err != nil || n != len(want)-10 {
		t.Fatalf("prune by the put update times = %d, %v; want %d", n, err, len(want)-10)
	}
	// A put replaces the conversation with its workspace and id.
	repl := &store.Conversation{WorkspaceID: "ws-a", ID: "conv-000", Messages: []store.MemoryMessage{{Role: "user", Content: "new"}}, UpdatedAt: t0.Add(time.Hour)}
	wantErr(t, "put over a conversation", s.PutConversation(ctx, repl), nil)
	if c, err := s.Conversation(ctx, "ws-a", "conv-000"); err != nil || !reflect.DeepEqual(c, repl) {
		t.Fatalf("replaced conversation = %+v, %v", c, err)
	}
	// UpdateConversation goes on from a put conversation.
	wantErr(t, "update a put conversation", s.UpdateConversation(ctx, "ws-a", "conv-000", func(old []store.MemoryMessage) []store.MemoryMessage {
		return append(old, store.MemoryMessage{Role: "assistant", Content: "more"})
	}), nil)
	if c, _ := s.Conversation(ctx, "ws-a", "conv-000"); len(c.Messages) != 2 || c.Messages[0].Content != "new" {
		t.Fatalf("update after put = %+v", c)
	}

	// An error from fn stops the walk and comes back.
	stop := errors.New("stop")
	n = 0
	err = s.EachConversation(ctx, func(*store.Conversation) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("each with a failing fn = %v after %d calls; want stop after 1", err, n)
	}
}
