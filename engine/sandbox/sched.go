package sandbox

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// sched hands out the pool's worker slots fairly between tenants (workspaces). A
// tenant holds at most its share of the workers, so a tenant running endless scripts
// cannot take every worker; callers beyond their share wait in a per-tenant queue,
// and freed slots go to waiting tenants in turn. A caller fails fast with ErrPoolBusy
// only when its own tenant's queue or the whole queue is full.
type sched struct {
	size        int // workers
	tenantLimit int // fixed per-tenant cap; 0 → fair share (see limit)
	queueSize   int // waiters in all
	tenantQueue int // waiters per tenant

	mu      sync.Mutex
	free    int
	running map[string]int
	queues  map[string][]*waiter
	order   []string // tenants with waiters, served round-robin
	waiting int
	closed  bool
}

type waiter struct {
	ready   chan struct{}
	granted bool
}

func newSched(size, tenantLimit, queueSize, tenantQueue int) *sched {
	return &sched{size: size, tenantLimit: tenantLimit, queueSize: queueSize, tenantQueue: tenantQueue,
		free: size, running: map[string]int{}, queues: map[string][]*waiter{}}
}

// limit is how many workers tenant t may hold: an equal share among the tenants that
// are running or waiting, but never the last worker while other tenants could need it
// (one tenant alone gets size-1, so a newcomer never waits for a runaway's timeout).
func (s *sched) limit(t string) int {
	if s.tenantLimit > 0 {
		return s.tenantLimit
	}
	active := len(s.running)
	for q := range s.queues {
		if s.running[q] == 0 {
			active++
		}
	}
	if s.running[t] == 0 && len(s.queues[t]) == 0 {
		active++
	}
	share := (s.size + active - 1) / active
	return max(1, min(share, s.size-1))
}

// acquire takes a slot for tenant t, waiting in t's queue if t is at its share or no
// worker is free.
func (s *sched) acquire(ctx context.Context, t string, done <-chan struct{}) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrPoolClosed
	}
	if s.free > 0 && len(s.queues[t]) == 0 && s.running[t] < s.limit(t) {
		s.free--
		s.running[t]++
		s.mu.Unlock()
		return nil
	}
	if s.waiting >= s.queueSize || len(s.queues[t]) >= s.tenantQueue {
		s.mu.Unlock()
		return ErrPoolBusy
	}
	w := &waiter{ready: make(chan struct{})}
	if len(s.queues[t]) == 0 {
		s.order = append(s.order, t)
	}
	s.queues[t] = append(s.queues[t], w)
	s.waiting++
	s.mu.Unlock()

	var err error
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = fmt.Errorf("sandbox: waiting for a worker: %w", context.Cause(ctx))
	case <-done:
		err = ErrPoolClosed
	}
	s.mu.Lock()
	if w.granted {
		s.mu.Unlock()
		s.release(t)
		return err
	}
	q := s.queues[t]
	if i := slices.Index(q, w); i >= 0 {
		s.queues[t] = slices.Delete(q, i, i+1)
		s.waiting--
	}
	if len(s.queues[t]) == 0 {
		delete(s.queues, t)
		s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == t })
	}
	s.mu.Unlock()
	return err
}

// release returns tenant t's slot and hands free slots to waiting tenants in turn.
func (s *sched) release(t string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[t]--; s.running[t] <= 0 {
		delete(s.running, t)
	}
	s.free++
	for s.free > 0 {
		i := slices.IndexFunc(s.order, func(x string) bool { return s.running[x] < s.limit(x) })
		if i < 0 {
			return
		}
		t := s.order[i]
		q := s.queues[t]
		w := q[0]
		s.queues[t] = q[1:]
		s.waiting--
		s.order = slices.Delete(s.order, i, i+1)
		if len(s.queues[t]) > 0 {
			s.order = append(s.order, t) // to the back: the others' turn first
		} else {
			delete(s.queues, t)
		}
		s.free--
		s.running[t]++
		w.granted = true
		close(w.ready)
	}
}

func (s *sched) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}
