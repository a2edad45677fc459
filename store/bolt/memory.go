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

// eachPage is how many records an Each walk reads per transaction: a conversation holds
// up to MaxConversationMessages messages, so pages stay small.
const eachPage = 32

// EachConversation calls fn with every stored conversation, ordered by workspace and
// id, a page at a time outside any transaction; see store.Conversations.
func (s *Store) EachConversation(ctx context.Context, fn func(c *store.Conversation) error) error {
	var after []byte
	for {
		var page []*store.Conversation
		err := s.view(ctx, func(r *Reader) error {
			c := r.tx.Bucket(bMemory).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); k != nil && string(k) == string(after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(page) < eachPage; k, v = c.Next() {
				conv, err := decodeJSON[store.Conversation](v)
				if err != nil {
					return err
				}
				page = append(page, conv)
				after = append(after[:0:0], k...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, c := range page {
			if err := fn(c); err != nil {
				return err
			}
		}
		if len(page) < eachPage {
			return nil
		}
	}
}

// PutConversation stores c as it is, its update time included; see store.Conversations.
func (s *Store) PutConversation(ctx context.Context, c *store.Conversation) error {
	if err := c.Check(); err != nil {
		return err
	}
	return s.update(ctx, func(w *writer) error {
		return putJSON(w.tx.Bucket(bMemory), ckey(c.WorkspaceID, c.ID), c)
	})
}
