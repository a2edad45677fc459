package bolt

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// List returns the executions q selects, ordered by (StartedAt, ID), using keyset
// pagination over the time indexes: pages never skip or repeat a record, even while new
// executions are written.
func (l *LogDB) List(ctx context.Context, q store.LogQuery) (store.LogPage, error) {
	if err := ctx.Err(); err != nil {
		return store.LogPage{}, err
	}
	if q.WorkspaceID == "" && len(q.WorkflowIDs) == 0 {
		if q.WorkflowIDs != nil {
			return store.LogPage{}, nil
		}
		return store.LogPage{}, invalid("log query needs a workspaceId or workflowIds")
	}
	if q.WorkflowIDs != nil && len(q.WorkflowIDs) == 0 {
		return store.LogPage{}, nil
	}
	var desc bool
	switch q.Order {
	case "", "desc":
		desc = true
	case "asc":
	default:
		return store.LogPage{}, invalid("order %q: want asc or desc", q.Order)
	}
	switch q.Level {
	case "", "info", "error":
	default:
		return store.LogPage{}, invalid("level %q: want info or error", q.Level)
	}
	if q.Limit < 0 {
		return store.LogPage{}, invalid("limit %d", q.Limit)
	}
	limit := q.Limit
	if limit == 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	var after []byte
	if q.Cursor != "" {
		var err error
		if after, err = decodeCursor(q.Cursor); err != nil {
			return store.LogPage{}, err
		}
	}
	f := newLogFilter(q)
	if q.ExecutionID != "" {
		return l.listOne(q, f, after)
	}

	var page store.LogPage
	err := l.db.View(func(tx *bbolt.Tx) error {
		var b *bbolt.Bucket
		var prefixes []string
		if len(q.WorkflowIDs) > 0 {
			b = tx.Bucket(bIdxWfTime)
			prefixes = slices.Compact(slices.Sorted(slices.Values(q.WorkflowIDs)))
		} else {
			b = tx.Bucket(bIdxWsTime)
			prefixes = []string{q.WorkspaceID}
		}
		its := make([]*idxIter, 0, len(prefixes))
		for _, p := range prefixes {
			if p == "" || strings.IndexByte(p, sep) >= 0 {
				continue
			}
			its = append(its, newIdxIter(b, p, q.Start, q.End, after, desc))
		}
		m := newMerge(its, desc)
		execs := tx.Bucket(bExecutions)
		var last []byte
		for scanned := 0; ; scanned++ {
			if scanned >= l.maxScan && last != nil {
				page.NextCursor = encodeCursor(last)
				return nil
			}
			pos, sum, ok := m.next()
			if !ok {
				return nil
			}
			last = pos
			if !f.matchSummary(sum) {
				continue
			}
			v := execs.Get(pos[8:])
			if v == nil {
				continue // index without record: skip
			}
			e, err := decodeRecord(pos[8:], v)
			if err != nil {
				return err
			}
			if q.WorkspaceID != "" && e.WorkspaceID != q.WorkspaceID {
				continue
			}
			page.Items = append(page.Items, e)
			if len(page.Items) == limit {
				if m.more() {
					page.NextCursor = encodeCursor(pos)
				}
				return nil
			}
		}
	})
	if err != nil {
		return store.LogPage{}, err
	}
	return page, nil
}

// listOne answers a query naming one execution.
func (l *LogDB) listOne(q store.LogQuery, f *logFilter, after []byte) (store.LogPage, error) {
	if after != nil {
		return store.LogPage{}, nil // the only match was on the first page
	}
	var page store.LogPage
	err := l.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bExecutions).Get([]byte(q.ExecutionID))
		if v == nil {
			return nil
		}
		h, err := decodeHead(v)
		if err != nil {
			return err
		}
		if q.WorkspaceID != "" && h.WorkspaceID != q.WorkspaceID {
			return nil
		}
		if q.WorkflowIDs != nil && !slices.Contains(q.WorkflowIDs, h.WorkflowID) {
			return nil
		}
		if (!q.Start.IsZero() && h.StartedAt < q.Start.UnixNano()) || (!q.End.IsZero() && h.StartedAt >= q.End.UnixNano()) {
			return nil
		}
		if !f.match([]byte(h.Status), []byte(h.Level), []byte(h.Trigger), h.DurationMs) {
			return nil
		}
		e, err := decodeRecord([]byte(q.ExecutionID), v)
		if err != nil {
			return err
		}
		page.Items = []*store.Execution{e}
		return nil
	})
	return page, err
}

type logFilter struct {
	triggers, statuses map[string]struct{}
	level              string
	minDur, maxDur     *int64
}

