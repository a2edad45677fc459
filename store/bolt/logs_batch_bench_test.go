package bolt

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLogPutBatchDelay weighs the group commit's wait for more records (BatchDelay)
// at the load test's concurrency: -1 commits whatever is queued at once, the default
// (2ms) waits while other Puts are on their way. recs/commit shows the batching; ns/op
// is per record with 32 writers, fsync included.
func BenchmarkLogPutBatchDelay(b *testing.B) {
	for _, d := range []time.Duration{-1, defaultBatchDelay, 5 * time.Millisecond} {
		b.Run(fmt.Sprintf("delay=%v", d), func(b *testing.B) {
			l, _ := openLogs(b, LogOptions{BatchDelay: d})
			var n atomic.Int64
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			start := l.batch.Commits()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mustPut(b, l, benchExec(n.Add(1)))
				}
			})
			b.StopTimer()
			if c := l.batch.Commits() - start; c > 0 {
				b.ReportMetric(float64(n.Load())/float64(c), "recs/commit")
			}
		})
	}
}
