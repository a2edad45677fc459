package store

import (
	"context"
	"time"
)

// MaxConversationMessages bounds one stored conversation; older messages are dropped.
const MaxConversationMessages = 1000

// Conversations holds agent memory, one conversation per id and workspace.
type Conversations interface {
	// Conversation returns the memory of conversation id in wsID (empty when none).
	Conversation(ctx context.Context, wsID, id string) (c *Conversation, err error)

	// UpdateConversation applies fn to the conversation's messages in one transaction,
	// so concurrent runs of the same conversation do not lose each other's turns.
	UpdateConversation(ctx context.Context, wsID, id string, fn func(msgs []MemoryMessage) []MemoryMessage) error

	// PruneConversations deletes conversations not updated since before; it returns how
	// many it deleted. Retention calls it with the execution log age.
	PruneConversations(ctx context.Context, before time.Time) (int, error)
}
