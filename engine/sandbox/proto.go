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
//	parent → worker, stdin: config (first frame), then run, and "fetched"
//	                        answering each fetch of the running call
//	parent → worker, fd 3:  cancel (a separate pipe, so the worker can
//	                        execute on the goroutine that reads stdin)
//	worker → parent, stdout: ready (after config), then per run any number
//	                        of "fetch" (a script's fetch(), performed by the
//	                        parent: the worker opens no sockets) and one result

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
	// Fetch says the caller serves fetch() (run only).
	Fetch bool `json:"fetch,omitempty"`
	// FetchRes and FetchErr answer a fetch ("fetched" only).
	FetchRes *FetchResponse `json:"res,omitempty"`
	FetchErr string         `json:"err,omitempty"`
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
	// FetchReq is set on "fetch" frames.
	FetchReq *FetchRequest `json:"req,omitempty"`
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

// frameReader reads frames and can resume after a read deadline expires
// mid-frame: partial input stays buffered for the next call, so the stream
// never loses its framing.
type frameReader struct {
	r   io.Reader
	buf []byte // buf[:n] is received, unconsumed input
	n   int
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: r, buf: make([]byte, 16<<10)}
}

func (fr *frameReader) next() ([]byte, error) {
	for {
		if fr.n >= 4 {
			size := int(binary.BigEndian.Uint32(fr.buf[:4]))
			if size > maxFrameBytes {
				return nil, fmt.Errorf("frame of %d bytes exceeds %d", size, maxFrameBytes)
			}
			if fr.n >= 4+size {
				frame := make([]byte, size)
				copy(frame, fr.buf[4:4+size])
				fr.n = copy(fr.buf, fr.buf[4+size:fr.n])
				if len(fr.buf) > 1<<20 && fr.n <= 16<<10 {
					// Do not keep a huge buffer after one big frame.
					fr.buf = append(make([]byte, 0, 16<<10), fr.buf[:fr.n]...)[:16<<10]
				}
				return frame, nil
			}
			if len(fr.buf) < 4+size {
				grown := make([]byte, 4+size)
				copy(grown, fr.buf[:fr.n])
				fr.buf = grown
			}
		}
		m, err := fr.r.Read(fr.buf[fr.n:])
		fr.n += m
		if err != nil {
			if err == io.EOF && fr.n > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}
