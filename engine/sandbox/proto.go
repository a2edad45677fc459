package sandbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// Wire protocol between Pool and worker: each frame is a 4-byte big-endian
// length followed by that many bytes of JSON (one message).
//
//	parent → worker: config (first frame), then run and cancel
//	worker → parent: ready (after config), then result (one per run)

// maxFrameBytes bounds a frame so a confused peer cannot make the other side
// allocate without limit. Results are capped well below it.
const maxFrameBytes = 256 << 20

// exitCPULimit is the worker's exit code when RLIMIT_CPU fires.
const exitCPULimit = 3

type configMsg struct {
	MemoryLimitBytes int64 `json:"mem"`
}

type readyMsg struct {
	Type string `json:"t"`
	// HardLimitBytes is the RLIMIT_AS actually applied (0 if none).
	HardLimitBytes uint64 `json:"hard,omitempty"`
}

type runMsg struct {
	Type             string         `json:"t"` // "run" or "cancel"
	ID               uint64         `json:"id"`
	Code             string         `json:"code,omitempty"`
	Globals          map[string]any `json:"globals,omitempty"`
	TimeoutNanos     int64          `json:"timeout,omitempty"`
	MemoryLimitBytes int64          `json:"mem,omitempty"`
}

// Error kinds in resultMsg.
const (
	kindScript   = "script"
	kindTimeout  = "timeout"
	kindMemory   = "memory"
	kindCancel   = "cancel"
	kindInternal = "internal"
)

type resultMsg struct {
	Type   string          `json:"t"`
	ID     uint64          `json:"id"`
	Result json.RawMessage `json:"result,omitempty"`
	Stdout string          `json:"stdout,omitempty"`
	Kind   string          `json:"kind,omitempty"` // empty on success
	Msg    string          `json:"msg,omitempty"`
	Stack  string          `json:"stack,omitempty"`
}

func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding frame: %w", err)
	}
	if len(b) > maxFrameBytes {
		return fmt.Errorf("frame of %d bytes exceeds %d", len(b), maxFrameBytes)
	}
	// One write for header and body keeps frames atomic on the pipe and
	// halves syscalls.
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("writing frame: %w", err)
	}
	return nil
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrameBytes {
		return nil, fmt.Errorf("frame of %d bytes exceeds %d", n, maxFrameBytes)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("reading frame body: %w", err)
	}
	return b, nil
}
