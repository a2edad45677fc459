package store

import "context"

// Audit records who did what to which key (the audit trail).
type Audit interface {
	// AddAudit appends audit events in one transaction.
	AddAudit(ctx context.Context, evs ...*AuditEvent) error

	// ListAudit returns up to limit events for keyID (all events when keyID is empty),
	// newest first.
	ListAudit(ctx context.Context, keyID string, limit int) ([]*AuditEvent, error)
}
