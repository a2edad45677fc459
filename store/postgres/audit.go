package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

// AddAudit appends audit events in one transaction.
func (s *Store) AddAudit(ctx context.Context, evs ...*store.AuditEvent) error {
	if len(evs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, ev := range evs {
		if ev.ID == "" {
			ev.ID = store.NewID()
		}
		if ev.Time.IsZero() {
			ev.Time = pgTime(time.Now().UTC())
		}
		// An id stored again replaces the event, as a bbolt Put does.
		b.Queue(`INSERT INTO audit (id, time, action, key_id, actor_id, workspace_id, org_id, reason, ip, transport)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (id) DO UPDATE SET time = excluded.time, action = excluded.action, key_id = excluded.key_id,
				actor_id = excluded.actor_id, workspace_id = excluded.workspace_id, org_id = excluded.org_id,
				reason = excluded.reason, ip = excluded.ip, transport = excluded.transport`,
			ev.ID, ev.Time, ev.Action, ev.KeyID, ev.ActorID, ev.WorkspaceID, ev.OrgID, ev.Reason, ev.IP, ev.Transport)
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("postgres: add audit events: %w", err)
		}
		return nil
	})
}

// ListAudit returns up to limit events for keyID (all events when keyID is empty),
// newest first.
func (s *Store) ListAudit(ctx context.Context, keyID string, limit int) ([]*store.AuditEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	const cols = `SELECT id, time, action, key_id, actor_id, workspace_id, org_id, reason, ip, transport FROM audit `
	var (
		rows pgx.Rows
		err  error
	)
	// Ids are ULIDs: newest first is descending id, as bbolt walks its bucket.
	if keyID == "" {
		rows, err = s.pool.Query(ctx, cols+`ORDER BY id DESC LIMIT $1`, limit)
	} else {
		rows, err = s.pool.Query(ctx, cols+`WHERE key_id = $1 ORDER BY id DESC LIMIT $2`, keyID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	defer rows.Close()
	var out []*store.AuditEvent
	for rows.Next() {
		ev := new(store.AuditEvent)
		if err := rows.Scan(&ev.ID, &ev.Time, &ev.Action, &ev.KeyID, &ev.ActorID, &ev.WorkspaceID, &ev.OrgID,
			&ev.Reason, &ev.IP, &ev.Transport); err != nil {
			return nil, fmt.Errorf("postgres: list audit: %w", err)
		}
		ev.Time = ev.Time.UTC()
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	return out, nil
}
