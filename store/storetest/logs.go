package storetest

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/steelengine/steelengine/store"
)

// The logs contract, ported from store/bolt's logs tests. Data sets stay small (the suite
// runs under -race on every backend in CI) but span several months, so a backend that
// partitions by time is exercised across partition boundaries.
func testLogs(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, l store.Logs)
	}{
		{"PutGetReplace", testLogPutGetReplace},
		{"RoundTrip", testLogRoundTrip},
		{"PutInvalid", testLogPutInvalid},
		{"GetFarFromIDTime", testLogGetFarFromIDTime},
		{"GetByRunID", testLogGetByRunID},
		{"RunIDRace", testLogRunIDRace},
		{"ListFiltersAndPaging", testLogListFiltersAndPaging},
		{"PagingWithConcurrentWrites", testLogPagingWithConcurrentWrites},
		{"Metrics", testLogMetrics},
		{"RollupCountsOnce", testLogRollupCountsOnce},
		{"Truncation", testLogTruncation},
		{"Prune", testLogPrune},
		{"Retain", testLogRetain},
		{"RetainWorkspace", testLogRetainWorkspace},
		{"Unfinished", testLogUnfinished},
		{"MarkThenPut", testLogMarkThenPut},
		{"ConcurrentPuts", testLogConcurrentPuts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t).Logs()) })
	}
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

func mustPut(t testing.TB, l store.Logs, e *store.Execution) {
	t.Helper()
	if err := l.Put(ctx, e); err != nil {
		t.Errorf("put %s: %v", e.ID, err)
	}
}

// putAll writes es concurrently, as the engine's runs do, so writes group-commit.
func putAll(t testing.TB, l store.Logs, es []*store.Execution) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, e := range es {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			mustPut(t, l, e)
		})
	}
	wg.Wait()
}

func execIDs(es []*store.Execution) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func testLogPutGetReplace(t *testing.T, l store.Logs) {
	e := newExec("ws1", "wf1", t0, store.StatusRunning)
	e.Input = json.RawMessage(`{"a":1}`)
	mustPut(t, l, e)
	got, err := l.Get(ctx, e.ID)
	if err != nil || got.Status != store.StatusRunning || string(got.Input) != `{"a":1}` || !got.StartedAt.Equal(e.StartedAt) {
		t.Fatalf("get = %+v, %v", got, err)
	}
	end := t0.Add(1500 * time.Millisecond)
	e.Status, e.EndedAt, e.DurationMs, e.Output, e.Cost = store.StatusCompleted, &end, 1500, json.RawMessage(`"ok"`), 0.25
	mustPut(t, l, e)
	got, err = l.Get(ctx, e.ID)
	if err != nil || got.Status != store.StatusCompleted || got.DurationMs != 1500 || string(got.Output) != `"ok"` || got.Cost != 0.25 {
		t.Fatalf("get after replace = %+v, %v", got, err)
	}
	if n, err := l.Count(ctx); n != 1 || err != nil {
		t.Errorf("count = %d, %v; want 1", n, err)
	}
	// A replace that moves StartedAt (here into another month) leaves the record listed
	// once, at the new time only.
	e.StartedAt = t0.AddDate(0, 1, 0)
	mustPut(t, l, e)
	page, err := l.List(ctx, store.LogQuery{WorkspaceID: "ws1"})
	if err != nil || len(page.Items) != 1 || !page.Items[0].StartedAt.Equal(e.StartedAt) {
		t.Fatalf("list after move = %+v, %v", page, err)
	}
	page, _ = l.List(ctx, store.LogQuery{WorkflowIDs: []string{"wf1"}, End: t0.Add(time.Minute)})
	if len(page.Items) != 0 {
		t.Errorf("old position still listed: %v", execIDs(page.Items))
	}
	if n, _ := l.Count(ctx); n != 1 {
		t.Errorf("count after move = %d, want 1", n)
	}
	if _, err := l.Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get missing err = %v, want ErrNotFound", err)
	}
}

// Get finds a record whatever its started_at says against its id's time (PostgreSQL looks
// near the id's time first): a run started long before or after the id was made, an id
// made elsewhere, one moved across months, one among others near its id's time.
func testLogGetFarFromIDTime(t *testing.T, l store.Logs) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	idAt := func(at time.Time) string { // an id as store.NewID makes it, at time at
		return strings.ToLower(ulid.MustNew(ulid.Timestamp(at), crand.Reader).String())
	}
	near := newExec("ws1", "wf1", now, store.StatusCompleted)
	yearBefore := newExec("ws1", "wf1", now.AddDate(-1, 0, 0), store.StatusCompleted)
	dayAfter := newExec("ws1", "wf1", now, store.StatusCompleted)
	dayAfter.ID = idAt(now.Add(-25 * time.Hour))
	future := newExec("ws1", "wf1", now, store.StatusCompleted)
	future.ID = idAt(now.AddDate(5, 0, 0))
	epoch := newExec("ws1", "wf1", t0, store.StatusCompleted)
	epoch.ID = "00000000000000000000000001" // parses as a time in 1970
	custom := newExec("ws1", "wf1", t0, store.StatusCompleted)
	custom.ID = "imported-run-7"
	all := []*store.Execution{near, yearBefore, dayAfter, future, epoch, custom}
	putAll(t, l, all)
	for _, e := range all {
		got, err := l.Get(ctx, e.ID)
		if err != nil || got.ID != e.ID || !got.StartedAt.Equal(e.StartedAt) {
			t.Errorf("Get(%s) started %v = %+v, %v", e.ID, e.StartedAt, got, err)
		}
	}
	// Moved away from its id's time, then back: found at each place, listed once.
	for _, at := range []time.Time{now.AddDate(0, -3, 0), now.Add(time.Hour)} {
		near.StartedAt = at
		mustPut(t, l, near)
		got, err := l.Get(ctx, near.ID)
		if err != nil || !got.StartedAt.Equal(at) {
			t.Fatalf("Get after moving to %v = %+v, %v", at, got, err)
		}
	}
	if n, _ := l.Count(ctx); n != len(all) {
		t.Errorf("count = %d, want %d", n, len(all))
	}
	if _, err := l.Get(ctx, idAt(now)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of an id never put: %v, want ErrNotFound", err)
	}
}

