package postgres

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/bolt"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// The logs benchmarks run every case on both backends in one run, so the figures compare
// as ratios (postgres/bolt) on the same machine and load:
//
//	go test ./store/postgres/ -run '^$' -bench 'BenchmarkLogs' -benchtime 2s
//
// bbolt syncs logs.db on every commit. pgtest's throwaway cluster runs with fsync off; for
// durable PostgreSQL figures point STEELENGINE_TEST_DATABASE_URL at a server with the
// production settings. STEELENGINE_BENCH_ROWS=N (e.g. 1000000) adds the query benchmarks
// over N executions; PostgreSQL's copy is generated in SQL, bbolt's through Put, which
// takes far too long past a million: STEELENGINE_BENCH_BACKENDS=postgres (a comma-separated
// list of backend names, bolt and postgres; default both) runs one side only, e.g.
//
//	STEELENGINE_BENCH_BACKENDS=postgres STEELENGINE_BENCH_ROWS=10000000 \
//	    go test ./store/postgres/ -run '^$' -bench 'LogsQuery/rows=10000000' -timeout 3h

var benchBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type benchBackend struct {
	name string
	open func(b *testing.B) (store.Store, func() int64) // the store and its commit count (nil if unknown)
}

// benchOn is the backends STEELENGINE_BENCH_BACKENDS names (default all).
func benchOn(b *testing.B) []benchBackend {
	v := os.Getenv("STEELENGINE_BENCH_BACKENDS")
	if v == "" {
		return benchBackends
	}
	var on []benchBackend
	for name := range strings.SplitSeq(v, ",") {
		i := slices.IndexFunc(benchBackends, func(be benchBackend) bool { return be.name == strings.TrimSpace(name) })
		if i < 0 {
			b.Fatalf("STEELENGINE_BENCH_BACKENDS=%q: %q is not bolt or postgres", v, name)
		}
		on = append(on, benchBackends[i])
	}
	return on
}

var benchBackends = []benchBackend{
	{"bolt", func(b *testing.B) (store.Store, func() int64) {
		s, err := bolt.Open(context.Background(), b.TempDir(), bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s, nil
	}},
	{"postgres", func(b *testing.B) (store.Store, func() int64) {
		s, err := OpenStore(context.Background(), pgtest.URL(b), Options{MaxConns: 16})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s, s.logs.batch.Commits
	}},
}

var benchBlockLogs = json.RawMessage(`[` + strings.Repeat(`{"block":"agent","ms":12,"ok":true},`, 20) + `{}]`)

// benchExec is the i-th of rows executions spread evenly over 30 days in ten workflows of
// one workspace, one in twenty failed (as store/bolt's benchmark records).
func benchExec(i, rows int64) *store.Execution {
	e := &store.Execution{
		ID: store.NewID(), WorkspaceID: "ws", WorkflowID: fmt.Sprintf("wf%d", i%10),
		Trigger: store.TriggerAPI, Status: store.StatusCompleted, Level: "info",
		StartedAt:  benchBase.Add(time.Duration(i) * (30 * 24 * time.Hour / time.Duration(rows))),
		DurationMs: i % 5000,
		Input:      json.RawMessage(`{"customer":"acme","amount":42}`),
		Output:     json.RawMessage(`{"result":"ok","items":[1,2,3,4,5,6,7,8,9,10]}`),
		BlockLogs:  benchBlockLogs,
	}
	if i%20 == 0 {
		e.Status, e.Level = store.StatusFailed, "error"
	}
	return e
}

func benchPut(b *testing.B, l store.Logs, e *store.Execution) {
	if err := l.Put(context.Background(), e); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLogsPut measures acknowledged (committed) Puts per record with 1, 16 and 64
// concurrent writers: group commit batches the concurrent ones.
func BenchmarkLogsPut(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		for _, be := range benchOn(b) {
			b.Run(fmt.Sprintf("writers=%d/%s", writers, be.name), func(b *testing.B) {
				s, commits := be.open(b)
				l := s.Logs()
				var n atomic.Int64
				var c0 int64
				if commits != nil {
					c0 = commits()
				}
				b.ReportAllocs()
				b.ResetTimer()
				if writers == 1 {
					for b.Loop() {
						benchPut(b, l, benchExec(n.Add(1), 1<<20))
					}
				} else {
					b.SetParallelism(max(1, writers/2)) // GOMAXPROCS is 2 here
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							benchPut(b, l, benchExec(n.Add(1), 1<<20))
						}
					})
				}
				b.StopTimer()
				if commits != nil {
					if c := commits() - c0; c > 0 {
						b.ReportMetric(float64(n.Load())/float64(c), "recs/commit")
					}
				}
			})
		}
	}
}

// loadPut fills l with rows benchExec records through Put, 64 writers at a time.
func loadPut(b *testing.B, l store.Logs, rows int64) {
	var wg sync.WaitGroup
	var n atomic.Int64
	for range 64 {
		wg.Go(func() {
			for {
				i := n.Add(1)
				if i > rows {
					return
				}
				benchPut(b, l, benchExec(i, rows))
			}
		})
	}
	wg.Wait()
}

