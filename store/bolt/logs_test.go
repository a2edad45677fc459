package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
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

func ids(es []*store.Execution) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func TestLogPutGetOverwrite(t *testing.T) {
	ctx := context.Background()
	l, _ := openLogs(t, LogOptions{})
	e := newExec("ws1", "wf1", logBase, store.StatusRunning)
	e.Input = json.RawMessage(`{"a":1}`)
	mustPut(t, l, e)
	got, err := l.Get(ctx, e.ID)
	if err != nil || got.Status != store.StatusRunning || string(got.Input) != `{"a":1}` || !got.StartedAt.Equal(e.StartedAt) {
		t.Fatalf("get = %+v, %v", got, err)
	}
	end := logBase.Add(1500 * time.Millisecond)
	e.Status, e.EndedAt, e.DurationMs, e.Output, e.Cost = store.StatusCompleted, &end, 1500, json.RawMessage(`"ok"`), 0.25
	mustPut(t, l, e)
	got, err = l.Get(ctx, e.ID)
	if err != nil || got.Status != store.StatusCompleted || got.DurationMs != 1500 || string(got.Output) != `"ok"` || got.Cost != 0.25 {
		t.Fatalf("get after overwrite = %+v, %v", got, err)
	}
	if n, _ := l.Count(ctx); n != 1 {
		t.Errorf("count = %d, want 1", n)
	}
	// Overwrite that moves StartedAt leaves one index entry at the new time.
	e.StartedAt = logBase.Add(time.Hour)
	mustPut(t, l, e)
	page, err := l.List(ctx, store.LogQuery{WorkspaceID: "ws1"})
	if err != nil || len(page.Items) != 1 || !page.Items[0].StartedAt.Equal(e.StartedAt) {
		t.Fatalf("list after move = %+v, %v", page, err)
	}
	page, _ = l.List(ctx, store.LogQuery{WorkflowIDs: []string{"wf1"}, End: logBase.Add(time.Minute)})
	if len(page.Items) != 0 {
		t.Errorf("old index entry still listed: %v", ids(page.Items))
	}
	if _, err := l.Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get missing err = %v", err)
	}
	for _, bad := range []*store.Execution{
		nil,
		{ID: "x", WorkflowID: "wf", StartedAt: logBase},
		{ID: "x", WorkspaceID: "ws", StartedAt: logBase},
		{WorkspaceID: "ws", WorkflowID: "wf", StartedAt: logBase},
		{ID: "x", WorkspaceID: "ws", WorkflowID: "wf"},
		{ID: "x", WorkspaceID: "w\x00s", WorkflowID: "wf", StartedAt: logBase},
	} {
		if err := l.Put(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("put %+v err = %v, want ErrInvalid", bad, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Put(cctx, newExec("ws1", "wf1", logBase, store.StatusRunning)); !errors.Is(err, context.Canceled) {
		t.Errorf("put with cancelled ctx err = %v", err)
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

func TestLogGetByRunID(t *testing.T) {
	ctx := context.Background()
	l, _ := openLogs(t, LogOptions{})
	e := newExec("ws", "wf", logBase, store.StatusRunning)
	e.RunID = "order-42"
	mustPut(t, l, e)
	got, err := l.GetByRunID(ctx, "wf", "order-42")
	if err != nil || got.ID != e.ID {
		t.Fatalf("by run id = %+v, %v", got, err)
	}
	if _, err := l.GetByRunID(ctx, "other-wf", "order-42"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other workflow err = %v", err)
	}
	if _, err := l.GetByRunID(ctx, "wf", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing run err = %v", err)
	}
	dup := newExec("ws", "wf", logBase, store.StatusRunning)
	dup.RunID = "order-42"
	if err := l.Put(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate run id err = %v, want ErrConflict", err)
	}
	e.Status = store.StatusCompleted
	mustPut(t, l, e) // same record, same run id: fine
	e.RunID = "order-43"
	mustPut(t, l, e)
	if _, err := l.GetByRunID(ctx, "wf", "order-42"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old run id still indexed: %v", err)
	}
	if got, err := l.GetByRunID(ctx, "wf", "order-43"); err != nil || got.ID != e.ID {
		t.Errorf("new run id = %+v, %v", got, err)
	}
}

// logFixture is a deterministic data set over two workspaces and four workflows, with
// ties in StartedAt.
func logFixture(t testing.TB, l *LogDB, n int) []*store.Execution {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	wss := []string{"wsA", "wsA", "wsA", "wsB"}
	wfs := []string{"wf1", "wf2", "wf3", "wf4"}
	triggers := []string{store.TriggerAPI, store.TriggerMCP, store.TriggerManual, store.TriggerSchedule}
	statuses := []string{store.StatusCompleted, store.StatusCompleted, store.StatusFailed, store.StatusRunning, store.StatusCancelled}
	var all []*store.Execution
	for i := range n {
		w := rng.IntN(len(wfs))
		at := logBase.Add(time.Duration(rng.IntN(n/2+1)) * time.Minute) // plenty of ties
		e := newExec(wss[w], wfs[w], at, statuses[rng.IntN(len(statuses))])
		e.Trigger = triggers[rng.IntN(len(triggers))]
		e.DurationMs = int64(rng.IntN(5000))
		e.Cost = float64(rng.IntN(100)) / 100
		e.Output = json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
		all = append(all, e)
	}
	var wg sync.WaitGroup
	for _, e := range all {
		wg.Go(func() { mustPut(t, l, e) })
	}
	wg.Wait()
	return all
}

// expected filters and orders all the way List should.
func expected(all []*store.Execution, q store.LogQuery) []string {
	var out []*store.Execution
	for _, e := range all {
		if q.WorkspaceID != "" && e.WorkspaceID != q.WorkspaceID {
			continue
		}
		if q.WorkflowIDs != nil && !slices.Contains(q.WorkflowIDs, e.WorkflowID) {
			continue
		}
		if len(q.Triggers) > 0 && !slices.Contains(q.Triggers, e.Trigger) {
			continue
		}
		if len(q.Statuses) > 0 && !slices.Contains(q.Statuses, e.Status) {
			continue
		}
		if q.Level != "" && e.Level != q.Level {
			continue
		}
		if !q.Start.IsZero() && e.StartedAt.Before(q.Start) || !q.End.IsZero() && !e.StartedAt.Before(q.End) {
			continue
		}
		if q.ExecutionID != "" && e.ID != q.ExecutionID {
			continue
		}
		if q.MinDurationMs != nil && e.DurationMs < *q.MinDurationMs || q.MaxDurationMs != nil && e.DurationMs > *q.MaxDurationMs {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *store.Execution) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if q.Order != "asc" {
		slices.Reverse(out)
	}
	return ids(out)
}

func int64p(v int64) *int64 { return &v }

func listQueries(all []*store.Execution) []struct {
	name string
	q    store.LogQuery
} {
	return []struct {
		name string
		q    store.LogQuery
	}{
		{"workspace", store.LogQuery{WorkspaceID: "wsA"}},
		{"workspace asc", store.LogQuery{WorkspaceID: "wsA", Order: "asc"}},
		{"other workspace", store.LogQuery{WorkspaceID: "wsB"}},
		{"one workflow", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"wf2"}}},
		{"workflow without workspace", store.LogQuery{WorkflowIDs: []string{"wf4"}}},
		{"two workflows", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"wf3", "wf1"}}},
		{"two workflows asc", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"wf1", "wf3", "wf1"}, Order: "asc"}},
		{"foreign workflow filtered by workspace", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"wf1", "wf4"}}},
		{"empty workflow set", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{}}},
		{"unknown workflow", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"nope"}}},
		{"triggers", store.LogQuery{WorkspaceID: "wsA", Triggers: []string{store.TriggerMCP, store.TriggerSchedule}}},
		{"level error", store.LogQuery{WorkspaceID: "wsA", Level: "error"}},
		{"level info asc", store.LogQuery{WorkspaceID: "wsA", Level: "info", Order: "asc"}},
		{"statuses", store.LogQuery{WorkspaceID: "wsA", Statuses: []string{store.StatusRunning, store.StatusCancelled}}},
		{"time range", store.LogQuery{WorkspaceID: "wsA", Start: logBase.Add(20 * time.Minute), End: logBase.Add(60 * time.Minute)}},
		{"time range asc", store.LogQuery{WorkspaceID: "wsA", Start: logBase.Add(20 * time.Minute), End: logBase.Add(60 * time.Minute), Order: "asc"}},
		{"open start", store.LogQuery{WorkspaceID: "wsA", End: logBase.Add(30 * time.Minute)}},
		{"open end", store.LogQuery{WorkspaceID: "wsA", Start: logBase.Add(30 * time.Minute), Order: "asc"}},
		{"duration", store.LogQuery{WorkspaceID: "wsA", MinDurationMs: int64p(1000), MaxDurationMs: int64p(2000)}},
		{"execution id", store.LogQuery{WorkspaceID: "wsA", ExecutionID: all[3].ID}},
		{"execution id elsewhere", store.LogQuery{WorkspaceID: "wsB", WorkflowIDs: []string{"wf4"}, ExecutionID: all[3].ID}},
		{"all filters", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"wf1", "wf2"}, Triggers: []string{store.TriggerAPI, store.TriggerMCP}, Statuses: []string{store.StatusCompleted, store.StatusFailed}, MinDurationMs: int64p(100), Start: logBase.Add(5 * time.Minute)}},
	}
}