func testLogRoundTrip(t *testing.T, l store.Logs) {
	end := t0.Add(2*time.Second + 345*time.Microsecond)
	e := &store.Execution{
		ID: store.NewID(), WorkflowID: "wf", WorkspaceID: "ws", Version: 7,
		Trigger: store.TriggerWebhook, Status: store.StatusFailed, Level: "error",
		StartedAt: t0.Add(123 * time.Microsecond), EndedAt: &end, DurationMs: 2000,
		// Bytes come back exactly: spacing, key order, escapes.
		Input:  json.RawMessage("{ \"b\":1,  \"a\" : \"\\u00e9\u00e9\" }"),
		Output: json.RawMessage(`[1, 2,3 ]`),
		Error:  "boom", ErrorCode: "E_BLOCK",
		BlockLogs:  json.RawMessage(`[{"block":"x"}]`),
		TraceSpans: json.RawMessage(`{"spans":[]}`),
		Cost:       1.0625, KeyID: "key1", UserID: "user1", BilledTo: "user2", RunID: "run-1",
		TriggerBlockID: "hook",
	}
	before := *e
	mustPut(t, l, e)
	if !equalExec(e, &before) {
		t.Errorf("Put modified its argument: %+v", e)
	}
	got, err := l.Get(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !equalExec(got, e) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
	}
	if got.StartedAt.Location() != time.UTC || got.EndedAt.Location() != time.UTC {
		t.Errorf("times not in UTC: %v %v", got.StartedAt.Location(), got.EndedAt.Location())
	}
	// Empty raw fields come back nil.
	e2 := newExec("ws", "wf", t0, store.StatusRunning)
	e2.Input = json.RawMessage{}
	mustPut(t, l, e2)
	if got, err := l.Get(ctx, e2.ID); err != nil || got.Input != nil || got.Output != nil || got.EndedAt != nil || got.Truncated {
		t.Errorf("sparse record = %+v, %v", got, err)
	}
	// An error message with bytes that are not UTF-8 (or NUL) does not cost the record
	// (a backend may replace those bytes).
	e3 := newExec("ws", "wf", t0, store.StatusFailed)
	e3.Error = "bad \xff\x00 bytes"
	mustPut(t, l, e3)
	if got, err := l.Get(ctx, e3.ID); err != nil || !strings.HasPrefix(got.Error, "bad ") || !strings.HasSuffix(got.Error, " bytes") {
		t.Errorf("record with odd bytes = %+v, %v", got, err)
	}
}

func equalExec(a, b *store.Execution) bool {
	ta, tb := *a, *b
	if (a.EndedAt == nil) != (b.EndedAt == nil) || a.EndedAt != nil && !a.EndedAt.Equal(*b.EndedAt) || !a.StartedAt.Equal(b.StartedAt) {
		return false
	}
	for _, f := range [][2][]byte{{a.Input, b.Input}, {a.Output, b.Output}, {a.BlockLogs, b.BlockLogs}, {a.TraceSpans, b.TraceSpans}} {
		if string(f[0]) != string(f[1]) || (f[0] == nil) != (f[1] == nil) {
			return false
		}
	}
	ta.EndedAt, tb.EndedAt, ta.StartedAt, tb.StartedAt = nil, nil, time.Time{}, time.Time{}
	ta.Input, ta.Output, ta.BlockLogs, ta.TraceSpans = nil, nil, nil, nil
	tb.Input, tb.Output, tb.BlockLogs, tb.TraceSpans = nil, nil, nil, nil
	return fmt.Sprint(ta) == fmt.Sprint(tb)
}

