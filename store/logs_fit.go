package store

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MaxRecordBytes is the default cap on a stored execution's JSON (see FitExecution).
const MaxRecordBytes = 1 << 20

// FitExecution checks that e's raw JSON fields are valid JSON (the logs API serves them
// as they are; an error wraps ErrInvalid) and returns e cut down to limit bytes of JSON
// as the logs API serves it: e itself when it fits, else a copy marked Truncated without
// BlockLogs and TraceSpans, then with Output and Input replaced by a note and Error cut.
// e is never modified.
func FitExecution(e *Execution, limit int) (*Execution, error) {
	for _, f := range [...]struct {
		name string
		v    json.RawMessage
	}{{"input", e.Input}, {"output", e.Output}, {"blockLogs", e.BlockLogs}, {"traceSpans", e.TraceSpans}} {
		if len(f.v) > 0 && !json.Valid(f.v) {
			return nil, fmt.Errorf("execution %q: %s is not valid JSON: %w", e.ID, f.name, ErrInvalid)
		}
	}
	if jsonSize(e) <= limit {
		return e, nil
	}
	return shrink(e, limit), nil
}

// jsonSize bounds the size of e's JSON as the logs API serves it. Strings may need
// escaping, so they count twice.
func jsonSize(e *Execution) int {
	n := 512 // names, ids, times, numbers
	for _, f := range [...][]byte{e.Input, e.Output, e.BlockLogs, e.TraceSpans} {
		n += len(f)
	}
	for _, s := range [...]string{e.Error, e.ErrorCode, e.KeyID, e.UserID, e.BilledTo, e.TriggerBlockID, e.RunID} {
		n += 2 * len(s)
	}
	return n
}

func shrink(e *Execution, limit int) *Execution {
	c := *e
	c.Truncated = true
	c.BlockLogs, c.TraceSpans = nil, nil
	steps := []func(){
		func() {
			if len(c.Output) > 0 {
				c.Output = truncNote("output", len(e.Output), limit)
			}
		},
		func() {
			if len(c.Input) > 0 {
				c.Input = truncNote("input", len(e.Input), limit)
			}
		},
		func() {
			if len(c.Error) > 4096 {
				c.Error = strings.ToValidUTF8(c.Error[:4096], "") + " … [truncated]"
			}
		},
	}
	for _, step := range steps {
		if jsonSize(&c) <= limit {
			break
		}
		step()
	}
	return &c
}

func truncNote(what string, n, limit int) json.RawMessage {
	b, _ := json.Marshal(fmt.Sprintf("[%s truncated: %d bytes exceeded the %d-byte record limit]", what, n, limit))
	return b
}
