package engine

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// maxWait bounds an in-process wait (Sim: 5 minutes); longer waits use async mode,
// which pauses the run durably (pause.go).
const maxWait = 10 * time.Minute

var waitType = &blockType{run: runWait}

// runWait follows Sim's wait handler (apps/sim/executor/handlers/wait/wait-handler.ts):
// without async the block sleeps in the run; with async it pauses the run until
// resumeAt (minutes, hours or days; at most 30 days).
func runWait(ctx context.Context, x *execCtx) (map[string]any, error) {
	if waitIsAsync(x.input["async"]) {
		return runAsyncWait(x)
	}
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
		return nil, fmt.Errorf("wait of %s exceeds the maximum of %s; enable async mode to wait up to 30 days", d, maxWait)
	}
	if err := sleepCtx(ctx, d); err != nil {
		return nil, err
	}
	return map[string]any{"waitDuration": float64(d.Milliseconds()), "status": "completed"}, nil
}

var asyncWaitUnits = map[string]time.Duration{"seconds": time.Second, "minutes": time.Minute, "hours": time.Hour, "days": 24 * time.Hour}

func runAsyncWait(x *execCtx) (map[string]any, error) {
	raw := x.str("timeValue")
	if strings.TrimSpace(raw) == "" {
		raw = "10"
	}
	v, ok := toNumber(raw)
	if !ok || v <= 0 || math.IsInf(v, 0) {
		return nil, fmt.Errorf("Wait amount must be a positive number")
	}
	unitName := x.str("timeUnitLong")
	if unitName == "" {
		unitName = "minutes"
	}
	unit, ok := asyncWaitUnits[unitName]
	if !ok {
		return nil, fmt.Errorf("Unknown wait unit: %s", unitName)
	}
	if unitName == "seconds" {
		return nil, fmt.Errorf("Seconds are not allowed in async mode")
	}
	ms := math.Round(v * float64(unit/time.Millisecond))
	if ms > float64(MaxAsyncWait/time.Millisecond) {
		return nil, fmt.Errorf("Wait time exceeds maximum of 30 days")
	}
	ctxID := x.n.id
	pausedAt := x.r.now()
	resumeAt := pausedAt.Add(time.Duration(ms) * time.Millisecond)
	if p := x.r.pending[ctxID]; p != nil && p.ResumeAt != nil {
		pausedAt, resumeAt = p.PausedAt, *p.ResumeAt // still the wait it was before a resume elsewhere
	}
	at := resumeAt.UTC().Format("2006-01-02T15:04:05.000Z")
	x.pause = &PausePoint{ContextID: ctxID, BlockID: x.n.id, BlockName: x.n.name, Kind: PauseTime, PausedAt: pausedAt,
		ResumeAt: &resumeAt, Response: map[string]any{"waitDuration": ms, "resumeAt": at}}
	return map[string]any{"waitDuration": ms, "status": "waiting", "resumeAt": at}, nil
}