func testLogPutInvalid(t *testing.T, l store.Logs) {
	for _, bad := range []*store.Execution{
		nil,
		{ID: "x", WorkflowID: "wf", StartedAt: t0},
		{ID: "x", WorkspaceID: "ws", StartedAt: t0},
		{WorkspaceID: "ws", WorkflowID: "wf", StartedAt: t0},
		{ID: "x", WorkspaceID: "ws", WorkflowID: "wf"},
		{ID: "x", WorkspaceID: "w\x00s", WorkflowID: "wf", StartedAt: t0},
		{ID: "x", WorkspaceID: "ws", WorkflowID: "wf", RunID: "r\x00", StartedAt: t0},
		{ID: "x", WorkspaceID: "ws", WorkflowID: "wf", StartedAt: t0, Output: json.RawMessage(`{"a":`)},
	} {
		if err := l.Put(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("put %+v err = %v, want ErrInvalid", bad, err)
		}
		if err := l.Mark(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("mark %+v err = %v, want ErrInvalid", bad, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Put(cctx, newExec("ws", "wf", t0, store.StatusRunning)); !errors.Is(err, context.Canceled) {
		t.Errorf("put with cancelled ctx err = %v", err)
	}
	if n, _ := l.Count(ctx); n != 0 {
		t.Errorf("count after refused puts = %d", n)
	}
	testLogListInvalid(t, l)
}

func testLogGetByRunID(t *testing.T, l store.Logs) {
	e := newExec("ws", "wf", t0, store.StatusRunning)
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
	// Another workflow may use the same run id.
	other := newExec("ws", "wf2", t0, store.StatusRunning)
	other.RunID = "order-42"
	mustPut(t, l, other)
	dup := newExec("ws", "wf", t0.AddDate(0, 1, 0), store.StatusRunning)
	dup.RunID = "order-42"
	if err := l.Put(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate run id err = %v, want ErrConflict", err)
	}
	if _, err := l.Get(ctx, dup.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused record stored: %v", err)
	}
	// A conflict in a group commit fails only its own record.
	var wg sync.WaitGroup
	var okCount atomic.Int64
	for i := range 10 {
		wg.Go(func() {
			x := newExec("ws", "wf", t0, store.StatusRunning)
			if i == 5 {
				x.RunID = "order-42"
			}
			if err := l.Put(ctx, x); err == nil {
				okCount.Add(1)
			} else if !errors.Is(err, store.ErrConflict) || i != 5 {
				t.Errorf("put %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if okCount.Load() != 9 {
		t.Errorf("%d of 9 good puts succeeded next to a conflicting one", okCount.Load())
	}
	e.Status = store.StatusCompleted
	mustPut(t, l, e) // same record, same run id: fine
	e.StartedAt = t0.AddDate(0, -1, 0)
	mustPut(t, l, e) // moved in time, same run id: fine
	if got, err := l.GetByRunID(ctx, "wf", "order-42"); err != nil || !got.StartedAt.Equal(e.StartedAt) {
		t.Errorf("by run id after move = %+v, %v", got, err)
	}
	e.RunID = "order-43"
	mustPut(t, l, e)
	if _, err := l.GetByRunID(ctx, "wf", "order-42"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old run id still indexed: %v", err)
	}
	if got, err := l.GetByRunID(ctx, "wf", "order-43"); err != nil || got.ID != e.ID {
		t.Errorf("new run id = %+v, %v", got, err)
	}
	// The released run id is free for another execution.
	dup.RunID = "order-42"
	if err := l.Put(ctx, dup); err != nil {
		t.Errorf("reuse of released run id: %v", err)
	}
}

// testLogRunIDRace: many executions race for one run id; exactly one wins.
func testLogRunIDRace(t *testing.T, l store.Logs) {
	oneWins(t, "puts of one run id", 8, store.ErrConflict, func(int) error {
		e := newExec("ws", "wf", t0, store.StatusRunning)
		e.RunID = "once"
		return l.Put(ctx, e)
	})
}

// LogFixture stores a deterministic data set over two workspaces and four workflows, with
// ties in StartedAt, spread over three months.
func LogFixture(t testing.TB, l store.Logs, n int) []*store.Execution {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	wss := []string{"wsA", "wsA", "wsA", "wsB"}
	wfs := []string{"wf1", "wf2", "wf3", "wf4"}
	triggers := []string{store.TriggerAPI, store.TriggerMCP, store.TriggerManual, store.TriggerSchedule}
	statuses := []string{store.StatusCompleted, store.StatusCompleted, store.StatusFailed, store.StatusRunning, store.StatusCancelled}
	var all []*store.Execution
	for i := range n {
		w := rng.IntN(len(wfs))
		at := t0.Add(time.Duration(rng.IntN(n/2+1)) * 20 * time.Hour) // plenty of ties, ~3 months
		e := newExec(wss[w], wfs[w], at, statuses[rng.IntN(len(statuses))])
		e.Trigger = triggers[rng.IntN(len(triggers))]
		e.DurationMs = int64(rng.IntN(5000))
		e.Cost = float64(rng.IntN(100)) / 100
		e.Output = json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
		all = append(all, e)
	}
	putAll(t, l, all)
	return all
}

// ExpectedLogs filters and orders all the way List should and returns the ids.
func ExpectedLogs(all []*store.Execution, q store.LogQuery) []string {
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
	return execIDs(out)
}

func int64p(v int64) *int64 { return &v }

// LogQuery is a named List query over LogFixture's data.
type LogQuery struct {
	Name  string
	Query store.LogQuery
}

// LogQueries returns List queries covering every filter, alone and together, over all
// (LogFixture's data).
func LogQueries(all []*store.Execution) []LogQuery {
	day := 24 * time.Hour
	return []LogQuery{
		{"workspace", store.LogQuery{WorkspaceID: "wsA"}},
		{"workspace asc", store.LogQuery{WorkspaceID: "wsA", Order: "asc"}},
		{"other workspace", store.LogQuery{WorkspaceID: "wsB"}},
		{"one workflow", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"wf2"}}},
		{"workflow without workspace", store.LogQuery{WorkflowIDs: []string{"wf4"}}},
		{"two workflows without workspace", store.LogQuery{WorkflowIDs: []string{"wf4", "wf1"}, Order: "asc"}},
		{"two workflows", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"wf3", "wf1"}}},
		{"two workflows asc", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"wf1", "wf3", "wf1"}, Order: "asc"}},
		{"foreign workflow filtered by workspace", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"wf1", "wf4"}}},
		{"empty workflow set", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{}}},
		{"empty workflow set alone", store.LogQuery{WorkflowIDs: []string{}}},
		{"unknown workflow", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"nope"}}},
		{"unknown workspace", store.LogQuery{WorkspaceID: "nope"}},
		{"triggers", store.LogQuery{WorkspaceID: "wsA", Triggers: []string{store.TriggerMCP, store.TriggerSchedule}}},
		{"level error", store.LogQuery{WorkspaceID: "wsA", Level: "error"}},
		{"level info asc", store.LogQuery{WorkspaceID: "wsA", Level: "info", Order: "asc"}},
		{"statuses", store.LogQuery{WorkspaceID: "wsA", Statuses: []string{store.StatusRunning, store.StatusCancelled}}},
		{"time range", store.LogQuery{WorkspaceID: "wsA", Start: t0.Add(20 * day), End: t0.Add(45 * day)}},
		{"time range asc", store.LogQuery{WorkspaceID: "wsA", Start: t0.Add(20 * day), End: t0.Add(45 * day), Order: "asc"}},
		{"open start", store.LogQuery{WorkspaceID: "wsA", End: t0.Add(30 * day)}},
		{"open end", store.LogQuery{WorkspaceID: "wsA", Start: t0.Add(30 * day), Order: "asc"}},
		{"duration", store.LogQuery{WorkspaceID: "wsA", MinDurationMs: int64p(1000), MaxDurationMs: int64p(2000)}},
		{"execution id", store.LogQuery{WorkspaceID: "wsA", ExecutionID: all[3].ID}},
		{"execution id elsewhere", store.LogQuery{WorkspaceID: "wsB", WorkflowIDs: []string{"wf4"}, ExecutionID: all[3].ID}},
		{"all filters", store.LogQuery{WorkspaceID: "wsA", WorkflowIDs: []string{"wf1", "wf2"}, Triggers: []string{store.TriggerAPI, store.TriggerMCP}, Statuses: []string{store.StatusCompleted, store.StatusFailed}, MinDurationMs: int64p(100), Start: t0.Add(5 * day)}},
	}
}

