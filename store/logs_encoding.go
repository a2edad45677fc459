package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// head is the binary prefix of a stored record.
type head struct {
	WorkspaceID, WorkflowID, RunID string
	Trigger, Status, Level         string
	StartedAt                      int64 // unix ns
	DurationMs                     int64
	Cost                           float64
}

const summaryVersion = 1

func headOf(e *Execution) head {
	return head{
		WorkspaceID: e.WorkspaceID, WorkflowID: e.WorkflowID, RunID: e.RunID,
		Trigger: e.Trigger, Status: e.Status, Level: e.Level,
		StartedAt: e.StartedAt.UnixNano(), DurationMs: e.DurationMs, Cost: e.Cost,
	}
}

// appendSummary encodes what List filters on: version, status, level, trigger, duration.
func (h *head) appendSummary(b []byte) []byte {
	b = append(b, summaryVersion)
	b = appendStr(b, h.Status)
	b = appendStr(b, h.Level)
	b = appendStr(b, h.Trigger)
	return binary.AppendVarint(b, h.DurationMs)
}

func (h *head) appendFull(b []byte) []byte {
	b = h.appendSummary(b)
	b = appendStr(b, h.WorkspaceID)
	b = appendStr(b, h.WorkflowID)
	b = appendStr(b, h.RunID)
	b = binary.AppendVarint(b, h.StartedAt)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(h.Cost))
}

func parseSummary(b []byte) (status, level, trigger []byte, dur int64, ok bool) {
	if len(b) == 0 || b[0] != summaryVersion {
		return nil, nil, nil, 0, false
	}
	d := decoder{b: b[1:]}
	status, level, trigger = d.bytes(), d.bytes(), d.bytes()
	dur = d.varint()
	return status, level, trigger, dur, d.err == nil
}

func decodeHead(v []byte) (*head, error) {
	n, sz := binary.Uvarint(v)
	if sz <= 0 || n > uint64(len(v)-sz) {
		return nil, errors.New("corrupt record header")
	}
	b := v[sz : sz+int(n)]
	if len(b) == 0 || b[0] != summaryVersion {
		return nil, errors.New("unknown record header version")
	}
	d := decoder{b: b[1:]}
	h := &head{}
	h.Status, h.Level, h.Trigger = string(d.bytes()), string(d.bytes()), string(d.bytes())
	h.DurationMs = d.varint()
	h.WorkspaceID, h.WorkflowID, h.RunID = string(d.bytes()), string(d.bytes()), string(d.bytes())
	h.StartedAt = d.varint()
	h.Cost = math.Float64frombits(d.uint64())
	if d.err != nil {
		return nil, fmt.Errorf("record header: %w", d.err)
	}
	return h, nil
}

func decodeRecord(v []byte) (*Execution, error) {
	n, sz := binary.Uvarint(v)
	if sz <= 0 || n > uint64(len(v)-sz) {
		return nil, errors.New("corrupt execution record")
	}
	e := new(Execution)
	if err := json.Unmarshal(v[sz+int(n):], e); err != nil {
		return nil, fmt.Errorf("decode execution record: %w", err)
	}
	return e, nil
}

// encodeExecution marshals e, shrinking it to limit bytes if needed: first without
// BlockLogs and TraceSpans, then with Output and Input replaced by a note and Error cut.
// limit is MaxRecordBytes.
func encodeExecution(e *Execution, limit int) ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil || len(data) <= limit {
		return data, err
	}
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
	for i := 0; ; i++ {
		data, err = json.Marshal(&c)
		if err != nil || len(data) <= limit || i == len(steps) {
			return data, err
		}
		steps[i]()
	}
}

func truncNote(what string, n, limit int) json.RawMessage {
	b, _ := json.Marshal(fmt.Sprintf("[%s truncated: %d bytes exceeded the %d-byte record limit]", what, n, limit))
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated value")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// encTime encodes a signed time so byte order is numeric order.
func encTime(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)^(1<<63)) }

func decTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func idxKey(prefix string, ns int64, id string) []byte {
	k := make([]byte, 0, len(prefix)+1+8+len(id))
	k = append(k, prefix...)
	k = append(k, sep)
	k = binary.BigEndian.AppendUint64(k, uint64(ns)^(1<<63))
	return append(k, id...)
}

func timeKey(ns int64, id string) []byte {
	k := make([]byte, 0, 8+len(id))
	k = binary.BigEndian.AppendUint64(k, uint64(ns)^(1<<63))
	return append(k, id...)
}

// hourOf returns the unix second of the hour holding ns.
func hourOf(ns int64) int64 { return floorDiv(ns, int64(time.Hour)) * 3600 }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
