package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

const scheduleCols = `workflow_id, block_id, workspace_id, block_name, version, cron, timezone, next_run_at, last_run_at,
	last_execution_id, last_error, created_at`

func scanSchedule(row pgx.Row) (*store.Schedule, error) {
	sc := new(store.Schedule)
	err := row.Scan(&sc.WorkflowID, &sc.BlockID, &sc.WorkspaceID, &sc.BlockName, &sc.Version, &sc.Cron, &sc.Timezone,
		&sc.NextRunAt, &sc.LastRunAt, &sc.LastExecutionID, &sc.LastError, &sc.CreatedAt)
	if err != nil {
		return nil, err
	}
	sc.NextRunAt, sc.CreatedAt, sc.LastRunAt = sc.NextRunAt.UTC(), sc.CreatedAt.UTC(), utcPtr(sc.LastRunAt)
	return sc, nil
}

// Schedules returns every stored schedule, ordered by workflow then block id.
func (s *Store) Schedules(ctx context.Context) ([]*store.Schedule, error) {
	return queryList(ctx, s.pool, "schedules", scanSchedule,
		`SELECT `+scheduleCols+` FROM schedules ORDER BY workflow_id COLLATE "C", block_id COLLATE "C"`)
}

// SyncSchedules replaces the stored schedules by want. For each wanted entry, merge
// gets the stored one under the same workflow and block (nil if none) and returns what
// to store, or nil to leave the stored entry as it is. Stored entries missing from want
// are deleted. Replicas syncing at once take turns (an advisory lock), so each merge sees
// what the previous sync stored.
func (s *Store) SyncSchedules(ctx context.Context, want []*store.Schedule, merge func(old, new *store.Schedule) *store.Schedule) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('steelengine:schedules', 0))`); err != nil {
			return fmt.Errorf("postgres: lock schedules: %w", err)
		}
		wfs, blocks := make([]string, 0, len(want)), make([]string, 0, len(want))
		for _, sc := range want {
			wfs, blocks = append(wfs, sc.WorkflowID), append(blocks, sc.BlockID)
			old, err := scanSchedule(tx.QueryRow(ctx, `SELECT `+scheduleCols+` FROM schedules WHERE workflow_id = $1 AND block_id = $2`,
				sc.WorkflowID, sc.BlockID))
			if errors.Is(err, pgx.ErrNoRows) {
				old, err = nil, nil
			}
			if err != nil {
				return fmt.Errorf("postgres: read schedule %s/%s: %w", sc.WorkflowID, sc.BlockID, err)
			}
			put := merge(old, sc)
			if put == nil {
				continue
			}
			_, err = tx.Exec(ctx, `INSERT INTO schedules (`+scheduleCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
				ON CONFLICT (workflow_id, block_id) DO UPDATE SET workspace_id = EXCLUDED.workspace_id, block_name = EXCLUDED.block_name,
					version = EXCLUDED.version, cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, next_run_at = EXCLUDED.next_run_at,
					last_run_at = EXCLUDED.last_run_at, last_execution_id = EXCLUDED.last_execution_id,
					last_error = EXCLUDED.last_error, created_at = EXCLUDED.created_at`,
				sc.WorkflowID, sc.BlockID, put.WorkspaceID, put.BlockName, put.Version, put.Cron, put.Timezone, put.NextRunAt,
				put.LastRunAt, put.LastExecutionID, put.LastError, put.CreatedAt)
			if err != nil {
				return fmt.Errorf("postgres: store schedule %s/%s: %w", sc.WorkflowID, sc.BlockID, err)
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM schedules s WHERE NOT EXISTS (
			SELECT 1 FROM unnest($1::text[], $2::text[]) AS w (wf, block) WHERE w.wf = s.workflow_id AND w.block = s.block_id)`, wfs, blocks)
		if err != nil {
			return fmt.Errorf("postgres: delete stale schedules: %w", err)
		}
		return nil
	})
}

// ClaimSchedule takes the fire that was due at due: only while the stored NextRunAt is
// still due (nobody took it), it records now as LastRunAt and next as NextRunAt, in one
// transaction. It reports whether the fire is the caller's to run.
//
// One UPDATE is the whole claim: concurrent claimers on any replica queue on the row lock,
// and each later one re-checks next_run_at against the row the winner wrote, finds it moved
// and updates nothing.
func (s *Store) ClaimSchedule(ctx context.Context, wfID, blockID string, due, now, next time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE schedules SET last_run_at = $4, next_run_at = $5, last_execution_id = '', last_error = ''
		WHERE workflow_id = $1 AND block_id = $2 AND next_run_at = $3`, wfID, blockID, due, now.UTC(), next.UTC())
	if err != nil {
		return false, fmt.Errorf("postgres: claim schedule %s/%s: %w", wfID, blockID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// RecordScheduleRun notes the execution a claimed fire started, or why it could not.
func (s *Store) RecordScheduleRun(ctx context.Context, wfID, blockID, execID, errMsg string) error {
	_, err := s.pool.Exec(ctx, `UPDATE schedules SET last_execution_id = $3, last_error = $4 WHERE workflow_id = $1 AND block_id = $2`,
		wfID, blockID, execID, errMsg)
	if err != nil {
		return fmt.Errorf("postgres: record schedule run %s/%s: %w", wfID, blockID, err)
	}
	return nil
}
