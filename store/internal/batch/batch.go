// Package batch is the group commit both execution logs use: callers queue records, one
// goroutine gathers what is queued into a batch and writes it in one transaction, and
// each caller is answered once its batch committed. Batching is what lets thousands of
// concurrent runs share few fsyncs (bbolt) or round trips (PostgreSQL).
package batch

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Options bound a batch and say how long the writer waits for one to fill.
type Options struct {
	// Size is the most records one batch holds.
	Size int
	// Bytes bounds the sum of the records' sizes in one batch; 0 leaves it unbounded.
	Bytes int
	// Delay is the longest the writer waits for more records while other Puts are in
	// flight; a negative Delay never waits.
	Delay time.Duration
	// Timeout bounds each write's context; 0 leaves it without a deadline. The writer
	// outlives its callers' contexts: an accepted record is written even if its Put gave
	// up waiting.
	Timeout time.Duration
	// Closed is the error Put and Mark return after Close.
	Closed error
}

// Writer group-commits records of type T.
type Writer[T any] struct {
	opts  Options
	write func(ctx context.Context, batch []T) error
	size  func(T) int

	mu       sync.RWMutex // guards closed and sends on reqs
	closed   bool
	reqs     chan *req[T]
	done     chan struct{}
	inflight atomic.Int64 // Puts between enqueue and acknowledgement
	commits  atomic.Int64 // write transactions (for tests and benchmarks)
}

type req[T any] struct {
	rec  T
	done chan error
}

// New starts a writer. write stores a batch in one transaction; if it fails for a batch
// of several records, each is written again alone, so one bad record cannot fail the
// others. size gives a record's weight against opts.Bytes (nil when Bytes is 0).
func New[T any](opts Options, write func(ctx context.Context, batch []T) error, size func(T) int) *Writer[T] {
	w := &Writer[T]{
		opts:  opts,
		write: write,
		size:  size,
		reqs:  make(chan *req[T], opts.Size),
		done:  make(chan struct{}),
	}
	go w.run()
	return w
}

// Put queues rec and returns once the batch holding it committed, with that batch's error
// (or rec's own, when it was retried alone). A cancelled ctx fails the call only if rec
// was not yet handed to the writer.
func (w *Writer[T]) Put(ctx context.Context, rec T) error {
	w.inflight.Add(1)
	defer w.inflight.Add(-1)
	r := &req[T]{rec: rec, done: make(chan error, 1)}
	if err := w.enqueue(ctx, r); err != nil {
		return err
	}
	return <-r.done
}

// Mark queues rec for the next batch and returns without waiting for it.
func (w *Writer[T]) Mark(ctx context.Context, rec T) error {
	return w.enqueue(ctx, &req[T]{rec: rec, done: make(chan error, 1)})
}

// Close waits for every accepted record to be written; later Puts fail with opts.Closed.
// It reports whether this call closed the writer (false when it was already closed).
func (w *Writer[T]) Close() bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.closed = true
	close(w.reqs)
	w.mu.Unlock()
	<-w.done
	return true
}

// Commits is the number of write transactions so far.
func (w *Writer[T]) Commits() int64 { return w.commits.Load() }

func (w *Writer[T]) enqueue(ctx context.Context, r *req[T]) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return w.opts.Closed
	}
	select {
	case w.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the single goroutine that writes batches.
func (w *Writer[T]) run() {
	defer close(w.done)
	batch := make([]*req[T], 0, w.opts.Size)
	recs := make([]T, 0, w.opts.Size)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		r, ok := <-w.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		w.collect(&batch, timer)
		recs = recs[:0]
		for _, r := range batch {
			recs = append(recs, r.rec)
		}
		w.commit(batch, recs)
		clear(batch)
		clear(recs)
	}
}

// collect adds queued records to batch until it is full (Size records or Bytes), or
// nothing is queued and either no other Put is in flight or Delay has passed.
func (w *Writer[T]) collect(batch *[]*req[T], timer *time.Timer) {
	timerOn := false
	defer func() {
		if timerOn {
			timer.Stop()
		}
	}()
	size := 0
	weigh := func(r *req[T]) {
		if w.opts.Bytes > 0 {
			size += w.size(r.rec)
		}
	}
	for _, r := range *batch {
		weigh(r)
	}
	add := func(r *req[T]) {
		*batch = append(*batch, r)
		weigh(r)
	}
	for len(*batch) < w.opts.Size && (w.opts.Bytes <= 0 || size < w.opts.Bytes) {
		select {
		case r, ok := <-w.reqs:
			if !ok {
				return
			}
			add(r)
			continue
		default:
		}
		// Nothing queued. Wait only if some caller is about to enqueue.
		if w.opts.Delay < 0 || w.inflight.Load() <= int64(len(*batch)) {
			return
		}
		if !timerOn {
			timer.Reset(w.opts.Delay)
			timerOn = true
		}
		select {
		case r, ok := <-w.reqs:
			if !ok {
				return
			}
			add(r)
		case <-timer.C:
			timerOn = false
			return
		}
	}
}

func (w *Writer[T]) commit(batch []*req[T], recs []T) {
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if w.opts.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, w.opts.Timeout)
	}
	defer cancel()
	w.commits.Add(1)
	err := w.write(ctx, recs)
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			r.done <- w.write(ctx, []T{r.rec})
		}
		return
	}
	for _, r := range batch {
		r.done <- err
	}
}
