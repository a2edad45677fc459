package batch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

var errBad = errors.New("bad record")

// recorder is a write that keeps every batch it was given and refuses any batch holding
// a negative record.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
}

func (r *recorder) write(_ context.Context, b []int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, slices.Clone(b))
	if slices.ContainsFunc(b, func(v int) bool { return v < 0 }) {
		return errBad
	}
	return nil
}

func TestPutsShareCommitsAndABadRecordFailsAlone(t *testing.T) {
	const n = 200
	var rec recorder
	var w *Writer[int]
	var once sync.Once
	write := func(ctx context.Context, b []int) error {
		// Hold the first write until every Put is in flight, so the rest queue up.
		once.Do(func() {
			for w.inflight.Load() < n {
				time.Sleep(time.Millisecond)
			}
		})
		return rec.write(ctx, b)
	}
	w = New(Options{Size: 64, Delay: 5 * time.Millisecond, Closed: errors.New("closed")}, write, nil)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v := i
			if i == 17 {
				v = -1
			}
			errs[i] = w.Put(context.Background(), v)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 17) != errors.Is(err, errBad) {
			t.Errorf("put %d: %v", i, err)
		}
	}
	if c := w.Commits(); c > 10 || c < (n+63)/64 {
		t.Errorf("%d puts in %d commits", n, c)
	}
	for _, b := range rec.batches {
		if len(b) > 64 {
			t.Errorf("batch of %d records, size 64", len(b))
		}
	}
	if !w.Close() || w.Close() {
		t.Error("Close reports closing twice, or not at all")
	}
	if err := w.Put(context.Background(), 1); err == nil || err.Error() != "closed" {
		t.Errorf("put after close: %v", err)
	}
}

func TestBytesBoundABatch(t *testing.T) {
	var rec recorder
	gate := make(chan struct{})
	write := func(ctx context.Context, b []int) error {
		<-gate // hold the writer so the rest queue up
		return rec.write(ctx, b)
	}
	w := New(Options{Size: 100, Bytes: 10, Delay: -1}, write, func(v int) int { return v })
	var wg sync.WaitGroup
	wg.Go(func() { w.Put(context.Background(), 1) })
	for w.inflight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for range 8 {
		if err := w.Mark(context.Background(), 4); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	wg.Wait()
	w.Close()
	for _, b := range rec.batches[1:] {
		sum := 0
		for _, v := range b[:len(b)-1] {
			sum += v
		}
		if sum >= 10 {
			t.Errorf("batch %v went on past 10 bytes", b)
		}
	}
	total := 0
	for _, b := range rec.batches {
		total += len(b)
	}
	if total != 9 {
		t.Errorf("%d records written, want 9", total)
	}
}
