package bolt

import (
	"context"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
)

func TestConversations(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	add := func(ws, id string, msgs ...store.MemoryMessage) {
		t.Helper()
		if err := s.UpdateConversation(ctx, ws, id, func(old []store.MemoryMessage) []store.MemoryMessage { return append(old, msgs...) }); err != nil {
			t.Fatal(err)
		}
	}
	add("ws1", "c", store.MemoryMessage{Role: "user", Content: "hi"})
	add("ws1", "c", store.MemoryMessage{Role: "assistant", Content: "hello"})
	add("ws2", "c", store.MemoryMessage{Role: "user", Content: "other workspace"})
	c, err := s.Conversation(ctx, "ws1", "c")
	if err != nil || len(c.Messages) != 2 || c.Messages[1].Content != "hello" {
		t.Fatalf("%v %+v", err, c)
	}
	if c, _ := s.Conversation(ctx, "ws1", "none"); len(c.Messages) != 0 {
		t.Fatalf("unknown conversation %+v", c)
	}
	// The cap keeps the newest messages.
	big := make([]store.MemoryMessage, store.MaxConversationMessages+5)
	big[len(big)-1] = store.MemoryMessage{Role: "user", Content: "last"}
	add("ws1", "big", big...)
	if c, _ := s.Conversation(ctx, "ws1", "big"); len(c.Messages) != store.MaxConversationMessages || c.Messages[len(c.Messages)-1].Content != "last" {
		t.Fatalf("cap: %d", len(c.Messages))
	}
	n, err := s.PruneConversations(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("prune %d %v", n, err)
	}
	if c, _ := s.Conversation(ctx, "ws1", "c"); len(c.Messages) != 0 {
		t.Fatal("pruned conversation still there")
	}
}
