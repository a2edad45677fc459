package engine

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound what one run may cost. Nested loops and parallels multiply their
// iteration caps, and every block output, log entry and trace span is retained until
// the run is recorded, so without these a single request can take the server's memory.
// Zero fields take the defaults below.
type Limits struct {
	// MaxBlockExecutions caps block (and container) executions across the whole run,
	// however deeply loops and parallels nest.
	MaxBlockExecutions int
	// MaxRetainedBytes caps the block outputs a run keeps (the run fails beyond it) and,
	// separately, its block logs and trace spans together (later entries are dropped
	// with a marker). One log entry's input or output larger than
	// MaxRetainedBytes/EntryFraction is replaced by a marker. Sizes are JSON sizes.
	MaxRetainedBytes int64
	// MaxFunctionTimeout caps one function block's run time (default 5 minutes). A
	// function runs for the run's remaining time, as in Sim, up to this cap.
	MaxFunctionTimeout time.Duration
}

// Limit defaults.
const (
	DefaultMaxBlockExecutions = 100_000
	DefaultMaxRetainedBytes   = 8 << 20
	// EntryFraction sets the per-entry log cap as a fraction of MaxRetainedBytes.
	EntryFraction = 32
)

// CodeBudgetExceeded is Result.ErrorCode when a run exceeded one of its Limits.
const CodeBudgetExceeded = "budget_exceeded"

// BudgetError is the run failure of an exceeded limit; Limit names it.
type BudgetError struct {
	Limit string // max_block_executions | max_retained_bytes
	Msg   string
}

func (e *BudgetError) Error() string { return e.Msg }

// spanOverhead approximates a log entry's or span's own fields in JSON.
const spanOverhead = 256

// Budget is a run's accounting of its Limits. Child workflows share their parent's
// (RunInput.Budget), so a workflow block inside a loop does not get a fresh budget per
// iteration.
type Budget struct {
	maxExecs int64
	maxBytes int64
	maxEntry int64
	execs    atomic.Int64

	mu         sync.Mutex
	outBytes   int64
	logBytes   int64
	omittedLog int
	omittedSp  int
}

func newBudget(l Limits) *Budget {
	b := &Budget{maxExecs: int64(l.MaxBlockExecutions), maxBytes: l.MaxRetainedBytes}
	if b.maxExecs <= 0 {
		b.maxExecs = DefaultMaxBlockExecutions
	}
	if b.maxBytes <= 0 {
		b.maxBytes = DefaultMaxRetainedBytes
	}
	b.maxEntry = max(b.maxBytes/EntryFraction, 1024)
	return b
}

// countExecution takes one block execution from the budget.
func (r *run) countExecution() error {
	if n := r.bud.execs.Add(1); n > r.bud.maxExecs {
		return &BudgetError{Limit: "max_block_executions", Msg: fmt.Sprintf(
			"run exceeded its limit of %d block executions (max-block-executions); nested loops and parallels multiply their iterations", r.bud.maxExecs)}
	}
	return nil
}

// retainOutput charges a block's output against the run's output budget. Trigger
// outputs are the caller's input, already bounded by the front door.
func (r *run) retainOutput(n *node, out map[string]any) error {
	if isTrigger(n.typ) || out == nil {
		return nil
	}
	b := r.bud
	b.mu.Lock()
	room := b.maxBytes - b.outBytes
	b.mu.Unlock()
	sz := jsonSize(out, room+1)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.outBytes += sz
	if b.outBytes > b.maxBytes {
		return &BudgetError{Limit: "max_retained_bytes", Msg: fmt.Sprintf(
			"block %q: run exceeded its limit of %s of retained block outputs (max-run-bytes)", n.name, byteSize(r.bud.maxBytes))}
	}
	return nil
}

// logValue returns what a log entry or span keeps of v: v redacted, or a marker when
// it is larger than the per-entry cap (measured before copying, so a huge value is
// never copied). It also returns the charged size.
func (r *run) logValue(v map[string]any) (map[string]any, int64) {
	if v == nil {
		return nil, 0
	}
	sz := jsonSize(v, r.bud.maxEntry+1)
	if sz > r.bud.maxEntry {
		m := truncatedMarker(fmt.Sprintf("value larger than the %s per-entry log cap was left out", byteSize(r.bud.maxEntry)))
		return m, 128
	}
	return r.red.valueMap(v), sz
}

func truncatedMarker(msg string) map[string]any {
	return map[string]any{"truncated": true, "message": msg}
}

// keepEntry charges one log entry plus its span (they share values, but both are
// serialised) and reports whether they fit the run's log budget.
func (b *Budget) keepEntry(sz int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	cost := 2 * (spanOverhead + sz)
	if b.logBytes+cost > b.maxBytes {
		b.omittedLog++
		b.omittedSp++
		return false
	}
	b.logBytes += cost
	return true
}

// keepSpan charges a span without a log entry (containers, iterations).
func (b *Budget) keepSpan(sz int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	cost := spanOverhead + sz
	if b.logBytes+cost > b.maxBytes {
		b.omittedSp++
		return false
	}
	b.logBytes += cost
	return true
}

func (r *run) keepSpan(sz int64) bool { return r.bud.keepSpan(sz) }

// truncationMarkers are appended to the logs and spans when entries were dropped.
func (b *Budget) truncationMarkers(logs []BlockLog, spans []TraceSpan) ([]BlockLog, []TraceSpan) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.omittedLog > 0 {
		msg := fmt.Sprintf("%d block log entries left out: the run reached its %s log limit (max-run-bytes)", b.omittedLog, byteSize(b.maxBytes))
		m := truncatedMarker(msg)
		m["omitted"] = float64(b.omittedLog)
		logs = append(logs, BlockLog{BlockID: "truncated", BlockName: "Logs truncated", BlockType: "truncated", Success: true,
			Output: m, ExecutionOrder: len(logs) + 1})
	}
	if b.omittedSp > 0 {
		msg := fmt.Sprintf("%d trace spans left out: the run reached its %s log limit (max-run-bytes)", b.omittedSp, byteSize(b.maxBytes))
		m := truncatedMarker(msg)
		m["omitted"] = float64(b.omittedSp)
		var t TraceSpan
		if len(spans) > 0 {
			t = spans[len(spans)-1]
		}
		spans = append(spans, TraceSpan{ID: "truncated", Name: "Trace truncated", Type: "truncated", Status: "success",
			StartTime: t.EndTime, EndTime: t.EndTime, Output: m})
	}
	return logs, spans
}

// jsonSize approximates the JSON encoding size of v, giving up once it exceeds limit
// (the result is then some value > limit).
func jsonSize(v any, limit int64) int64 {
	var n int64
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case nil:
			n += 4
		case string:
			n += int64(len(x)) + 2
		case bool:
			n += 5
		case float64, int64, int, float32, int32, uint64:
			n += 8
		case map[string]any:
			n += 2
			for k, e := range x {
				n += int64(len(k)) + 4
				if n > limit || !walk(e) {
					return false
				}
			}
		case []any:
			n += 2
			for _, e := range x {
				n++
				if n > limit || !walk(e) {
					return false
				}
			}
		case map[string]string:
			for k, e := range x {
				n += int64(len(k)+len(e)) + 6
			}
		case []string:
			for _, e := range x {
				n += int64(len(e)) + 3
			}
		default:
			n += 16
		}
		return n <= limit
	}
	walk(v)
	return n
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func isBudgetError(err error) bool {
	var be *BudgetError
	return errors.As(err, &be)
}
