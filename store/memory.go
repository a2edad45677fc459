package store

import (
	"context"
	"time"
)

// MaxConversationMessages bounds one stored conversation; older messages are dropped.
const MaxConversationMessages = 1000

// Conversation returns the memory of conversation id in wsID (empty when none).
func (s *Store) Conversation(ctx context.Context, wsID, id string) (c *Conversation, err error) {
	err = s.View(ctx, func(r *Reader) error {
		c, err = getJSON[Conversation](r.tx.Bucket(bMemory), ckey(wsID, id))
		return err
	})
	if err == ErrNotFound {
		return &Conversation{WorkspaceID: wsID, ID: id}, nil
	}
	return c, err
}

// UpdateConversation applies fn to the conversation's messages in one transaction,
// so concurrent runs of the same conversation do not lose each other's turns.
func (s *Store) UpdateConversation(ctx context.Context, wsID, id string, fn func(msgs []MemoryMessage) []MemoryMessage) error {
	return s.update(ctx, func(w *writer) error {
		b := w.tx.Bucket(bMemory)
		c, err := getJSON[Conversation](b, ckey(wsID, id))
		if err == ErrNotFound {
			c, err = &Conversation{WorkspaceID: wsID, ID: id}, nil
		}
		if err != nil {
			return err
		}
		c.Messages = fn(c.Messages)
		if n := len(c.Messages); n > MaxConversationMessages {
			c.Messages = c.Messages[n-MaxConversationMessages:]
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
			c, err := decodeJSON[Conversation](v)
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
