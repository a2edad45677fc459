package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// The backend-neutral contract of store.Logs is in storetest; these tests check what only
// PostgreSQL has: monthly partitions, dropped whole by retention, across replicas.

func partitionNames(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'executions'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func logExec(month time.Month, day int, status string) *store.Execution {
	return &store.Execution{
		ID: store.NewID(), WorkspaceID: "ws", WorkflowID: "wf", Trigger: store.TriggerAPI,
		Status: status, Level: "info", StartedAt: time.Date(2026, month, day, 12, 0, 0, 0, time.UTC),
	}
}

func TestLogsRetentionDropsWholePartitions(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a, err := OpenStore(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenStore(ctx, url, Options{}) // a second replica on the same database
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	put := func(s *Store, e *store.Execution) {
		t.Helper()
		if err := s.Logs().Put(ctx, e); err != nil {
			t.Fatalf("put %v: %v", e.StartedAt, err)
		}
	}
	for _, m := range []time.Month{1, 2, 3, 4} {
		for d := 1; d <= 3; d++ {
			e := logExec(m, d, store.StatusCompleted)
			e.RunID = e.ID
			put(a, e)
		}
	}
	queued := logExec(2, 10, store.StatusQueued)
	put(a, queued)
	want := []string{"executions_p202601", "executions_p202602", "executions_p202603", "executions_p202604"}
	if got := partitionNames(t, a); !slices.Equal(got, want) {
		t.Fatalf("partitions = %v, want %v", got, want)
	}

	// On replica B: everything before 15 March goes. January is dropped whole; February
	// holds a queued run, so only its finished rows are deleted; March is cut by rows.
	n, err := b.Logs().Retain(ctx, store.Retention{MaxAge: 24 * time.Hour}, time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC))
	if err != nil || n != 9 {
		t.Fatalf("retain = %d, %v; want 9", n, err)
	}
	want = []string{"executions_p202602", "executions_p202603", "executions_p202604"}
	if got := partitionNames(t, a); !slices.Equal(got, want) {
		t.Fatalf("partitions after retain = %v, want %v", got, want)
	}
	var runIDs int
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM execution_run_ids`).Scan(&runIDs); err != nil || runIDs != 3 {
		t.Errorf("run ids left = %d, %v; want 3 (April's)", runIDs, err)
	}
	if got, err := a.Logs().Get(ctx, queued.ID); err != nil || got.Status != store.StatusQueued {
		t.Errorf("queued run after retention = %+v, %v", got, err)
	}

	// Prune drops February too (Prune keeps nothing, as store/bolt's).
	if n, err := b.Logs().Prune(ctx, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want 1", n, err)
	}
	if got := partitionNames(t, a); slices.Contains(got, "executions_p202602") {
		t.Fatalf("partitions after prune = %v", got)
	}

	// Replica A still believes January and February exist: its next writes there
	// recreate them.
	put(a, logExec(1, 20, store.StatusCompleted))
	put(a, logExec(2, 20, store.StatusRunning))
	if c, err := a.Logs().Count(ctx); err != nil || c != 2+3 {
		t.Errorf("count = %d, %v; want 5", c, err)
	}
	// Rollups outlive the partitions: 12 finished runs were recorded, one more since.
	var total int64
	m, err := b.Logs().Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws", Bucket: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range m {
		total += x.Count
	}
	if total != 13 {
		t.Errorf("metrics count %d, want 13", total)
	}
}
