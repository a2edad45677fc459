package auth

import (
	"math"
	"sync"
	"time"
)

// limiter holds one token bucket per key: capacity = the per-minute limit, refilled
// continuously at limit/60 tokens per second.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	limit  int
	tokens float64
	last   time.Time
}

// take spends one token of key's bucket. It returns the state to report and, when the
// bucket is empty, how long until a token is back.
func (l *limiter) take(key string, limit int, now time.Time) (RateState, time.Duration) {
	rate := float64(limit) / 60 // tokens per second
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil || b.limit != limit {
		b = &bucket{limit: limit, tokens: float64(limit), last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(float64(limit), b.tokens+el*rate)
		b.last = now
	}
	var retry time.Duration
	if b.tokens >= 1 {
		b.tokens--
	} else {
		retry = time.Duration((1 - b.tokens) / rate * float64(time.Second))
		if retry < time.Second {
			retry = time.Second // Retry-After is whole seconds; never say 0
		}
	}
	full := time.Duration((float64(limit) - b.tokens) / rate * float64(time.Second))
	return RateState{Limit: limit, Remaining: int(b.tokens), Reset: now.Add(full)}, retry
}
