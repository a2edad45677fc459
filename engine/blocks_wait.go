package engine

import (
	"context"
	"fmt"
	"time"
)

// maxWait bounds a synchronous wait; Sim's long/async waits suspend the run instead,
// which SteelEngine does not do.
const maxWait = 10 * time.Minute

var waitType = &blockType{run: runWait}

func runWait(ctx context.Context, x *execCtx) (map[string]any, error) {
	v, ok := toNumber(x.input["timeValue"])
	if !ok || v < 0 {
		return nil, fmt.Errorf("timeValue must be a non-negative number")
	}
	unit := time.Second
	switch x.str("timeUnit") {
	case "minutes":
		unit = time.Minute
	case "hours":
		unit = time.Hour
	case "", "seconds":
	default:
		return nil, fmt.Errorf("unknown time unit %q", x.str("timeUnit"))
	}
	d := time.Duration(v * float64(unit))
	if d > maxWait {
		return nil, fmt.Errorf("wait of %s exceeds the maximum of %s", d, maxWait)
	}
	if err := sleepCtx(ctx, d); err != nil {
		return nil, err
	}
	return map[string]any{"waitDuration": float64(d.Milliseconds()), "status": "completed"}, nil
}
