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

// eachPage is how many records an Each walk reads per query: a conversation holds up to
// MaxConversationMessages messages, so pages stay small.
const eachPage = 32

// EachConversation calls fn with every stored conversation, ordered by workspace and
// id, a page at a time (keyset) outside any transaction; see store.Conversations.
func (s *Store) EachConversation(ctx context.Context, fn func(c *store.Conversation) error) error {
	var afterWS, afterID string
	for first := true; ; first = false {
		sql := `SELECT workspace_id, id, messages, updated_at FROM conversations ORDER BY workspace_id, id LIMIT $1`
		args := []any{eachPage}
		if !first {
			sql = `SELECT workspace_id, id, messages, updated_at FROM conversations WHERE (workspace_id, id) > ($2, $3)
				ORDER BY workspace_id, id LIMIT $1`
			args = append(args, afterWS, afterID)
		}
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("postgres: list conversations: %w", err)
		}
		page, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Conversation, error) {
			c := new(store.Conversation)
			var msgs []byte
			if err := row.Scan(&c.WorkspaceID, &c.ID, &msgs, &c.UpdatedAt); err != nil {
				return nil, err
			}
			if err := json.Unmarshal(msgs, &c.Messages); err != nil {
				return nil, fmt.Errorf("decode conversation %q: %w", c.ID, err)
			}
			c.UpdatedAt = c.UpdatedAt.UTC()
			return c, nil
		})
		if err != nil {
			return fmt.Errorf("postgres: list conversations: %w", err)
		}
		for _, c := range page {
			if err := fn(c); err != nil {
				return err
			}
		}
		if len(page) < eachPage {
			return nil
		}
		afterWS, afterID = page[len(page)-1].WorkspaceID, page[len(page)-1].ID
	}
}

// PutConversation stores c as it is, its update time included; see store.Conversations.
func (s *Store) PutConversation(ctx context.Context, c *store.Conversation) error {
	if err := c.Check(); err != nil {
		return err
	}
	raw, err := json.Marshal(c.Messages)
	if err != nil {
		return fmt.Errorf("postgres: encode conversation %q: %w", c.ID, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO conversations (workspace_id, id, messages, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, id) DO UPDATE SET messages = excluded.messages, updated_at = excluded.updated_at`,
		c.WorkspaceID, c.ID, raw, c.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: put conversation %q: %w", c.ID, err)
	}
	return nil
}
