package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

// Conversation returns the memory of conversation id in wsID (empty when none).
func (s *Store) Conversation(ctx context.Context, wsID, id string) (c *store.Conversation, err error) {
	c = &store.Conversation{WorkspaceID: wsID, ID: id}
	var msgs []byte
	err = s.pool.QueryRow(ctx, `SELECT messages, updated_at FROM conversations WHERE workspace_id = $1 AND id = $2`, wsID, id).
		Scan(&msgs, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read conversation %q: %w", id, err)
	}
	if err := json.Unmarshal(msgs, &c.Messages); err != nil {
		return nil, fmt.Errorf("postgres: decode conversation %q: %w", id, err)
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, nil
}

// UpdateConversation applies fn to the conversation's messages in one transaction,
// so concurrent runs of the same conversation do not lose each other's turns: the row is
// created if missing, then locked (FOR UPDATE) while fn runs, so a second run waits and
// then sees the first one's turns.
func (s *Store) UpdateConversation(ctx context.Context, wsID, id string, fn func(msgs []store.MemoryMessage) []store.MemoryMessage) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		t := pgTime(time.Now().UTC())
		_, err := tx.Exec(ctx, `INSERT INTO conversations (workspace_id, id, messages, updated_at) VALUES ($1, $2, 'null', $3)
			ON CONFLICT (workspace_id, id) DO NOTHING`, wsID, id, t)
		if err != nil {
			return fmt.Errorf("postgres: create conversation %q: %w", id, err)
		}
		var raw []byte
		err = tx.QueryRow(ctx, `SELECT messages FROM conversations WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, wsID, id).Scan(&raw)
		if err != nil {
			return fmt.Errorf("postgres: lock conversation %q: %w", id, err)
		}
		var msgs []store.MemoryMessage
		if err := json.Unmarshal(raw, &msgs); err != nil {
			return fmt.Errorf("postgres: decode conversation %q: %w", id, err)
		}
		msgs = fn(msgs)
		if n := len(msgs); n > store.MaxConversationMessages {
			msgs = msgs[n-store.MaxConversationMessages:]
		}
		raw, err = json.Marshal(msgs)
		if err != nil {
			return fmt.Errorf("postgres: encode conversation %q: %w", id, err)
		}
		_, err = tx.Exec(ctx, `UPDATE conversations SET messages = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2`,
			wsID, id, raw, pgTime(time.Now().UTC()))
		if err != nil {
			return fmt.Errorf("postgres: save conversation %q: %w", id, err)
		}
		return nil
	})
}

// PruneConversations deletes conversations not updated since before; it returns how
// many it deleted. Retention calls it with the execution log age.
func (s *Store) PruneConversations(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM conversations WHERE updated_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune conversations: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