func TestLogListFilters(t *testing.T) {
	ctx := context.Background()
	l, _ := openLogs(t, LogOptions{})
	all := logFixture(t, l, 200)
	for _, tc := range listQueries(all) {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Limit = 1000
			page, err := l.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want := expected(all, tc.q)
			if got := ids(page.Items); !slices.Equal(got, want) {
				t.Errorf("got %d items, want %d\n got %v\nwant %v", len(got), len(want), got, want)
			}
			if page.NextCursor != "" {
				t.Errorf("next cursor %q on a complete page", page.NextCursor)
			}
		})
	}
}

func TestLogListInvalid(t *testing.T) {
	ctx := context.Background()
	l, _ := openLogs(t, LogOptions{})
	for _, q := range []store.LogQuery{
		{},
		{WorkspaceID: "ws", Cursor: "!!!"},
		{WorkspaceID: "ws", Cursor: "AAAA"},
		{WorkspaceID: "ws", Order: "sideways"},
		{WorkspaceID: "ws", Level: "debug"},
		{WorkspaceID: "ws", Limit: -1},
	} {
		if _, err := l.List(ctx, q); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("list %+v err = %v, want ErrInvalid", q, err)
		}
	}
}

func pageAll(t *testing.T, l *LogDB, q store.LogQuery) (got []string, pages int) {
	t.Helper()
	for {
		page, err := l.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Limit > 0 && len(page.Items) > q.Limit {
			t.Fatalf("page of %d items, limit %d", len(page.Items), q.Limit)
		}
		got = append(got, ids(page.Items)...)
		pages++
		if page.NextCursor == "" {
			return got, pages
		}
		if pages > 10_000 {
			t.Fatal("paging does not end")
		}
		q.Cursor = page.NextCursor
	}
}

