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

	// EachConversation calls fn with every stored conversation, ordered by workspace and
	// id, a page at a time and outside any transaction of the store (fn may write
	// elsewhere), so memory stays bounded however many there are; it is no snapshot (a
	// conversation written during the walk may be missed). An error from fn stops the
	// walk and is returned. migrate-store reads agent memory with it (server stopped).
	EachConversation(ctx context.Context, fn func(c *Conversation) error) error

	// PutConversation stores c as it is, replacing the conversation with its workspace
	// and id: unlike UpdateConversation it keeps c.UpdatedAt, which retention prunes by,
	// so a copied conversation ages from its last turn, not from the copy.
	PutConversation(ctx context.Context, c *Conversation) error
}

// Check checks a conversation before PutConversation stores it: a workspace, an id,
// an update time and no more than MaxConversationMessages messages.
func (c *Conversation) Check() error {
	if c.WorkspaceID == "" || c.ID == "" || c.UpdatedAt.IsZero() {
		return invalidf("conversation needs a workspace, an id and an update time")
	}
	if len(c.Messages) > MaxConversationMessages {
		return invalidf("conversation holds %d messages, more than %d", len(c.Messages), MaxConversationMessages)
	}
	return nil
}