// PageLogs lists q following cursors to the end, checking each page against q.Limit.
func PageLogs(t *testing.T, l store.Logs, q store.LogQuery) (got []string, pages int) {
	t.Helper()
	for {
		page, err := l.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Limit > 0 && len(page.Items) > q.Limit {
			t.Fatalf("page of %d items, limit %d", len(page.Items), q.Limit)
		}
		got = append(got, execIDs(page.Items)...)
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

func testLogListFiltersAndPaging(t *testing.T, l store.Logs) {
	all := LogFixture(t, l, 160)
	queries := LogQueries(all)
	for _, tc := range queries {
		q := tc.Query
		q.Limit = 1000
		page, err := l.List(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", tc.Name, err)
		}
		want := ExpectedLogs(all, tc.Query)
		if got := execIDs(page.Items); !slices.Equal(got, want) {
			t.Errorf("%s: got %d items, want %d\n got %v\nwant %v", tc.Name, len(got), len(want), got, want)
		}
		if page.NextCursor != "" {
			t.Errorf("%s: next cursor %q on a complete page", tc.Name, page.NextCursor)
		}
		for _, e := range page.Items {
			if e.Output == nil {
				t.Errorf("%s: listed record %s without its output", tc.Name, e.ID)
				break
			}
		}
	}
	for _, limit := range []int{1, 7, 50} {
		for _, tc := range queries {
			if limit == 1 && len(ExpectedLogs(all, tc.Query)) > 40 {
				continue // the long walks are covered by limit 7
			}
			q := tc.Query
			q.Limit = limit
			got, pages := PageLogs(t, l, q)
			want := ExpectedLogs(all, tc.Query)
			if !slices.Equal(got, want) {
				t.Errorf("%s limit %d: paged %d items, want %d", tc.Name, limit, len(got), len(want))
			}
			if least := (len(want) + limit - 1) / limit; pages > max(least, 1)+1 {
				t.Errorf("%s limit %d: %d pages for %d items", tc.Name, limit, pages, len(want))
			}
		}
	}
	// The default limit is 100 and a larger one is cut to 1000.
	page, err := l.List(ctx, store.LogQuery{WorkspaceID: "wsA"})
	if want := ExpectedLogs(all, store.LogQuery{WorkspaceID: "wsA"}); err != nil || len(page.Items) != min(100, len(want)) {
		t.Errorf("default limit: %d items, %v", len(page.Items), err)
	}
	if page, err := l.List(ctx, store.LogQuery{WorkspaceID: "wsA", Limit: 5000}); err != nil || page.NextCursor != "" {
		t.Errorf("limit 5000: %d items, cursor %q, %v", len(page.Items), page.NextCursor, err)
	}
	// A cursor after a query for one execution id yields nothing more.
	page, err = l.List(ctx, store.LogQuery{WorkspaceID: "wsA", Limit: 1})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	if p, err := l.List(ctx, store.LogQuery{WorkspaceID: "wsA", ExecutionID: all[0].ID, Cursor: page.NextCursor}); err != nil || len(p.Items) != 0 {
		t.Errorf("execution id with cursor = %v, %v", execIDs(p.Items), err)
	}
}

func testLogListInvalid(t *testing.T, l store.Logs) {
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

// testLogPagingWithConcurrentWrites: new records and rewrites of old ones land while a
// reader pages; every record that existed before is listed exactly once.
func testLogPagingWithConcurrentWrites(t *testing.T, l store.Logs) {
	var old []*store.Execution
	for i := range 150 {
		old = append(old, newExec("ws", fmt.Sprintf("wf%d", i%3), t0.Add(time.Duration(i/2)*7*time.Hour), store.StatusCompleted))
	}
	putAll(t, l, old)
	newest := t0.Add(80 * 7 * time.Hour)

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
				e := newExec("ws", fmt.Sprintf("wf%d", i%3), newest.Add(time.Duration(inserted.Add(1))*time.Millisecond), store.StatusRunning)
				mustPut(t, l, e)
				if i%3 == 0 {
					o := *old[(w*37+i)%len(old)]
					o.Cost = float64(i)
					mustPut(t, l, &o)
				}
			}
		})
	}
	for inserted.Load() < 8 {
		time.Sleep(time.Millisecond)
	}
	for _, q := range []store.LogQuery{
		{WorkspaceID: "ws", Limit: 7},
		{WorkspaceID: "ws", WorkflowIDs: []string{"wf0", "wf2"}, Limit: 5},
		{WorkspaceID: "ws", Limit: 11, Order: "asc", End: newest},
		{WorkflowIDs: []string{"wf1"}, Limit: 4, Order: "asc"},
	} {
		got, _ := PageLogs(t, l, q)
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

type metricsAgg struct {
	count, errors int64
	cost          float64
	durs          []int64
}

func checkMetrics(t *testing.T, name string, got []store.MetricsBucket, want map[time.Time]*metricsAgg) {
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

func testLogMetrics(t *testing.T, l store.Logs) {
	rng := rand.New(rand.NewPCG(3, 4))
	byHour := map[time.Time]*metricsAgg{}
	byHourWf1 := map[time.Time]*metricsAgg{}
	// Five hours across a month boundary.
	base := time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC)
	var all []*store.Execution
	for i := range 500 {
		wf := []string{"wf1", "wf2"}[i%2]
		at := base.Add(time.Duration(rng.IntN(5*3600)) * time.Second)
		status := []string{store.StatusCompleted, store.StatusCompleted, store.StatusCompleted, store.StatusFailed, store.StatusCancelled, store.StatusRunning}[rng.IntN(6)]
		e := newExec("ws", wf, at, status)
		e.DurationMs = int64(math.Exp(rng.Float64() * math.Log(200_000)))
		e.Cost = float64(rng.IntN(1000)) / 1000
		all = append(all, e)
		if status == store.StatusRunning {
			continue
		}
		add := func(m map[time.Time]*metricsAgg) {
			h := at.Truncate(time.Hour)
			a := m[h]
			if a == nil {
				a = &metricsAgg{}
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
	// Every finished run is first recorded as running, as the engine does.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, e := range all {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := *e
			r.Status, r.Level, r.DurationMs, r.Cost = store.StatusRunning, "info", 0, 0
			mustPut(t, l, &r)
			mustPut(t, l, e)
		})
	}
	wg.Wait()
	// Other workspaces' runs count nowhere here.
	mustPut(t, l, newExec("ws-other", "wf-other", base, store.StatusCompleted))

	got, err := l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws"})
	if err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, "workspace hourly", got, byHour)
	got, err = l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws", WorkflowIDs: []string{"wf1"}, Start: base, End: base.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, "wf1 hourly", got, byHourWf1)
	got, err = l.Metrics(ctx, store.MetricsQuery{WorkflowIDs: []string{"wf1"}})
	if err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, "wf1 without workspace", got, byHourWf1)

	// Two-hour buckets merge the hourly values; a range keeps only its hours, the hour
	// holding Start whole.
	two := map[time.Time]*metricsAgg{}
	for h, a := range byHour {
		if h.Before(base.Add(time.Hour)) || !h.Before(base.Add(4*time.Hour)) {
			continue
		}
		k := h.Truncate(2 * time.Hour)
		if two[k] == nil {
			two[k] = &metricsAgg{}
		}
		two[k].count += a.count
		two[k].errors += a.errors
		two[k].cost += a.cost
		two[k].durs = append(two[k].durs, a.durs...)
	}
	got, err = l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws", Start: base.Add(time.Hour + 30*time.Minute), End: base.Add(4 * time.Hour), Bucket: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, "two-hour range", got, two)

	for _, q := range []store.MetricsQuery{
		{WorkspaceID: "ws", Bucket: 90 * time.Minute},
		{WorkspaceID: "ws", Bucket: time.Minute},
		{},
		{WorkspaceID: "ws", Start: base, End: base.Add(-time.Hour)},
	} {
		if _, err := l.Metrics(ctx, q); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("metrics %+v err = %v, want ErrInvalid", q, err)
		}
	}
	for _, q := range []store.MetricsQuery{
		{WorkspaceID: "ws", WorkflowIDs: []string{}},
		{WorkflowIDs: []string{}},
		{WorkspaceID: "nope"},
		{WorkspaceID: "ws", Start: base.Add(48 * time.Hour)},
	} {
		if got, err := l.Metrics(ctx, q); err != nil || len(got) != 0 {
			t.Errorf("metrics %+v = %v, %v; want none", q, got, err)
		}
	}
}

