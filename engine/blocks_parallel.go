package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// parallelConfig is read from the parallel container's data.
type parallelConfig struct {
	Type      string // count | collection
	Count     int
	Items     any
	BatchSize int
}

func parallelConfigOf(b *Block) parallelConfig {
	d := b.Data
	c := parallelConfig{Type: "count", Count: 5, BatchSize: 20}
	if s, _ := d["parallelType"].(string); s != "" {
		c.Type = s
	}
	if n := toInt(d["count"], 0); n > 0 {
		c.Count = n
	}
	if bs := toInt(d["batchSize"], 0); bs > 0 {
		c.BatchSize = min(max(bs, 1), 20)
	}
	c.Items = d["collection"]
	return c
}

type parallelPlan struct {
	cfg   parallelConfig
	items any
	order []string // key order of a literal object collection
}

var parallelType = &blockType{
	compile: func(p *Plan, n *node) error {
		pp := &parallelPlan{cfg: parallelConfigOf(n.b)}
		if pp.cfg.Type != "count" && pp.cfg.Type != "collection" {
			return fmt.Errorf("unknown parallel type %q", pp.cfg.Type)
		}
		pp.items = p.compileValue(pp.cfg.Items)
		pp.order = collectionKeyOrder(n.b)
		n.params = map[string]any{}
		n.ext = pp
		return nil
	},
}

// runParallel runs one branch per count/item, batchSize branches at a time; the next
// batch starts when the whole batch finished. Results are ordered by branch index.
func (r *run) runParallel(ctx context.Context, x *execCtx) (map[string]any, []TraceSpan, error) {
	n := x.n
	pp := n.ext.(*parallelPlan)
	branches := pp.cfg.Count
	var items []any
	var rawItems any
	hasItems := pp.cfg.Type == "collection"
	if hasItems {
		var err error
		items, rawItems, err = x.collection(pp.items, pp.order, "parallel")
		if err != nil {
			return nil, nil, err
		}
		branches = len(items)
	}
	if branches > r.maxIter {
		return nil, nil, &containerError{msg: fmt.Sprintf("parallel %q has %d branches, more than the maximum of %d", n.name, branches, r.maxIter)}
	}
	results := make([]any, branches)
	spans := make([]TraceSpan, branches)
	frames := make([]*frame, branches)
	errs := make([]error, branches)
	for lo := 0; lo < branches; lo += pp.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if r.isStopped() {
			break
		}
		hi := min(lo+pp.cfg.BatchSize, branches)
		var wg sync.WaitGroup
		for i := lo; i < hi; i++ {
			it := &iterCtx{parallel: true, containerID: n.id, index: i, hasItems: hasItems, items: rawItems}
			if hasItems {
				it.item = items[i]
			}
			frames[i] = newFrame(x.fr, it)
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer func() {
					if rec := recover(); rec != nil {
						errs[i] = fmt.Errorf("parallel branch %d: internal error: %v", i, rec)
					}
				}()
				start := time.Now()
				errs[i] = r.runScope(ctx, frames[i], n.sub)
				if r.keepSpan(0) {
					spans[i] = iterationSpan(n, i, start, frames[i], errs[i])
				}
			}(i)
		}
		wg.Wait()
		for i := lo; i < hi; i++ {
			if errs[i] != nil {
				return nil, trimSpans(spans[:hi]), errs[i]
			}
			results[i] = r.frameOutputs(frames[i])
		}
	}
	// After the parallel, <child.x> reads the highest-index branch that ran (Sim leaves
	// this unspecified; this keeps it deterministic).
	for i := branches - 1; i >= 0; i-- {
		if frames[i] != nil {
			r.promote(x.fr, frames[i])
			break
		}
	}
	return map[string]any{"results": results}, trimSpans(spans), nil
}

func trimSpans(s []TraceSpan) []TraceSpan {
	out := s[:0:0]
	for _, sp := range s {
		if sp.ID != "" {
			out = append(out, sp)
		}
	}
	return out
}