func TestLogListPaging(t *testing.T) {
	l, _ := openLogs(t, LogOptions{})
	all := logFixture(t, l, 300)
	for _, limit := range []int{1, 3, 7, 50, 1000} {
		for _, tc := range listQueries(all) {
			t.Run(fmt.Sprintf("%s/limit=%d", tc.name, limit), func(t *testing.T) {
				q := tc.q
				q.Limit = limit
				got, pages := pageAll(t, l, q)
				want := expected(all, tc.q)
				if !slices.Equal(got, want) {
					t.Fatalf("paged %d items, want %d", len(got), len(want))
				}
				if least := (len(want) + limit - 1) / limit; pages > max(least, 1)+1 {
					t.Errorf("%d pages for %d items at limit %d", pages, len(want), limit)
				}
			})
		}
	}
	// A tiny scan bound returns short pages with cursors but still visits everything
	// exactly once.
	l.maxScan = 5
	for _, tc := range listQueries(all) {
		q := tc.q
		q.Limit = 4
		got, _ := pageAll(t, l, q)
		if want := expected(all, tc.q); !slices.Equal(got, want) {
			t.Errorf("%s with scan bound: paged %d items, want %d", tc.name, len(got), len(want))
		}
	}
}

func TestLogPagingWithConcurrentInserts(t *testing.T) {
	l, _ := openLogs(t, LogOptions{})
	var old []*store.Execution
	for i := range 300 {
		e := newExec("ws", fmt.Sprintf("wf%d", i%3), logBase.Add(time.Duration(i/2)*time.Second), store.StatusCompleted)
		old = append(old, e)
	}
	var wg sync.WaitGroup
	for _, e := range old {
		wg.Go(func() { mustPut(t, l, e) })
	}
	wg.Wait()

	stop := make(chan struct{})
	var inserted atomic.Int64
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Newer than everything that existed, plus rewrites of old records.
				e := newExec("ws", fmt.Sprintf("wf%d", i%3), logBase.Add(time.Hour+time.Duration(inserted.Add(1))*time.Millisecond), store.StatusRunning)
				mustPut(t, l, e)
				if i%5 == 0 {
					o := *old[(w*97+i)%len(old)]
					o.Cost = float64(i)
					mustPut(t, l, &o)
				}
			}
		})
	}
	oldSet := map[string]bool{}
	for _, e := range old {
		oldSet[e.ID] = true
	}
	for _, q := range []store.LogQuery{
		{WorkspaceID: "ws", Limit: 7},
		{WorkspaceID: "ws", WorkflowIDs: []string{"wf0", "wf2"}, Limit: 5},
		{WorkspaceID: "ws", Limit: 11, Order: "asc", End: logBase.Add(time.Hour)},
	} {
		got, _ := pageAll(t, l, q)
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Errorf("%+v: %s listed twice", q, id)
			}
			seen[id] = true
		}
		for _, e := range old {
			if q.WorkflowIDs != nil && !slices.Contains(q.WorkflowIDs, e.WorkflowID) {
				continue
			}
			if !seen[e.ID] {
				t.Errorf("%+v: pre-existing %s missing", q, e.ID)
			}
		}
	}
	close(stop)
	writers.Wait()
	if inserted.Load() == 0 {
		t.Error("no concurrent inserts happened")
	}
}

