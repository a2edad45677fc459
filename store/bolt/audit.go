package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/steelengine/steelengine/store"
)

// AddAudit appends audit events in one transaction.
func (s *Store) AddAudit(ctx context.Context, evs ...*store.AuditEvent) error {
	if len(evs) == 0 {
		return nil
	}
	return s.update(ctx, func(w *writer) error {
		for _, ev := range evs {
			if ev.ID == "" {
				ev.ID = store.NewID()
			}
			if ev.Time.IsZero() {
				ev.Time = now()
			}
			if err := putJSON(w.tx.Bucket(bAudit), []byte(ev.ID), ev); err != nil {
				return err
			}
			if ev.KeyID != "" {
				if err := w.tx.Bucket(bAuditByKey).Put(ckey(ev.KeyID, ev.ID), nil); err != nil {
					return err
				}
			}
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
	var out []*store.AuditEvent
	err := s.view(ctx, func(r *Reader) error {
		audit := r.tx.Bucket(bAudit)
		var ids []string
		if keyID == "" {
			c := audit.Cursor()
			for k, _ := c.Last(); k != nil && len(ids) < limit; k, _ = c.Prev() {
				ids = append(ids, string(k))
			}
		} else {
			all, err := idsUnder(r.tx.Bucket(bAuditByKey), keyID)
			if err != nil {
				return err
			}
			for i := len(all) - 1; i >= 0 && len(ids) < limit; i-- {
				ids = append(ids, all[i])
			}
		}
		for _, id := range ids {
			ev := new(store.AuditEvent)
			if err := json.Unmarshal(audit.Get([]byte(id)), ev); err != nil {
				return fmt.Errorf("decode audit event %s: %w", id, err)
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

func decodeGrant(v []byte) (store.Grant, error) {
	var g store.Grant
	if err := json.Unmarshal(v, &g); err != nil {
		return g, fmt.Errorf("decode grant: %w", err)
	}
	return g, nil
}
