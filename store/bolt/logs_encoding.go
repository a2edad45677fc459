package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/steelengine/steelengine/store"
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

func headOf(e *store.Execution) head {
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

// Record bodies: the part of a stored value after the head. Records written before
// bodyCompact are the Execution's JSON (they start with '{'); newer ones are bodyCompact
// followed by a snappy block of the fields the head does not hold, as varints and
// length-prefixed bytes. The head already carries ids, status, times, duration and cost,
// and the key is the id, so none of that is stored twice; snappy then folds the trace
// spans into the block logs they repeat. A trivial run's record went from ~1.9 KB of
// JSON to a few hundred bytes this way (see BENCHMARKS.md).
const bodyCompact = 0x02

// decodeRecord decodes the stored value v of the execution with id.
func decodeRecord(id, v []byte) (*store.Execution, error) {
	n, sz := binary.Uvarint(v)
	if sz <= 0 || n > uint64(len(v)-sz) {
		return nil, errors.New("corrupt execution record")
	}
	body := v[sz+int(n):]
	e := new(store.Execution)
	if len(body) == 0 || body[0] != bodyCompact {
		if err := json.Unmarshal(body, e); err != nil {
			return nil, fmt.Errorf("decode execution record: %w", err)
		}
		return e, nil
	}
	h, err := decodeHead(v)
	if err != nil {
		return nil, err
	}
	raw, err := snappy.Decode(nil, body[1:])
	if err != nil {
		return nil, fmt.Errorf("decode execution record: %w", err)
	}
	d := decoder{b: raw}
	e.ID = string(id)
	e.WorkspaceID, e.WorkflowID, e.RunID = h.WorkspaceID, h.WorkflowID, h.RunID
	e.Trigger, e.Status, e.Level = h.Trigger, h.Status, h.Level
	e.StartedAt = time.Unix(0, h.StartedAt).UTC()
	e.DurationMs, e.Cost = h.DurationMs, h.Cost
	e.Version = uint32(d.uvarint())
	flags := d.uvarint()
	if ended := d.varint(); flags&flagEnded != 0 {
		t := time.Unix(0, ended).UTC()
		e.EndedAt = &t
	}
	e.Truncated = flags&flagTruncated != 0
	e.Input, e.Output = rawOrNil(d.bytes()), rawOrNil(d.bytes())
	e.Error, e.ErrorCode = string(d.bytes()), string(d.bytes())
	e.BlockLogs, e.TraceSpans = rawOrNil(d.bytes()), rawOrNil(d.bytes())
	e.KeyID, e.UserID, e.BilledTo = string(d.bytes()), string(d.bytes()), string(d.bytes())
	e.TriggerBlockID = string(d.bytes())
	if d.err != nil {
		return nil, fmt.Errorf("decode execution record: %w", d.err)
	}
	return e, nil
}

const (
	flagEnded = 1 << iota
	flagTruncated
)

func rawOrNil(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b // raw is decoded fresh for this record: no copy needed
}

// appendBody appends e's fields that the head does not hold (see bodyCompact), before
// compression.
func appendBody(b []byte, e *store.Execution) []byte {
	var flags uint64
	var ended int64
	if e.EndedAt != nil {
		flags |= flagEnded
		ended = e.EndedAt.UnixNano()
	}
	if e.Truncated {
		flags |= flagTruncated
	}
	b = binary.AppendUvarint(b, uint64(e.Version))
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendVarint(b, ended)
	for _, f := range [...][]byte{e.Input, e.Output} {
		b = appendBytes(b, f)
	}
	b = appendStr(b, e.Error)
	b = appendStr(b, e.ErrorCode)
	b = appendBytes(b, e.BlockLogs)
	b = appendBytes(b, e.TraceSpans)
	b = appendStr(b, e.KeyID)
	b = appendStr(b, e.UserID)
	b = appendStr(b, e.BilledTo)
	return appendStr(b, e.TriggerBlockID)
}

// encodeExecution appends e's stored value (head and compressed body) to dst, cut down
// to limit (MaxRecordBytes) by store.FitExecution, which also checks its raw JSON.
func encodeExecution(dst []byte, e *store.Execution, limit int) ([]byte, error) {
	e, err := store.FitExecution(e, limit)
	if err != nil {
		return nil, err
	}
	h := headOf(e)
	hb := h.appendFull(nil)
	dst = binary.AppendUvarint(dst, uint64(len(hb)))
	dst = append(dst, hb...)
	sp := bodyPool.Get().(*[]byte)
	body := appendBody((*sp)[:0], e)
	dst = append(dst, bodyCompact)
	n := len(dst)
	dst = slices.Grow(dst, snappy.MaxEncodedLen(len(body)))
	enc := snappy.Encode(dst[n:n+snappy.MaxEncodedLen(len(body))], body)
	dst = dst[:n+len(enc)]
	if cap(body) <= 64<<10 {
		*sp = body
		bodyPool.Put(sp)
	}
	return dst, nil
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
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