// loadSQL fills PostgreSQL with rows records like benchExec's, and their rollups, in SQL:
// a million Puts would take minutes.
func loadSQL(b *testing.B, s *Store, rows int64) {
	ctx := context.Background()
	step := (30 * 24 * time.Hour / time.Duration(rows)).Microseconds()
	for m := monthOf(benchBase); m <= monthOf(benchBase.Add(31*24*time.Hour)); m++ {
		if err := createPartition(ctx, s.DB, m); err != nil {
			b.Fatal(err)
		}
	}
	ex := func(sql string, args ...any) {
		if _, err := s.pool.Exec(ctx, sql, args...); err != nil {
			b.Fatalf("%.60s: %v", sql, err)
		}
	}
	// Ids as store.NewID makes them: the started_at millisecond in ten base-32 digits, then
	// sixteen more (here the row number), so Get's lookup near the id's time finds them.
	var idTime []string
	for shift := 45; shift >= 0; shift -= 5 {
		idTime = append(idTime, fmt.Sprintf(`substr('0123456789abcdefghjkmnpqrstvwxyz', ((ms >> %d) & 31)::int + 1, 1)`, shift))
	}
	ex(`INSERT INTO executions (id, workspace_id, workflow_id, trigger, status, level, started_at,
			duration_ms, input, output, block_logs)
		SELECT `+strings.Join(idTime, " || ")+` || lpad(i::text, 16, '0'), 'ws', 'wf' || (i % 10), 'api',
			CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'completed' END,
			CASE WHEN i % 20 = 0 THEN 'error' ELSE 'info' END,
			at, i % 5000,
			convert_to('{"customer":"acme","amount":42}', 'UTF8'),
			convert_to('{"result":"ok","items":[1,2,3,4,5,6,7,8,9,10]}', 'UTF8'),
			$4::bytea
		FROM generate_series(1, $1::bigint) i,
			LATERAL (SELECT $2::timestamptz + i * $3 * interval '1 microsecond' AS at) t,
			LATERAL (SELECT (extract(epoch FROM at) * 1000)::bigint AS ms) m`, rows, benchBase, step, []byte(benchBlockLogs))
	// The writer's partition cache learns the months on first write; nothing to do.
	for _, t := range []struct{ table, key string }{{"execution_rollups", "workflow_id"}, {"execution_rollups_ws", "workspace_id"}} {
		ex(`INSERT INTO ` + t.table + ` (` + t.key + `, hour, count, errors, cost, hist, hist_bin)
			SELECT *, logs_hist_sparse(h) FROM (
				SELECT ` + t.key + `, date_trunc('hour', started_at, 'UTC'), count(*),
					count(*) FILTER (WHERE status = 'failed'), sum(cost),
					array_fill(0::bigint, ARRAY[63]) || count(*) || array_fill(0::bigint, ARRAY[64]) AS h
				FROM executions GROUP BY 1, 2) r`)
	}
	ex(`ANALYZE executions`)
	var size string
	if err := s.pool.QueryRow(ctx, `SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid)))
		FROM pg_inherits WHERE inhparent = 'executions'::regclass`).Scan(&size); err == nil {
		b.Logf("executions: %s with indexes", size)
	}
}

var benchQueries = []struct {
	name string
	q    store.LogQuery
}{
	{"workspace-100", store.LogQuery{WorkspaceID: "ws", Limit: 100}},
	{"workflow-100", store.LogQuery{WorkspaceID: "ws", WorkflowIDs: []string{"wf3"}, Limit: 100}},
	{"3-workflows-100", store.LogQuery{WorkspaceID: "ws", WorkflowIDs: []string{"wf1", "wf3", "wf5"}, Limit: 100}},
	{"errors-100", store.LogQuery{WorkspaceID: "ws", Level: "error", Limit: 100}},
}

