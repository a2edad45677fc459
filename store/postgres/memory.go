package postgres

import (
	"context"
	"time"

	"github.com/steelengine/steelengine/store"
)

func (s *Store) Conversation(ctx context.Context, wsID, id string) (c *store.Conversation, err error) {
	return nil, errTODO
}

func (s *Store) UpdateConversation(ctx context.Context, wsID, id string, fn func(msgs []store.MemoryMessage) []store.MemoryMessage) error {
	return errTODO
}

func (s *Store) PruneConversations(ctx context.Context, before time.Time) (int, error) {
	return 0, errTODO
}