func testLogRollupCountsOnce(t *testing.T, l store.Logs) {
	e := newExec("ws", "wf", t0, store.StatusQueued)
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
	if m := metrics(); m.Count != 1 || m.Errors != 0 || m.Cost != 1.5 || m.P50Ms < 88 || m.P50Ms > 114 || !m.Start.Equal(t0) {
		t.Errorf("after completion = %+v", m)
	}
	// A corrected final record replaces its contribution.
	e.Status, e.Level, e.Cost, e.DurationMs = store.StatusFailed, "error", 2, 5000
	mustPut(t, l, e)
	if m := metrics(); m.Count != 1 || m.Errors != 1 || m.Cost != 2 || m.ErrorRate != 1 || m.P50Ms < 4400 || m.P50Ms > 5700 {
		t.Errorf("after correction = %+v", m)
	}
	// Moving the start time (here to another month) moves the contribution.
	e.StartedAt = t0.AddDate(0, 1, 0).Add(3 * time.Hour)
	mustPut(t, l, e)
	if m := metrics(); m.Count != 1 || !m.Start.Equal(e.StartedAt.Truncate(time.Hour)) {
		t.Errorf("after move = %+v", m)
	}
	ws, _ := l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws"})
	if len(ws) != 1 || ws[0].Count != 1 || ws[0].Errors != 1 {
		t.Errorf("workspace metrics = %+v", ws)
	}
	// Back to running (a retried job): no longer counted.
	e.Status = store.StatusRunning
	mustPut(t, l, e)
	if ws, _ := l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws"}); len(ws) != 0 {
		t.Errorf("metrics of a running record = %+v", ws)
	}
}

