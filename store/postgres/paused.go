package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

const pausedCols = `execution_id, workflow_id, workspace_id, version, trigger, trigger_block_id, key_id, user_id, billed_to,
	status, pause_points, resuming_context, paused_at, state`

func scanPaused(row pgx.Row) (*store.PausedRun, error) {
	p := new(store.PausedRun)
	var points []byte
	err := row.Scan(&p.ExecutionID, &p.WorkflowID, &p.WorkspaceID, &p.Version, &p.Trigger, &p.TriggerBlockID, &p.KeyID, &p.UserID,
		&p.BilledTo, &p.Status, &points, &p.ResumingContext, &p.PausedAt, &p.State)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(points, &p.PausePoints); err != nil {
		return nil, fmt.Errorf("decode pause points of %s: %w", p.ExecutionID, err)
	}
	p.PausedAt = p.PausedAt.UTC()
	return p, nil
}

// PutPausedRun saves a paused run (new, or paused again at later blocks after a
// resume), waiting for its resume. next_resume_at is its earliest time pause point, what
// DuePausedRuns orders by.
func (s *Store) PutPausedRun(ctx context.Context, p *store.PausedRun) error {
	if p.ExecutionID == "" {
		return fmt.Errorf("paused run without execution id")
	}
	points, err := json.Marshal(p.PausePoints)
	if err != nil {
		return fmt.Errorf("encode pause points of %s: %w", p.ExecutionID, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO paused_runs (`+pausedCols+`, next_resume_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (execution_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id, workspace_id = EXCLUDED.workspace_id,
			version = EXCLUDED.version, trigger = EXCLUDED.trigger, trigger_block_id = EXCLUDED.trigger_block_id,
			key_id = EXCLUDED.key_id, user_id = EXCLUDED.user_id, billed_to = EXCLUDED.billed_to, status = EXCLUDED.status,
			pause_points = EXCLUDED.pause_points, resuming_context = EXCLUDED.resuming_context, paused_at = EXCLUDED.paused_at,
			state = EXCLUDED.state, next_resume_at = EXCLUDED.next_resume_at`,
		p.ExecutionID, p.WorkflowID, p.WorkspaceID, p.Version, p.Trigger, p.TriggerBlockID, p.KeyID, p.UserID, p.BilledTo,
		p.Status, points, p.ResumingContext, p.PausedAt, p.State, p.NextResumeAt())
	if err != nil {
		return fmt.Errorf("postgres: save paused run %s: %w", p.ExecutionID, err)
	}
	return nil
}

// PausedRun returns the paused run of execution execID.
func (s *Store) PausedRun(ctx context.Context, execID string) (*store.PausedRun, error) {
	return queryOne(ctx, s.pool, "paused run", execID, scanPaused, `SELECT `+pausedCols+` FROM paused_runs WHERE execution_id = $1`, execID)
}

// PausedRuns lists the paused runs of workflow wfID ("" for every workflow), oldest
// execution first.
func (s *Store) PausedRuns(ctx context.Context, wfID string) ([]*store.PausedRun, error) {
	if wfID == "" {
		return queryList(ctx, s.pool, "paused runs", scanPaused, `SELECT `+pausedCols+` FROM paused_runs ORDER BY execution_id COLLATE "C"`)
	}
	return queryList(ctx, s.pool, "paused runs", scanPaused,
		`SELECT `+pausedCols+` FROM paused_runs WHERE workflow_id = $1 ORDER BY execution_id COLLATE "C"`, wfID)
}

// ResumingPausedRuns returns the runs claimed for a resume, oldest execution first.
func (s *Store) ResumingPausedRuns(ctx context.Context) ([]*store.PausedRun, error) {
	return queryList(ctx, s.pool, "resuming paused runs", scanPaused, `SELECT `+pausedCols+` FROM paused_runs
		WHERE status = 'resuming' ORDER BY execution_id COLLATE "C"`)
}

// DuePausedRuns returns the waiting runs with a time pause point due at now, earliest
// first, at most limit of them.
func (s *Store) DuePausedRuns(ctx context.Context, now time.Time, limit int) ([]*store.PausedRun, error) {
	if limit <= 0 {
		return nil, nil
	}
	return queryList(ctx, s.pool, "due paused runs", scanPaused, `SELECT `+pausedCols+` FROM paused_runs
		WHERE status = 'paused' AND next_resume_at IS NOT NULL AND next_resume_at <= $1
		ORDER BY next_resume_at, execution_id COLLATE "C" LIMIT $2`, now, limit)
}

// ClaimPausedRun takes pause point contextID of a waiting run for one resume, in one
// transaction: the run moves to PausedResuming, so a second claim (a second answer,
// the timer racing a person) gets ErrConflict and runs nothing. ErrNotFound: no such
// paused run, or no such pause point. The row lock makes concurrent claimers on any
// replica take turns; each later one sees the run already resuming.
func (s *Store) ClaimPausedRun(ctx context.Context, execID, contextID string) (*store.PausedRun, error) {
	var p *store.PausedRun
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		p, err = queryOne(ctx, tx, "paused run", execID, scanPaused, `SELECT `+pausedCols+` FROM paused_runs WHERE execution_id = $1 FOR UPDATE`, execID)
		if err != nil {
			return err
		}
		if p.Point(contextID) == nil {
			return notFound("pause point", contextID)
		}
		if p.Status != store.PausedWaiting {
			return fmt.Errorf("execution %s is already resuming: %w", execID, store.ErrConflict)
		}
		p.Status, p.ResumingContext = store.PausedResuming, contextID
		_, err = tx.Exec(ctx, `UPDATE paused_runs SET status = $2, resuming_context = $3 WHERE execution_id = $1`, execID, p.Status, contextID)
		if err != nil {
			return fmt.Errorf("postgres: claim paused run %s: %w", execID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// DeletePausedRun removes a paused run (it completed, failed, or was cancelled).
func (s *Store) DeletePausedRun(ctx context.Context, execID string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM paused_runs WHERE execution_id = $1`, execID); err != nil {
		return fmt.Errorf("postgres: delete paused run %s: %w", execID, err)
	}
	return nil
}
