package store

import (
	"math"
	"slices"
)

// Execution durations are rolled up into a log-spaced histogram: bucket 0 is [0, 1 ms),
// buckets 1..n-2 split [1 ms, 1 h) evenly on a log scale (ratio ≈ 1.13), bucket n-1 is
// [1 h, ∞). Every backend stores rollups with these buckets, so percentiles agree between
// them; changing the edges changes the meaning of stored rollups.
const (
	DurationBuckets = 128
	histMaxMs       = 3_600_000
)

var histEdges = func() (e [DurationBuckets - 1]float64) {
	step := math.Log(histMaxMs) / float64(DurationBuckets-2)
	for i := range e {
		e[i] = math.Exp(float64(i) * step)
	}
	e[len(e)-1] = histMaxMs
	return e
}()

// DurationBucket returns the histogram bucket of a duration in milliseconds (negative
// durations count as 0).
func DurationBucket(ms int64) int {
	d := float64(max(ms, 0))
	i, _ := slices.BinarySearch(histEdges[:], d) // first edge >= d
	if i < len(histEdges) && histEdges[i] == d {
		i++ // edges are inclusive lower bounds of the next bucket
	}
	return i
}

// DurationBucketBounds returns bucket i's range [lo, hi) in milliseconds; the last
// bucket, which is unbounded, reports lo == hi.
func DurationBucketBounds(i int) (lo, hi float64) {
	switch {
	case i == 0:
		return 0, histEdges[0]
	case i >= len(histEdges):
		return histEdges[len(histEdges)-1], histEdges[len(histEdges)-1]
	default:
		return histEdges[i-1], histEdges[i]
	}
}

// DurationHistogram counts durations per DurationBucket.
type DurationHistogram [DurationBuckets]int64

// Percentile estimates the p-quantile (nearest rank) in milliseconds by interpolating
// inside the bucket that holds it; 0 for an empty histogram.
func (h *DurationHistogram) Percentile(p float64) float64 {
	var n int64
	for _, c := range h {
		n += c
	}
	if n <= 0 {
		return 0
	}
	rank := int64(math.Ceil(p * float64(n)))
	rank = max(rank, 1)
	var cum int64
	for i, c := range h {
		if c <= 0 {
			continue
		}
		if cum+c >= rank {
			lo, hi := DurationBucketBounds(i)
			frac := (float64(rank-cum) - 0.5) / float64(c)
			return lo + (hi-lo)*frac
		}
		cum += c
	}
	lo, _ := DurationBucketBounds(DurationBuckets - 1)
	return lo
}
