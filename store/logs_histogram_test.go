package store

import (
	"math"
	"testing"
)

func TestDurationBuckets(t *testing.T) {
	if DurationBucket(0) != 0 || DurationBucket(-5) != 0 || DurationBucket(1) != 1 || DurationBucket(3_600_000) != DurationBuckets-1 || DurationBucket(math.MaxInt64) != DurationBuckets-1 {
		t.Errorf("histogram edges: %d %d %d", DurationBucket(0), DurationBucket(1), DurationBucket(3_600_000))
	}
	for ms := int64(0); ms < 4_000_000; ms = ms*11/10 + 1 {
		i := DurationBucket(ms)
		lo, hi := DurationBucketBounds(i)
		if float64(ms) < lo || (i < DurationBuckets-1 && float64(ms) >= hi) {
			t.Fatalf("%d ms in bucket %d [%f, %f)", ms, i, lo, hi)
		}
	}
	var h DurationHistogram
	if h.Percentile(0.5) != 0 {
		t.Error("empty histogram percentile != 0")
	}
	for ms := int64(1); ms <= 1000; ms++ {
		h[DurationBucket(ms)]++
	}
	for _, p := range []float64{0.5, 0.95, 0.99} {
		exact := p * 1000
		if got := h.Percentile(p); got < exact/1.14 || got > exact*1.14 {
			t.Errorf("p%v = %f, exact %f", p*100, got, exact)
		}
	}
}