// BenchmarkLogsQuery measures the logs API's reads over 20,000 executions (and over
// STEELENGINE_BENCH_ROWS when set): a first page, following cursors page after page, and
// metrics over the whole 30 days in hourly and daily buckets.
func BenchmarkLogsQuery(b *testing.B) {
	sizes := []int64{20_000}
	if v := os.Getenv("STEELENGINE_BENCH_ROWS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("STEELENGINE_BENCH_ROWS=%q: want a positive number", v)
		}
		sizes = append(sizes, n)
	}
	for _, rows := range sizes {
		for _, be := range benchOn(b) {
			b.Run(fmt.Sprintf("rows=%d/%s", rows, be.name), func(b *testing.B) {
				s, _ := be.open(b)
				l := s.Logs()
				start := time.Now()
				if ps, ok := s.(*Store); ok && rows > 20_000 {
					loadSQL(b, ps, rows)
				} else {
					loadPut(b, l, rows)
				}
				if ps, ok := s.(*Store); ok {
					// Steady state: autovacuum analyzes busy partitions in production.
					if _, err := ps.pool.Exec(context.Background(), `ANALYZE executions`); err != nil {
						b.Fatal(err)
					}
				}
				b.Logf("loaded %d executions in %v", rows, time.Since(start).Round(time.Millisecond))
				if ps, ok := s.(*Store); ok {
					// The floor under every PostgreSQL figure: one round trip to the server.
					b.Run("round-trip", func(b *testing.B) {
						for b.Loop() {
							var one int
							if err := ps.pool.QueryRow(context.Background(), `SELECT 1`).Scan(&one); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
				benchQueriesOn(b, l)
			})
		}
	}
}

func benchQueriesOn(b *testing.B, l store.Logs) {
	ctx := context.Background()
	for _, tc := range benchQueries {
		b.Run("first-page/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				page, err := l.List(ctx, tc.q)
				if err != nil || len(page.Items) == 0 {
					b.Fatalf("list = %d items, %v", len(page.Items), err)
				}
			}
		})
		b.Run("cursor-page/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var cursor string
			for b.Loop() {
				q := tc.q
				q.Cursor = cursor
				page, err := l.List(ctx, q)
				// A page may come back empty only after a cursor ("may be more").
				if err != nil || (len(page.Items) == 0 && cursor == "") {
					b.Fatalf("list = %d items, %v", len(page.Items), err)
				}
				cursor = page.NextCursor
			}
		})
	}
	b.Run("get", func(b *testing.B) {
		// One id a day across the 30 days, found by a first page from that day.
		var ids []string
		for d := range 30 {
			page, err := l.List(ctx, store.LogQuery{WorkspaceID: "ws", Start: benchBase.AddDate(0, 0, d), Limit: 1, Order: "asc"})
			if err != nil || len(page.Items) == 0 {
				b.Fatalf("list day %d = %+v, %v", d, page, err)
			}
			ids = append(ids, page.Items[0].ID)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := l.Get(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	for _, m := range []struct {
		name string
		q    store.MetricsQuery
	}{
		{"metrics/hourly-30d", store.MetricsQuery{WorkspaceID: "ws"}},
		{"metrics/daily-30d", store.MetricsQuery{WorkspaceID: "ws", Bucket: 24 * time.Hour}},
		{"metrics/3-workflows-daily", store.MetricsQuery{WorkflowIDs: []string{"wf1", "wf3", "wf5"}, Bucket: 24 * time.Hour}},
	} {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				got, err := l.Metrics(ctx, m.q)
				if err != nil || len(got) == 0 {
					b.Fatalf("metrics = %d buckets, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkLogsGet measures Get by id over 24 monthly partitions (1,000 executions each,
// ids made as store.NewID makes them, at their started_at), and Get of an id that is not
// there; on PostgreSQL also the lookup by id alone in every partition (found-every-partition),
// which Get falls back to.
func BenchmarkLogsGet(b *testing.B) {
	const months, perMonth = 24, 1000
	for _, be := range benchOn(b) {
		b.Run(be.name, func(b *testing.B) {
			s, _ := be.open(b)
			l := s.Logs()
			ids := make([]string, 0, months*perMonth)
			var mu sync.Mutex
			var wg sync.WaitGroup
			var n atomic.Int64
			for range 64 {
				wg.Go(func() {
					for {
						i := n.Add(1) - 1
						if i >= months*perMonth {
							return
						}
						e := benchExec(i, perMonth)
						e.StartedAt = benchBase.AddDate(0, int(i/perMonth), 0).Add(time.Duration(i%perMonth) * 40 * time.Minute)
						e.ID = strings.ToLower(ulid.MustNew(ulid.Timestamp(e.StartedAt), rand.Reader).String())
						benchPut(b, l, e)
						mu.Lock()
						ids = append(ids, e.ID)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if ps, ok := s.(*Store); ok {
				if _, err := ps.pool.Exec(context.Background(), `ANALYZE executions`); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			b.Run("found", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := l.Get(ctx, ids[i%len(ids)]); err != nil {
						b.Fatal(err)
					}
					i += 7919 // a prime: ids in no order, every month
				}
			})
			if ps, ok := s.(*Store); ok {
				// What Get cost before it looked near the id's time first.
				b.Run("found-every-partition", func(b *testing.B) {
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						if _, err := ps.logs.getAnywhere(ctx, ids[i%len(ids)]); err != nil {
							b.Fatal(err)
						}
						i += 7919
					}
				})
			}
			b.Run("missing", func(b *testing.B) {
				missing := strings.ToLower(ulid.MustNew(ulid.Timestamp(benchBase.AddDate(1, 0, 0)), rand.Reader).String())
				for b.Loop() {
					if _, err := l.Get(ctx, missing); !errors.Is(err, store.ErrNotFound) {
						b.Fatalf("Get(missing) = %v, want ErrNotFound", err)
					}
				}
			})
		})
	}
}