func testLogTruncation(t *testing.T, l store.Logs) {
	big := func(n int) json.RawMessage {
		b, _ := json.Marshal(strings.Repeat("x", n))
		return b
	}
	// Over the default cap (store.MaxRecordBytes): dropping the traces is enough.
	e := newExec("ws", "wf", t0, store.StatusCompleted)
	e.BlockLogs, e.TraceSpans, e.Output = big(600<<10), big(600<<10), json.RawMessage(`{"ok":true}`)
	mustPut(t, l, e)
	got, err := l.Get(ctx, e.ID)
	if err != nil || !got.Truncated || got.BlockLogs != nil || got.TraceSpans != nil || string(got.Output) != `{"ok":true}` {
		t.Errorf("traces-only truncation = truncated %v, %d/%d bytes of traces, output %s, %v", got.Truncated, len(got.BlockLogs), len(got.TraceSpans), got.Output, err)
	}
	if e.Truncated || e.BlockLogs == nil {
		t.Error("Put modified the caller's record")
	}
	// A huge output becomes a note.
	e2 := newExec("ws", "wf", t0, store.StatusCompleted)
	e2.Output, e2.Input = big(store.MaxRecordBytes+1), json.RawMessage(`{"q":1}`)
	mustPut(t, l, e2)
	got, err = l.Get(ctx, e2.ID)
	if err != nil || !got.Truncated || string(got.Input) != `{"q":1}` {
		t.Fatalf("output truncation = %+v, %v", got.Truncated, err)
	}
	var note string
	if err := json.Unmarshal(got.Output, &note); err != nil || !strings.Contains(note, "truncated") {
		t.Errorf("output note = %.100s (%v)", got.Output, err)
	}
}

// spread returns n finished executions of ws/wf starting every step from start, with run
// ids.
func spread(ws, wf string, start time.Time, step time.Duration, n int) []*store.Execution {
	out := make([]*store.Execution, n)
	for i := range out {
		e := newExec(ws, wf, start.Add(time.Duration(i)*step), store.StatusCompleted)
		e.RunID = fmt.Sprintf("%s-r%d", ws, i)
		out[i] = e
	}
	return out
}