func newLogFilter(q store.LogQuery) *logFilter {
	set := func(vs []string) map[string]struct{} {
		if len(vs) == 0 {
			return nil
		}
		m := make(map[string]struct{}, len(vs))
		for _, v := range vs {
			m[v] = struct{}{}
		}
		return m
	}
	return &logFilter{triggers: set(q.Triggers), statuses: set(q.Statuses), level: q.Level, minDur: q.MinDurationMs, maxDur: q.MaxDurationMs}
}

func (f *logFilter) matchSummary(sum []byte) bool {
	status, level, trigger, dur, ok := parseSummary(sum)
	if !ok {
		return true // unknown summary: let the record decide (never happens in v1)
	}
	return f.match(status, level, trigger, dur)
}

func (f *logFilter) match(status, level, trigger []byte, dur int64) bool {
	if f.level != "" && string(level) != f.level {
		return false
	}
	if f.statuses != nil {
		if _, ok := f.statuses[string(status)]; !ok {
			return false
		}
	}
	if f.triggers != nil {
		if _, ok := f.triggers[string(trigger)]; !ok {
			return false
		}
	}
	if f.minDur != nil && dur < *f.minDur {
		return false
	}
	if f.maxDur != nil && dur > *f.maxDur {
		return false
	}
	return true
}

// idxIter walks one prefix of a time index between low (inclusive) and high
// (exclusive), both full keys.
type idxIter struct {
	c         *bbolt.Cursor
	low, high []byte
	plen      int
	desc      bool
	k, v      []byte // current entry; k nil when exhausted
}

func newIdxIter(b *bbolt.Bucket, prefix string, start, end time.Time, after []byte, desc bool) *idxIter {
	p := append([]byte(prefix), sep)
	it := &idxIter{c: b.Cursor(), plen: len(p), desc: desc}
	it.low = bytes.Clone(p)
	if !start.IsZero() {
		it.low = append(it.low, encTime(start.UnixNano())...)
	}
	if end.IsZero() {
		it.high = append([]byte(prefix), sep+1)
	} else {
		it.high = append(bytes.Clone(p), encTime(end.UnixNano())...)
	}
	if after != nil {
		if desc {
			if k := append(bytes.Clone(p), after...); bytes.Compare(k, it.high) < 0 {
				it.high = k
			}
		} else {
			if k := append(append(bytes.Clone(p), after...), 0); bytes.Compare(k, it.low) > 0 {
				it.low = k
			}
		}
	}
	if bytes.Compare(it.low, it.high) >= 0 {
		return it
	}
	if desc {
		k, v := it.c.Seek(it.high)
		if k == nil {
			k, v = it.c.Last()
		} else {
			k, v = it.c.Prev()
		}
		it.set(k, v)
	} else {
		it.set(it.c.Seek(it.low))
	}
	return it
}

func (it *idxIter) set(k, v []byte) {
	if k == nil || bytes.Compare(k, it.low) < 0 || bytes.Compare(k, it.high) >= 0 || len(k) < it.plen+9 {
		it.k, it.v = nil, nil
		return
	}
	it.k, it.v = k, v
}

func (it *idxIter) advance() {
	if it.desc {
		it.set(it.c.Prev())
	} else {
		it.set(it.c.Next())
	}
}

// pos is the current entry's time and id: the cursor position.
func (it *idxIter) pos() []byte { return it.k[it.plen:] }

// merge yields the entries of several iterators in one (time, id) order.
type merge struct {
	its  []*idxIter
	desc bool
}

func newMerge(its []*idxIter, desc bool) *merge {
	m := &merge{desc: desc}
	for _, it := range its {
		if it.k != nil {
			m.its = append(m.its, it)
		}
	}
	heap.Init(m)
	return m
}

func (m *merge) Len() int { return len(m.its) }
func (m *merge) Less(i, j int) bool {
	c := bytes.Compare(m.its[i].pos(), m.its[j].pos())
	if m.desc {
		return c > 0
	}
	return c < 0
}
func (m *merge) Swap(i, j int) { m.its[i], m.its[j] = m.its[j], m.its[i] }
func (m *merge) Push(x any)    { m.its = append(m.its, x.(*idxIter)) }
func (m *merge) Pop() any {
	it := m.its[len(m.its)-1]
	m.its = m.its[:len(m.its)-1]
	return it
}

func (m *merge) next() (pos, v []byte, ok bool) {
	if len(m.its) == 0 {
		return nil, nil, false
	}
	top := m.its[0]
	pos, v = top.pos(), top.v
	top.advance()
	if top.k == nil {
		heap.Pop(m)
	} else {
		heap.Fix(m, 0)
	}
	return pos, v, true
}

func (m *merge) more() bool { return len(m.its) > 0 }

func encodeCursor(pos []byte) string { return base64.RawURLEncoding.EncodeToString(pos) }

func decodeCursor(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 9 || bytes.IndexByte(b[8:], sep) >= 0 {
		return nil, invalid("malformed cursor")
	}
	return b, nil
}
