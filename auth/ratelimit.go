package auth

import (
	"container/list"
	"math"
	"sync"
	"time"
)

// limiter holds one token bucket per key: capacity = the per-minute limit, refilled
// continuously at limit/60 tokens per second. It keeps at most max buckets, dropping
// the least recently used: anyone can make it create buckets (login throttles are keyed
// by client address and account), so its memory must not depend on them. A dropped
// bucket was idle longest; for the login throttles that means nobody has tried that
// key recently, and refilling it loses little.
type limiter struct {
	mu      sync.Mutex
	max     int
	buckets map[string]*list.Element // of *bucket
	lru     list.List                // front = most recently used
}

type bucket struct {
	key    string
	limit  int
	tokens float64
	last   time.Time
}

func newLimiter(max int) *limiter {
	return &limiter{max: max, buckets: make(map[string]*list.Element)}
}

// take spends one token of key's bucket. It returns the state to report and, when the
// bucket is empty, how long until a token is back.
func (l *limiter) take(key string, limit int, now time.Time) (RateState, time.Duration) {
	rate := float64(limit) / 60 // tokens per second
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if el := l.buckets[key]; el != nil {
		b = el.Value.(*bucket)
		l.lru.MoveToFront(el)
	} else {
		for len(l.buckets) >= l.max {
			oldest := l.lru.Back()
			delete(l.buckets, oldest.Value.(*bucket).key)
			l.lru.Remove(oldest)
		}
		b = &bucket{key: key, limit: limit, tokens: float64(limit), last: now}
		l.buckets[key] = l.lru.PushFront(b)
	}
	if b.limit != limit {
		b.limit, b.tokens, b.last = limit, float64(limit), now
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

// size reports how many buckets the limiter holds.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