func exactPercentile(ds []int64, p float64) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p * float64(len(s))))
	return float64(s[max(rank, 1)-1])
}

func TestLogMetrics(t *testing.T) {
	ctx := context.Background()
	l, _ := openLogs(t, LogOptions{})
	rng := rand.New(rand.NewPCG(3, 4))
	type agg struct {
		count, errors int64
		cost          float64
		durs          []int64
	}
	byHour := map[time.Time]*agg{}
	byHourWf1 := map[time.Time]*agg{}
	var all []*store.Execution
	for i := range 1500 {
		wf := []string{"wf1", "wf2"}[i%2]
		at := logBase.Add(time.Duration(rng.IntN(5*3600)) * time.Second)
		status := []string{store.StatusCompleted, store.StatusCompleted, store.StatusCompleted, store.StatusFailed, store.StatusCancelled, store.StatusRunning}[rng.IntN(6)]
		e := newExec("ws", wf, at, status)
		e.DurationMs = int64(math.Exp(rng.Float64() * math.Log(200_000)))
		e.Cost = float64(rng.IntN(1000)) / 1000
		all = append(all, e)
		if status == store.StatusRunning {
			continue
		}
		add := func(m map[time.Time]*agg) {
			h := at.Truncate(time.Hour)
			a := m[h]
			if a == nil {
				a = &agg{}
				m[h] = a
			}
			a.count++
			if status == store.StatusFailed {
				a.errors++
			}
			a.cost += e.Cost
			a.durs = append(a.durs, e.DurationMs)
		}
		add(byHour)
		if wf == "wf1" {
			add(byHourWf1)
		}
	}
	var wg sync.WaitGroup
	for _, e := range all {
		wg.Go(func() {
			// Every finished run is first recorded as running, as the engine does.
			r := *e
			r.Status, r.Level, r.DurationMs, r.Cost = store.StatusRunning, "info", 0, 0
			mustPut(t, l, &r)
			mustPut(t, l, e)
		})
	}
	wg.Wait()

	check := func(name string, got []store.MetricsBucket, want map[time.Time]*agg) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d buckets, want %d", name, len(got), len(want))
		}
		for i, b := range got {
			if i > 0 && !got[i-1].Start.Before(b.Start) {
				t.Errorf("%s: buckets out of order", name)
			}
			a := want[b.Start]
			if a == nil {
				t.Fatalf("%s: unexpected bucket %v", name, b.Start)
			}
			if b.Count != a.count || b.Errors != a.errors || math.Abs(b.Cost-a.cost) > 1e-6 {
				t.Errorf("%s %v: count/errors/cost = %d/%d/%f, want %d/%d/%f", name, b.Start, b.Count, b.Errors, b.Cost, a.count, a.errors, a.cost)
			}
			if math.Abs(b.ErrorRate-float64(a.errors)/float64(a.count)) > 1e-9 {
				t.Errorf("%s: error rate %f", name, b.ErrorRate)
			}
			for _, pc := range []struct {
				p   float64
				got float64
			}{{0.5, b.P50Ms}, {0.95, b.P95Ms}, {0.99, b.P99Ms}} {
				exact := exactPercentile(a.durs, pc.p)
				if pc.got < exact/1.14-1 || pc.got > exact*1.14+1 {
					t.Errorf("%s %v p%v = %.1f, exact %.1f", name, b.Start, pc.p*100, pc.got, exact)
				}
			}
		}
	}
	got, err := l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws"})
	if err != nil {
		t.Fatal(err)
	}
	check("workspace hourly", got, byHour)
	got, err = l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws", WorkflowIDs: []string{"wf1"}, Start: logBase, End: logBase.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	check("wf1 hourly", got, byHourWf1)

	// Two-hour buckets merge the hourly values; a range keeps only its hours.
	two := map[time.Time]*agg{}
	for h, a := range byHour {
		if h.Before(logBase.Add(time.Hour)) || !h.Before(logBase.Add(4*time.Hour)) {
			continue
		}
		k := h.Truncate(2 * time.Hour)
		if two[k] == nil {
			two[k] = &agg{}
		}
		two[k].count += a.count
		two[k].errors += a.errors
		two[k].cost += a.cost
		two[k].durs = append(two[k].durs, a.durs...)
	}
	got, err = l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws", Start: logBase.Add(time.Hour), End: logBase.Add(4 * time.Hour), Bucket: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	check("two-hour range", got, two)

	for _, q := range []store.MetricsQuery{
		{WorkspaceID: "ws", Bucket: 90 * time.Minute},
		{WorkspaceID: "ws", Bucket: time.Minute},
		{},
		{WorkspaceID: "ws", Start: logBase, End: logBase.Add(-time.Hour)},
	} {
		if _, err := l.Metrics(ctx, q); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("metrics %+v err = %v, want ErrInvalid", q, err)
		}
	}
	if got, err := l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws", WorkflowIDs: []string{}}); err != nil || len(got) != 0 {
		t.Errorf("empty workflow set = %v, %v", got, err)
	}
}