func metricsTotal(t *testing.T, l store.Logs, q store.MetricsQuery) int64 {
	t.Helper()
	m, err := l.Metrics(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, b := range m {
		total += b.Count
	}
	return total
}

func testLogPrune(t *testing.T, l store.Logs) {
	// 1200 records, one every 2 h from t0 (about 100 days: four months), so a prune
	// spans whole months and part of one, and more than one chunk of deletes.
	all := spread("ws", "wf", t0, 2*time.Hour, 1200)
	putAll(t, l, all)
	before := t0.Add(1100 * 2 * time.Hour)
	n, err := l.Prune(ctx, before)
	if err != nil || n != 1100 {
		t.Fatalf("prune = %d, %v; want 1100", n, err)
	}
	if c, _ := l.Count(ctx); c != 100 {
		t.Errorf("count after prune = %d, want 100", c)
	}
	if got, _ := PageLogs(t, l, store.LogQuery{WorkspaceID: "ws", Limit: 1000}); !slices.Equal(got, ExpectedLogs(all[1100:], store.LogQuery{})) {
		t.Errorf("listed %d after prune, want the 100 newest", len(got))
	}
	if got, _ := PageLogs(t, l, store.LogQuery{WorkflowIDs: []string{"wf"}, Limit: 1000}); len(got) != 100 {
		t.Errorf("listed %d by workflow after prune", len(got))
	}
	if _, err := l.Get(ctx, all[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pruned record get err = %v", err)
	}
	if _, err := l.GetByRunID(ctx, "wf", "ws-r5"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pruned run id err = %v", err)
	}
	if _, err := l.GetByRunID(ctx, "wf", "ws-r1150"); err != nil {
		t.Errorf("kept run id err = %v", err)
	}
	if total := metricsTotal(t, l, store.MetricsQuery{WorkspaceID: "ws"}); total != 1200 {
		t.Errorf("metrics after prune count %d, want 1200 (rollups kept)", total)
	}
	if n, err := l.Prune(ctx, before); err != nil || n != 0 {
		t.Errorf("second prune = %d, %v", n, err)
	}
	// A pruned run id is free again, and writes into pruned months work.
	e := newExec("ws", "wf", t0, store.StatusCompleted)
	e.RunID = "ws-r5"
	mustPut(t, l, e)
	if got, err := l.GetByRunID(ctx, "wf", "ws-r5"); err != nil || got.ID != e.ID {
		t.Errorf("run id reused after prune = %+v, %v", got, err)
	}
}

// testLogRetain ports store/bolt's retention test and adds whole months past the age
// limit, one of which holds a queued job.
func testLogRetain(t *testing.T, l store.Logs) {
	day := 24 * time.Hour
	now := t0.Add(200 * day)
	// ws1: 30 finished runs one day apart (oldest 40 days ago) and one old queued job.
	ws1 := spread("ws1", "wf1", now.Add(-40*day), day, 30)
	queued := newExec("ws1", "wf1", now.Add(-50*day), store.StatusQueued)
	// ws2: 5 recent runs.
	ws2 := spread("ws2", "wf2", now.Add(-5*time.Hour), time.Hour, 5)
	// ws3: 60 runs three to five months back, and a running one in the oldest month.
	ws3 := spread("ws3", "wf3", now.Add(-150*day), day, 60)
	running := newExec("ws3", "wf3", now.Add(-149*day), store.StatusRunning)
	all := slices.Concat(ws1, ws2, ws3, []*store.Execution{queued, running})
	putAll(t, l, all)
	before := map[string]int64{}
	for _, ws := range []string{"ws1", "ws2", "ws3"} {
		before[ws] = metricsTotal(t, l, store.MetricsQuery{WorkspaceID: ws})
	}

	n, err := l.Retain(ctx, store.Retention{MaxAge: 30 * day}, now)
	if err != nil || n != 10+60 {
		t.Fatalf("age retention deleted %d (%v), want 70", n, err)
	}
	n, err = l.Retain(ctx, store.Retention{MaxCount: 4}, now)
	if err != nil || n != 16+1 {
		t.Fatalf("count retention deleted %d (%v), want 17 (16 in ws1, 1 in ws2)", n, err)
	}
	page, err := l.List(ctx, store.LogQuery{WorkspaceID: "ws1", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if want := append(ExpectedLogs(ws1[26:], store.LogQuery{}), queued.ID); !slices.Equal(execIDs(page.Items), want) {
		t.Errorf("ws1 keeps %v, want the 4 newest and the queued job %v", execIDs(page.Items), want)
	}
	page, _ = l.List(ctx, store.LogQuery{WorkspaceID: "ws3"})
	if !slices.Equal(execIDs(page.Items), []string{running.ID}) {
		t.Errorf("ws3 keeps %v, want only the running job", execIDs(page.Items))
	}
	if c, _ := l.Count(ctx); c != 4+1+4+1 {
		t.Errorf("count after retention = %d, want 10", c)
	}
	for ws, b := range before {
		if after := metricsTotal(t, l, store.MetricsQuery{WorkspaceID: ws}); after != b || b == 0 {
			t.Errorf("%s rollups changed by retention: %d before, %d after", ws, b, after)
		}
	}
	if _, err := l.GetByRunID(ctx, "wf3", "ws3-r0"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("run id of a retained-away record: %v", err)
	}
	if n, err := l.Retain(ctx, store.Retention{}, now); err != nil || n != 0 {
		t.Errorf("zero retention = %d, %v", n, err)
	}
	// Writes go on into the months retention emptied.
	mustPut(t, l, newExec("ws3", "wf3", now.Add(-150*day), store.StatusCompleted))
	if c, _ := l.Count(ctx); c != 11 {
		t.Errorf("count after a write into a retained month = %d, want 11", c)
	}
}

func testLogRetainWorkspace(t *testing.T, l store.Logs) {
	day := 24 * time.Hour
	now := t0.Add(100 * day)
	a := spread("wsA", "wfA", now.Add(-20*day), day, 20)
	b := spread("wsB", "wfB", now.Add(-20*day), day, 20)
	open := newExec("wsA", "wfA", now.Add(-19*day-time.Hour), store.StatusRunning)
	putAll(t, l, slices.Concat(a, b, []*store.Execution{open}))
	// Age and count together: 10 older than 10 days go, leaving 11; keeping 5 makes the
	// 6 oldest excess, and of those the running one (which counts) stays.
	n, err := l.RetainWorkspace(ctx, "wsA", store.Retention{MaxAge: 10 * day, MaxCount: 5}, now)
	if err != nil || n != 15 {
		t.Fatalf("retain wsA = %d, %v; want 15", n, err)
	}
	got, _ := PageLogs(t, l, store.LogQuery{WorkspaceID: "wsA", Order: "asc"})
	want := append([]string{open.ID}, ExpectedLogs(a[15:], store.LogQuery{Order: "asc"})...)
	if !slices.Equal(got, want) {
		t.Errorf("wsA keeps %v, want %v", got, want)
	}
	if got, _ := PageLogs(t, l, store.LogQuery{WorkspaceID: "wsB"}); len(got) != 20 {
		t.Errorf("wsB keeps %d, want all 20", len(got))
	}
	if n, err := l.RetainWorkspace(ctx, "nope", store.Retention{MaxCount: 1}, now); err != nil || n != 0 {
		t.Errorf("retain unknown workspace = %d, %v", n, err)
	}
}

func testLogUnfinished(t *testing.T, l store.Logs) {
	if got, err := l.Unfinished(ctx); err != nil || len(got) != 0 {
		t.Fatalf("unfinished of an empty log = %v, %v", got, err)
	}
	// Ids in creation order, as ULIDs are.
	var open []*store.Execution
	for i, status := range []string{store.StatusQueued, store.StatusRunning, store.StatusCompleted, store.StatusQueued, store.StatusFailed, store.StatusPaused, store.StatusRunning} {
		e := newExec("ws", "wf", t0.AddDate(0, i-3, 0), status)
		e.ID = fmt.Sprintf("exec-%02d", i)
		mustPut(t, l, e)
		if status == store.StatusQueued || status == store.StatusRunning {
			open = append(open, e)
		}
	}
	got, err := l.Unfinished(ctx)
	if err != nil || !slices.Equal(execIDs(got), execIDs(open)) {
		t.Fatalf("unfinished = %v, %v; want %v", execIDs(got), err, execIDs(open))
	}
	if got[0].Status != store.StatusQueued || got[1].Status != store.StatusRunning {
		t.Errorf("unfinished records = %+v", got[:2])
	}
	open[1].Status = store.StatusCompleted
	mustPut(t, l, open[1])
	if got, _ := l.Unfinished(ctx); len(got) != len(open)-1 || slices.Contains(execIDs(got), open[1].ID) {
		t.Errorf("after finishing %s: %v", open[1].ID, execIDs(got))
	}
}

func testLogMarkThenPut(t *testing.T, l store.Logs) {
	e := newExec("ws", "wf", t0, store.StatusRunning)
	if err := l.Mark(ctx, e); err != nil {
		t.Fatal(err)
	}
	// Writes commit in order: once a later Put is acknowledged, the marker is stored.
	mustPut(t, l, newExec("ws", "wf", t0, store.StatusCompleted))
	if got, err := l.Get(ctx, e.ID); err != nil || got.Status != store.StatusRunning {
		t.Fatalf("marker = %+v, %v", got, err)
	}
	if got, _ := l.Unfinished(ctx); !slices.Equal(execIDs(got), []string{e.ID}) {
		t.Errorf("unfinished after mark = %v", execIDs(got))
	}
	// The final Put replaces the marker, even right behind it.
	e2 := newExec("ws", "wf", t0.Add(time.Second), store.StatusRunning)
	if err := l.Mark(ctx, e2); err != nil {
		t.Fatal(err)
	}
	e.Status, e.DurationMs = store.StatusCompleted, 10
	mustPut(t, l, e)
	f := *e2
	f.Status, f.StartedAt = store.StatusFailed, t0.AddDate(0, 1, 0) // and moves it
	mustPut(t, l, &f)
	for _, want := range []*store.Execution{e, &f} {
		if got, err := l.Get(ctx, want.ID); err != nil || got.Status != want.Status || !got.StartedAt.Equal(want.StartedAt) {
			t.Errorf("get %s = %+v, %v", want.ID, got, err)
		}
	}
	if n, _ := l.Count(ctx); n != 3 {
		t.Errorf("count = %d, want 3", n)
	}
	if got, _ := l.Unfinished(ctx); len(got) != 0 {
		t.Errorf("unfinished after final puts = %v", execIDs(got))
	}
	if total := metricsTotal(t, l, store.MetricsQuery{WorkspaceID: "ws"}); total != 3 {
		t.Errorf("metrics count %d, want 3", total)
	}
}

func testLogConcurrentPuts(t *testing.T, l store.Logs) {
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for g := range 40 {
		wg.Go(func() {
			for i := range 10 {
				e := newExec("ws", fmt.Sprintf("wf%d", g%5), t0.Add(time.Duration(g*20+i)*time.Millisecond), store.StatusRunning)
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
	if n, _ := l.Count(ctx); n != 400 {
		t.Errorf("count = %d, want 400", n)
	}
	for _, id := range all {
		if e, err := l.Get(ctx, id); err != nil || e.Status != store.StatusCompleted {
			t.Fatalf("get %s = %+v, %v", id, e, err)
		}
	}
	m, _ := l.Metrics(ctx, store.MetricsQuery{WorkspaceID: "ws"})
	if len(m) != 1 || m[0].Count != 400 {
		t.Errorf("metrics = %+v", m)
	}
}
