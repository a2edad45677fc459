package bolt

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
)

// Conversation returns the memory of conversation id in wsID (empty when none).
func (s *Store) Conversation(ctx context.Context, wsID, id string) (c *store.Conversation, err error) {
	err = s.view(ctx, func(r *Reader) error {
		c, err = getJSON[store.Conversation](r.tx.Bucket(bMemory), ckey(wsID, id))
		return err
	})
	if err == store.ErrNotFound {
		return &store.Conversation{WorkspaceID: wsID, ID: id}, nil
	}
	return c, err
}

// UpdateConversation applies fn to the conversation's messages in one transaction,
// so concurrent runs of the same conversation do not lose each other's turns.
func (s *Store) UpdateConversation(ctx context.Context, wsID, id string, fn func(msgs []store.MemoryMessage) []store.MemoryMessage) error {
	return s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bMemory)
		c, err := getJSON[store.Conversation](b, ckey(wsID, id))
		if err == store.ErrNotFound {
			c, err = &store.Conversation{WorkspaceID: wsID, ID: id}, nil
		}
		if err != nil {
			return err
		}
		c.Messages = fn(c.Messages)
		if n := len(c.Messages); n > store.MaxConversationMessages {
			c.Messages = c.Messages[n-store.MaxConversationMessages:]
		}
		c.UpdatedAt = now()
		return putJSON(b, ckey(wsID, id), c)
	})
}

// PruneConversations deletes conversations not updated since before; it returns how
// many it deleted. Retention calls it with the execution log age.
func (s *Store) PruneConversations(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bMemory)
		var old [][]byte
		err := b.ForEach(func(k, v []byte) error {
			c, err := decodeJSON[store.Conversation](v)
			if err != nil {
				return err
			}
			if c.UpdatedAt.Before(before) {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	return n, err
}