func TestLogRollupCountsOnce(t *testing.T) {
	ctx := context.Background()
	l, _ := openLogs(t, LogOptions{})
	e := newExec("ws", "wf", logBase, store.StatusQueued)
	mustPut(t, l, e)
	e.Status = store.StatusRunning
	mustPut(t, l, e)
	e.Status, e.DurationMs, e.Cost = store.StatusCompleted, 100, 1.5
	mustPut(t, l, e)
	mustPut(t, l, e) // repeated final write
	metrics := func() store.MetricsBucket {
		t.Helper()
		got, err := l.Metrics(ctx, store.MetricsQuery{WorkflowIDs: []string{"wf"}})
		if err != nil || len(got) != 1 {
			t.Fatalf("metrics = %+v, %v", got, err)
		}
		return got[0]
	}
	if m := metrics(); m.Count != 1 || m.Errors != 0 || m.Cost != 1.5 || m.P50Ms < 88 || m.P50Ms > 114 {
		t.Errorf("after completion = %+v", m)
	}
	// A corrected final record replaces its contribution.
	e.Status, e.Level, e.Cost = store.StatusFailed, "error", 2
	mustPut(t, l, e)
	if m := metrics(); m.Count != 1 || m.Errors != 1 || m.Cost != 2 || m.ErrorRate != 1 {
		t.Errorf("after correction = %+v", m)
	}
	// Moving the start time moves the contribution to the other hour.
	e.StartedAt = logBase.Add(3 * time.Hour)
	mustPut(t, l, e)
	if m := metrics(); m.Count != 1 || !m.Start.Equal(logBase.Add(3*time.Hour)) {
		t.Errorf("after move = %+v", m)
	}
	ws, _ := l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws"})
	if len(ws) != 1 || ws[0].Count != 1 || ws[0].Errors != 1 {
		t.Errorf("workspace metrics = %+v", ws)
	}
}

