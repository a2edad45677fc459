package core

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/steelengine/steelengine/engine"
)

// Defaults of the server-wide run limits (see Config).
const (
	DefaultMaxRunsPerWorkspace = 32
	DefaultMaxRuns             = 256
	DefaultMaxCallDepth        = 10
	// DefaultMaxInputBytesInFlight is 16 MiB: one maximal (10 MiB) input at a time.
	DefaultMaxInputBytesInFlight = 16 << 20
	// MaxInputDepth is how deeply a run's input may nest objects and arrays.
	MaxInputDepth = 64
)

// checkInput refuses inputs no workflow can use and that would break the record:
// nesting deeper than MaxInputDepth and numbers outside float64 (1e400 decodes as ±Inf,
// which JSON cannot encode).
func checkInput(in map[string]any) error {
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		switch x := v.(type) {
		case float64:
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return newError(http.StatusBadRequest, "invalid_number", "Input contains a number outside the range of a 64-bit float")
			}
		case map[string]any:
			if depth > MaxInputDepth {
				return errInputDepth
			}
			for _, e := range x {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		case []any:
			if depth > MaxInputDepth {
				return errInputDepth
			}
			for _, e := range x {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(in, 1)
}

var errInputDepth = newError(http.StatusBadRequest, "input_too_deep", "Input nests objects and arrays more than %d levels deep", MaxInputDepth)

// admit counts a new run against the workspace's and the server's caps. Caller holds
// s.mu.
func (s *Service) admitLocked(wsID string, inputBytes int64) error {
	if len(s.active) >= s.cfg.MaxRuns {
		return &Error{Status: http.StatusServiceUnavailable, Code: "server_busy", RetryAfter: 2 * time.Second,
			Message: fmt.Sprintf("The server has %d runs in flight, its limit; retry later", s.cfg.MaxRuns)}
	}
	if err := s.inputRoomLocked(inputBytes); err != nil {
		return err
	}
	if s.perWS[wsID] >= s.cfg.MaxRunsPerWorkspace {
		return &Error{Status: http.StatusTooManyRequests, Code: "too_many_runs", RetryAfter: time.Second,
			Message: fmt.Sprintf("This workspace has %d runs in flight, its limit; retry later", s.cfg.MaxRunsPerWorkspace)}
	}
	s.perWS[wsID]++
	s.inputBytes += inputBytes
	return nil
}

func (s *Service) leaveLocked(wsID string, inputBytes int64) {
	if s.perWS[wsID]--; s.perWS[wsID] <= 0 {
		delete(s.perWS, wsID)
	}
	s.inputBytes -= inputBytes
}

// inputRoomLocked refuses n more input bytes when the runs in flight (and bodies
// being decoded) already hold the server's limit. A run holds a few decoded copies of
// its input; a lone one is always admitted. Caller holds s.mu.
func (s *Service) inputRoomLocked(n int64) error {
	if n > 0 && s.inputBytes > 0 && s.inputBytes+n > s.cfg.MaxInputBytesInFlight {
		return &Error{Status: http.StatusServiceUnavailable, Code: "server_busy", RetryAfter: 2 * time.Second,
			Message: fmt.Sprintf("The runs in flight already hold %s of input, the server's limit; retry later", sizeText(s.inputBytes))}
	}
	return nil
}

// Reservation is a hold on the in-flight input budget; see ReserveInput.
type Reservation struct {
	s    *Service
	n    int64
	held bool // guarded by s.mu; false once released or taken over by a run
}

// ReserveInput holds n bytes of the in-flight input budget for a request body about to
// be decoded (decoding multiplies its size), so concurrent large bodies are refused
// (503 server_busy) before they cost memory. Pass it in RunRequest.Reservation; the
// caller releases it when done (a no-op once a run took it over).
func (s *Service) ReserveInput(n int64) (*Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.inputRoomLocked(n); err != nil {
		return nil, err
	}
	s.inputBytes += n
	return &Reservation{s: s, n: n, held: true}, nil
}

// Release gives the bytes back unless a run took them over.
func (r *Reservation) Release() {
	if r == nil {
		return
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.held {
		r.held = false
		r.s.inputBytes -= r.n
	}
}

func sizeText(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// errOverloaded answers a run the sandbox refused (every worker busy, queue full).
func errOverloaded(execID string) error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "overloaded", RetryAfter: 2 * time.Second,
		Message: "Server overloaded: every JavaScript worker is busy and the queue is full; retry later",
		Details: map[string]any{"executionId": execID}}
}

var viaIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// ParseVia reads an X-SteelEngine-Via value: comma-separated workflow ids.
func ParseVia(h string) ([]string, error) {
	if strings.TrimSpace(h) == "" {
		return nil, nil
	}
	parts := strings.Split(h, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if !viaIDPattern.MatchString(p) {
			return nil, newError(http.StatusBadRequest, "invalid_via", "%s must be a comma-separated list of workflow ids", engine.ViaHeader)
		}
		out = append(out, p)
	}
	return out, nil
}

func (s *Service) checkVia(via []string) error {
	if len(via) >= s.cfg.MaxCallDepth {
		return newError(http.StatusConflict, "call_depth_exceeded",
			"Workflow call chain is %d deep, more than the maximum of %d (%s); a workflow may be calling itself", len(via)+1, s.cfg.MaxCallDepth, engine.ViaHeader)
	}
	return nil
}
