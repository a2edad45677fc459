package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/storetest"
	bbolt "go.etcd.io/bbolt"
)

var logBase = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func openLogs(t testing.TB, opts LogOptions) (*LogDB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "logs.db")
	l, err := OpenLogDB(path, opts)
	if err != nil {
		t.Fatalf("open logs: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func newExec(ws, wf string, at time.Time, status string) *store.Execution {
	level := "info"
	if status == store.StatusFailed {
		level = "error"
	}
	return &store.Execution{
		ID: store.NewID(), WorkspaceID: ws, WorkflowID: wf, Trigger: store.TriggerAPI,
		Status: status, Level: level, StartedAt: at,
	}
}

func mustPut(t testing.TB, l *LogDB, e *store.Execution) {
	t.Helper()
	if err := l.Put(context.Background(), e); err != nil {
		t.Fatalf("put %s: %v", e.ID, err)
	}
}

func TestLogReopenAndSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "logs.db")
	l, err := OpenLogDB(path, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []*store.Execution
	for i := range 20 {
		e := newExec("ws", "wf", logBase.Add(time.Duration(i)*time.Minute), store.StatusCompleted)
		e.RunID = fmt.Sprintf("run-%d", i)
		mustPut(t, l, e)
		want = append(want, e)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(ctx, newExec("ws", "wf", logBase, store.StatusRunning)); err == nil {
		t.Error("put after close succeeded")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("logs.db mode = %v, %v", st.Mode().Perm(), err)
	}
	l, err = OpenLogDB(path, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range want {
		got, err := l.Get(ctx, e.ID)
		if err != nil || got.RunID != e.RunID {
			t.Fatalf("after reopen get %s = %+v, %v", e.ID, got, err)
		}
	}
	if n, _ := l.Count(ctx); n != len(want) {
		t.Errorf("count after reopen = %d", n)
	}
	l.Close()

	// A file stamped by a newer build is refused.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bMeta).Put(kSchema, []byte{0, 0, 0, 99})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenLogDB(path, LogOptions{}); !errors.Is(err, store.ErrNewerSchema) {
		t.Errorf("open newer schema err = %v", err)
	}
}

// TestLogListScanBound: a tiny scan bound returns short pages with cursors but still
// visits everything exactly once (the suite's ListFiltersAndPaging states the rest).
func TestLogListScanBound(t *testing.T) {
	l, _ := openLogs(t, LogOptions{})
	all := storetest.LogFixture(t, l, 300)
	l.maxScan = 5
	for _, tc := range storetest.LogQueries(all) {
		q := tc.Query
		q.Limit = 4
		got, _ := storetest.PageLogs(t, l, q)
		if want := storetest.ExpectedLogs(all, tc.Query); !slices.Equal(got, want) {
			t.Errorf("%s with scan bound: paged %d items, want %d", tc.Name, len(got), len(want))
		}
	}
}

func TestLogTruncationCap(t *testing.T) {
	ctx := context.Background()
	const capBytes = 16 << 10
	l, _ := openLogs(t, LogOptions{MaxRecordBytes: capBytes})
	big := func(n int) json.RawMessage {
		b, _ := json.Marshal(strings.Repeat("x", n))
		return b
	}
	// A huge output becomes a note that fits the configured cap (the suite states the
	// rules at the default cap).
	e2 := newExec("ws", "wf", logBase, store.StatusCompleted)
	e2.BlockLogs, e2.Output, e2.Input = big(1<<10), big(1<<20), json.RawMessage(`{"q":1}`)
	mustPut(t, l, e2)
	got, err := l.Get(ctx, e2.ID)
	if err != nil || !got.Truncated || got.BlockLogs != nil || string(got.Input) != `{"q":1}` {
		t.Fatalf("output truncation = %+v, %v", got, err)
	}
	var note string
	if err := json.Unmarshal(got.Output, &note); err != nil || !strings.Contains(note, "truncated") {
		t.Errorf("output note = %s (%v)", got.Output, err)
	}
	data, _ := json.Marshal(got)
	if len(data) > capBytes {
		t.Errorf("stored record is %d bytes, cap %d", len(data), capBytes)
	}
	// A small record is untouched.
	e3 := newExec("ws", "wf", logBase, store.StatusCompleted)
	e3.BlockLogs = json.RawMessage(`[1,2]`)
	mustPut(t, l, e3)
	if got, _ := l.Get(ctx, e3.ID); got.Truncated || string(got.BlockLogs) != `[1,2]` {
		t.Errorf("small record = %+v", got)
	}
}

func TestLogConcurrentPutsDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "logs.db")
	l, err := OpenLogDB(path, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Go(func() {
			for i := range 20 {
				e := newExec("ws", fmt.Sprintf("wf%d", g%5), logBase.Add(time.Duration(g*20+i)*time.Millisecond), store.StatusRunning)
				mustPut(t, l, e)
				e.Status = store.StatusCompleted
				mustPut(t, l, e)
				mu.Lock()
				all = append(all, e.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	commits := l.batch.Commits()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("2000 puts in %d commits", commits)
	l, err = OpenLogDB(path, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n, _ := l.Count(ctx); n != 1000 {
		t.Errorf("count after reopen = %d, want 1000", n)
	}
	for _, id := range all {
		if e, err := l.Get(ctx, id); err != nil || e.Status != store.StatusCompleted {
			t.Fatalf("get %s = %+v, %v", id, e, err)
		}
	}
	m, _ := l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws"})
	if len(m) != 1 || m[0].Count != 1000 {
		t.Errorf("metrics = %+v", m)
	}
}

func TestLogSecondOpenLocked(t *testing.T) {
	_, path := openLogs(t, LogOptions{})
	start := time.Now()
	_, err := OpenLogDB(path, LogOptions{LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open err = %v, want ErrLocked", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("second open took %v", el)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
}

func TestLogBackup(t *testing.T) {
	ctx := context.Background()
	l, _ := openLogs(t, LogOptions{})
	storetest.LogFixture(t, l, 50)
	var buf bytes.Buffer
	n, err := l.Backup(ctx, &buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("backup = %d, %v", n, err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := OpenLogDB(path, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, _ := c.Count(ctx); got != 50 {
		t.Errorf("backup holds %d executions", got)
	}
}

func TestLogRollupEncoding(t *testing.T) {
	var r rollup
	r.Count, r.Errors, r.Cost = 5, 2, 1.25
	r.Hist[3], r.Hist[100] = 4, 1
	var d rollup
	if err := d.decode(r.encode()); err != nil || d != r {
		t.Errorf("rollup round trip = %+v, %v", d, err)
	}
}

func benchExec(i int64) *store.Execution {
	e := newExec("ws", fmt.Sprintf("wf%d", i%10), logBase.Add(time.Duration(i)*time.Millisecond), store.StatusCompleted)
	e.DurationMs = i % 5000
	e.Input = json.RawMessage(`{"customer":"acme","amount":42}`)
	e.Output = json.RawMessage(`{"result":"ok","items":[1,2,3,4,5,6,7,8,9,10]}`)
	e.BlockLogs = json.RawMessage(`[` + strings.Repeat(`{"block":"agent","ms":12,"ok":true},`, 20) + `{}]`)
	return e
}

func BenchmarkLogPut(b *testing.B) {
	for _, par := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", par), func(b *testing.B) {
			l, _ := openLogs(b, LogOptions{})
			var n atomic.Int64
			b.SetParallelism(par)
			b.ReportAllocs()
			b.ResetTimer()
			start := l.batch.Commits()
			if par == 1 {
				for b.Loop() {
					mustPut(b, l, benchExec(n.Add(1)))
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						mustPut(b, l, benchExec(n.Add(1)))
					}
				})
			}
			b.StopTimer()
			if c := l.batch.Commits() - start; c > 0 {
				b.ReportMetric(float64(n.Load())/float64(c), "recs/commit")
			}
		})
	}
}

func BenchmarkLogList(b *testing.B) {
	ctx := context.Background()
	l, _ := openLogs(b, LogOptions{})
	const total = 20_000
	var wg sync.WaitGroup
	var n atomic.Int64
	for range 64 {
		wg.Go(func() {
			for {
				i := n.Add(1)
				if i > total {
					return
				}
				e := benchExec(i)
				if i%20 == 0 {
					e.Status, e.Level = store.StatusFailed, "error"
				}
				mustPut(b, l, e)
			}
		})
	}
	wg.Wait()
	for _, tc := range []struct {
		name string
		q    store.LogQuery
	}{
		{"workspace-100", store.LogQuery{WorkspaceID: "ws", Limit: 100}},
		{"workflow-100", store.LogQuery{WorkspaceID: "ws", WorkflowIDs: []string{"wf3"}, Limit: 100}},
		{"3-workflows-100", store.LogQuery{WorkspaceID: "ws", WorkflowIDs: []string{"wf1", "wf3", "wf5"}, Limit: 100}},
		{"errors-100", store.LogQuery{WorkspaceID: "ws", Level: "error", Limit: 100}},
	} {
		b.Run(tc.name, func(b *testing.B) {
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
	b.Run("metrics", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
