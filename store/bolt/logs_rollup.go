package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// Metrics aggregates finished executions (completed, failed, cancelled; failed ones are
// errors) per bucket from the hourly rollups, never reading records. Buckets come in
// ascending time order and only buckets with at least one execution are returned.
// Percentiles are estimated from a log-spaced histogram (within about 13%).
func (l *LogDB) Metrics(ctx context.Context, q store.MetricsQuery) ([]store.MetricsBucket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Bucket == 0 {
		q.Bucket = time.Hour
	}
	if q.Bucket < time.Hour || q.Bucket%time.Hour != 0 {
		return nil, invalid("metrics bucket %v: want a whole number of hours", q.Bucket)
	}
	if q.WorkspaceID == "" && len(q.WorkflowIDs) == 0 {
		if q.WorkflowIDs != nil {
			return nil, nil
		}
		return nil, invalid("metrics query needs a workspaceId or workflowIds")
	}
	if q.WorkflowIDs != nil && len(q.WorkflowIDs) == 0 {
		return nil, nil
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.End.Before(q.Start) {
		return nil, invalid("metrics end %v before start %v", q.End, q.Start)
	}
	bucketSec := int64(q.Bucket / time.Second)
	agg := map[int64]*rollup{}
	err := l.db.View(func(tx *bbolt.Tx) error {
		var b *bbolt.Bucket
		var prefixes []string
		if q.WorkflowIDs != nil {
			b = tx.Bucket(bRollups)
			prefixes = slices.Compact(slices.Sorted(slices.Values(q.WorkflowIDs)))
		} else {
			b = tx.Bucket(bRollupsWs)
			prefixes = []string{q.WorkspaceID}
		}
		for _, p := range prefixes {
			pk := append([]byte(p), sep)
			seek := bytes.Clone(pk)
			if !q.Start.IsZero() {
				seek = append(seek, encTime(hourOf(q.Start.UnixNano()))...)
			}
			c := b.Cursor()
			for k, v := c.Seek(seek); k != nil && bytes.HasPrefix(k, pk); k, v = c.Next() {
				if len(k) != len(pk)+8 {
					continue
				}
				hour := decTime(k[len(pk):])
				if !q.End.IsZero() && hour*int64(time.Second) >= q.End.UnixNano() {
					break
				}
				var r rollup
				if err := r.decode(v); err != nil {
					return fmt.Errorf("rollup %q: %w", k, err)
				}
				bs := floorDiv(hour, bucketSec) * bucketSec
				a := agg[bs]
				if a == nil {
					a = &rollup{}
					agg[bs] = a
				}
				a.merge(&r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.MetricsBucket, 0, len(agg))
	for _, bs := range slices.Sorted(mapsKeys(agg)) {
		r := agg[bs]
		if r.Count <= 0 {
			continue
		}
		out = append(out, store.MetricsBucket{
			Start:     time.Unix(bs, 0).UTC(),
			Count:     r.Count,
			Errors:    r.Errors,
			ErrorRate: float64(r.Errors) / float64(r.Count),
			P50Ms:     r.percentile(0.50),
			P95Ms:     r.percentile(0.95),
			P99Ms:     r.percentile(0.99),
			Cost:      r.Cost,
		})
	}
	return out, nil
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// rollupVersion is the encoding of stored rollups; the histogram's buckets are
// store.DurationBucket's, so changing them needs a new version too.
const rollupVersion = 1

// rollup aggregates the finished executions of one workflow (or workspace) in one hour.
type rollup struct {
	Count, Errors int64
	Cost          float64
	Hist          store.DurationHistogram
}

func (r *rollup) merge(o *rollup) {
	r.Count += o.Count
	r.Errors += o.Errors
	r.Cost += o.Cost
	for i := range r.Hist {
		r.Hist[i] += o.Hist[i]
	}
}

func (r *rollup) percentile(p float64) float64 { return r.Hist.Percentile(p) }

// encode: version, varint count, errors, float64 cost, then (index, count) varint pairs
// for the non-empty histogram buckets.
func (r *rollup) encode() []byte {
	b := []byte{rollupVersion}
	b = binary.AppendVarint(b, r.Count)
	b = binary.AppendVarint(b, r.Errors)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Cost))
	for i, c := range r.Hist {
		if c != 0 {
			b = binary.AppendUvarint(b, uint64(i))
			b = binary.AppendVarint(b, c)
		}
	}
	return b
}

func (r *rollup) decode(b []byte) error {
	*r = rollup{}
	if len(b) == 0 || b[0] != rollupVersion {
		return errors.New("unknown rollup encoding")
	}
	d := decoder{b: b[1:]}
	r.Count = d.varint()
	r.Errors = d.varint()
	r.Cost = math.Float64frombits(d.uint64())
	for len(d.b) > 0 && d.err == nil {
		i := d.uvarint()
		c := d.varint()
		if i >= store.DurationBuckets {
			return errors.New("rollup histogram index out of range")
		}
		r.Hist[i] = c
	}
	return d.err
}

// addRollups adds (sign 1) or removes (sign -1) h's contribution to its workflow's and
// workspace's hourly rollups. Empty rollups are deleted.
func addRollups(tx *bbolt.Tx, h *head, sign int64) error {
	hour := encTime(hourOf(h.StartedAt))
	for _, t := range [...]struct {
		bucket []byte
		owner  string
	}{{bRollups, h.WorkflowID}, {bRollupsWs, h.WorkspaceID}} {
		b := tx.Bucket(t.bucket)
		k := append(append([]byte(t.owner), sep), hour...)
		var r rollup
		if v := b.Get(k); v != nil {
			if err := r.decode(v); err != nil {
				return fmt.Errorf("rollup %q: %w", k, err)
			}
		}
		r.Count += sign
		if h.Status == store.StatusFailed {
			r.Errors += sign
		}
		r.Cost += float64(sign) * h.Cost
		r.Hist[store.DurationBucket(h.DurationMs)] += sign
		if r.Count <= 0 {
			if err := b.Delete(k); err != nil {
				return err
			}
			continue
		}
		if err := b.Put(k, r.encode()); err != nil {
			return err
		}
	}
	return nil
}
