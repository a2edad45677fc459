package storetest

import (
	"fmt"
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
