package sandbox

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The scheduler alone: a tenant at its share queues while another tenant gets the
// free worker, freed slots go to waiting tenants in turn, and a tenant's full queue
// refuses only that tenant.
func TestSchedFairShare(t *testing.T) {
	ctx := context.Background()
	s := newSched(2, 0, 4, 3)
	if err := s.acquire(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	// a alone may hold size-1 = 1 worker: its next call waits though one is free.
	got := make(chan string, 8)
	wait := func(tenant string) {
		go func() {
			if err := s.acquire(ctx, tenant, nil); err != nil {
				got <- "err " + tenant
				return
			}
			got <- tenant
		}()
	}
	for range 3 {
		wait("a")
	}
	time.Sleep(50 * time.Millisecond)
	select {
	case g := <-got:
		t.Fatalf("%s got a worker beyond its share", g)
	default:
	}
	if err := s.acquire(ctx, "a", nil); !errors.Is(err, ErrPoolBusy) {
		t.Fatalf("a's fourth waiter: %v, want ErrPoolBusy (its queue is full)", err)
	}
	// b gets the free worker at once.
	if err := s.acquire(ctx, "b", nil); err != nil {
		t.Fatal(err)
	}
	wait("b")
	time.Sleep(50 * time.Millisecond)
	// b releases: a is still at its share (1 of 2 workers), so b's waiter runs.
	s.release("b")
	if g := <-got; g != "b" {
		t.Fatalf("freed slot went to %s, want b", g)
	}
	// a releases: a's next waiter runs.
	s.release("a")
	if g := <-got; g != "a" {
		t.Fatalf("freed slot went to %s, want a", g)
	}
	// Cancelling a waiter removes it from the queue.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	s.mu.Lock()
	waiting := s.waiting
	s.mu.Unlock()
	if err := s.acquire(cctx, "c", nil); err == nil {
		t.Fatal("cancelled acquire succeeded")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting != waiting || len(s.queues["c"]) != 0 {
		t.Fatalf("cancelled waiter left behind: waiting %d → %d", waiting, s.waiting)
	}
}
