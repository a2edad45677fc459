package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Replica liveness: every replica upserts its row in replicas every few seconds; the
// rows seen recently count the replicas serving now. Per-key rate limits divide by that
// count (each replica grants its share of a key's limit), so the limit holds across
// replicas without a database round trip per request. The row also lists the runs the
// replica holds outside the job queue (sync runs and resumes), so that the others can
// tell a run whose replica died from one in flight (Queue.Live).

// Heartbeat records that replica id is alive and holds runs, and returns how many
// replicas were seen within alive (this one included) and which of runs another replica
// asked to cancel (Queue.Cancel; normally announced at once through OnCancel). Rows
// silent for ten times alive are deleted.
func (s *Store) Heartbeat(ctx context.Context, id string, runs []string, alive time.Duration) (n int, cancels []string, err error) {
	if runs == nil {
		runs = []string{}
	}
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO replicas (id, started_at, seen_at, runs) VALUES ($1, now(), now(), $2)
			ON CONFLICT (id) DO UPDATE SET seen_at = now(), runs = excluded.runs`, id, runs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM replicas WHERE seen_at < now() - make_interval(secs => $1)`, (10 * alive).Seconds()); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM replicas WHERE seen_at >= now() - make_interval(secs => $1)`, alive.Seconds()).Scan(&n); err != nil {
			return err
		}
		// An ask outlives the beats in which its holder must have seen it, and no more:
		// kept longer, it would cancel a later resume of the same run.
		if _, err := tx.Exec(ctx, `DELETE FROM run_cancels WHERE requested_at < now() - make_interval(secs => $1)`, alive.Seconds()); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT execution_id FROM run_cancels WHERE execution_id = ANY($1)`, runs)
		if err != nil {
			return err
		}
		cancels, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("postgres: replica heartbeat: %w", err)
	}
	return n, cancels, nil
}

// Leave deletes replica id's row, so the others count it out at once on a clean stop.
func (s *Store) Leave(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM replicas WHERE id = $1`, id); err != nil {
		return fmt.Errorf("postgres: replica leave: %w", err)
	}
	return nil
}