func TestLogTruncation(t *testing.T) {
	ctx := context.Background()
	const capBytes = 16 << 10
	l, _ := openLogs(t, LogOptions{MaxRecordBytes: capBytes})
	big := func(n int) json.RawMessage {
		b, _ := json.Marshal(strings.Repeat("x", n))
		return b
	}
	// Dropping the traces is enough: output stays.
	e := newExec("ws", "wf", logBase, store.StatusCompleted)
	e.BlockLogs, e.TraceSpans, e.Output = big(10<<10), big(10<<10), json.RawMessage(`{"ok":true}`)
	mustPut(t, l, e)
	got, err := l.Get(ctx, e.ID)
	if err != nil || !got.Truncated || got.BlockLogs != nil || got.TraceSpans != nil || string(got.Output) != `{"ok":true}` {
		t.Errorf("traces-only truncation = %+v, %v", got, err)
	}
	if e.Truncated || e.BlockLogs == nil {
		t.Error("Put modified the caller's record")
	}
	// A huge output becomes a note.
	e2 := newExec("ws", "wf", logBase, store.StatusCompleted)
	e2.BlockLogs, e2.Output, e2.Input = big(1<<10), big(1<<20), json.RawMessage(`{"q":1}`)
	mustPut(t, l, e2)
	got, err = l.Get(ctx, e2.ID)
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

func TestLogPrune(t *testing.T) {
	ctx := context.Background()
	l, _ := openLogs(t, LogOptions{})
	var all []*store.Execution
	for i := range 2500 { // more than one prune chunk
		e := newExec("ws", "wf", logBase.Add(time.Duration(i)*time.Second), store.StatusCompleted)
		e.RunID = fmt.Sprintf("r%d", i)
		all = append(all, e)
	}
	var wg sync.WaitGroup
	for _, e := range all {
		wg.Go(func() { mustPut(t, l, e) })
	}
	wg.Wait()
	before := logBase.Add(2200 * time.Second)
	n, err := l.Prune(ctx, before)
	if err != nil || n != 2200 {
		t.Fatalf("prune = %d, %v", n, err)
	}
	if c, _ := l.Count(ctx); c != 300 {
		t.Errorf("count after prune = %d", c)
	}
	got, _ := pageAll(t, l, store.LogQuery{WorkspaceID: "ws", Limit: 1000})
	if len(got) != 300 {
		t.Errorf("listed %d after prune", len(got))
	}
	got, _ = pageAll(t, l, store.LogQuery{WorkflowIDs: []string{"wf"}, Limit: 1000})
	if len(got) != 300 {
		t.Errorf("listed %d by workflow after prune", len(got))
	}
	if _, err := l.Get(ctx, all[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pruned record get err = %v", err)
	}
	if _, err := l.GetByRunID(ctx, "wf", "r5"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pruned run id err = %v", err)
	}
	if _, err := l.GetByRunID(ctx, "wf", "r2300"); err != nil {
		t.Errorf("kept run id err = %v", err)
	}
	m, _ := l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws"})
	var total int64
	for _, b := range m {
		total += b.Count
	}
	if total != 2500 {
		t.Errorf("metrics after prune count %d, want 2500 (rollups kept)", total)
	}
	if n, err := l.Prune(ctx, before); err != nil || n != 0 {
		t.Errorf("second prune = %d, %v", n, err)
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
	commits := l.commits.Load()
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
	logFixture(t, l, 50)
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
			start := l.commits.Load()
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
			if c := l.commits.Load() - start; c > 0 {
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
