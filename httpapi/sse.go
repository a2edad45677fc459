package httpapi

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/steelengine/steelengine/engine"
)

// sseWriter writes Sim's execute stream: every frame is `data: <JSON>\n\n` (no event:
// lines), ending with `data: "[DONE]"`. Engine hooks call it from run goroutines, so
// writes are serialised.
type sseWriter struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	closed  bool
}

func newSSE(w http.ResponseWriter) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

func (s *sseWriter) isStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// start sends the stream's headers.
func (s *sseWriter) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startLocked()
}

func (s *sseWriter) startLocked() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
	_ = s.rc.Flush()
}

// send writes one frame; after close it is a no-op.
func (s *sseWriter) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.startLocked()
	s.w.Write([]byte("data: "))
	s.w.Write(b)
	s.w.Write([]byte("\n\n"))
	_ = s.rc.Flush()
}

// done writes the terminal "[DONE]" frame and stops further writes.
func (s *sseWriter) done() {
	s.send("[DONE]")
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// selector is one entry of selectedOutputs, resolved to a block id and a path.
type selector struct {
	raw     string
	blockID string
	path    []string // empty: the block's whole output
}

// blockIndex maps block ids and normalized names (lowercase, no spaces) to block ids.
type blockIndex map[string]string

func normalizeBlockName(n string) string {
	return strings.ToLower(strings.ReplaceAll(n, " ", ""))
}

func indexBlocks(logs []engine.BlockLog) blockIndex {
	ix := blockIndex{}
	for _, l := range logs {
		ix[l.BlockID] = l.BlockID
		if n := normalizeBlockName(l.BlockName); n != "" {
			if _, taken := ix[n]; !taken {
				ix[n] = l.BlockID
			}
		}
	}
	return ix
}

// parseSelectors resolves Sim's selectedOutputs forms: `blockName.path`, `blockId.path`
// and `blockId_path`. Entries naming no known block are kept with their raw text, so a
// stream can still match them to blocks announced later.
func parseSelectors(sel []string, ix blockIndex) []selector {
	out := make([]selector, 0, len(sel))
	for _, raw := range sel {
		s := selector{raw: raw}
		head, rest, hasDot := strings.Cut(raw, ".")
		if id, ok := ix[head]; ok {
			s.blockID = id
		} else if id, ok := ix[normalizeBlockName(head)]; ok {
			s.blockID = id
		} else {
			// blockId_path: the longest known block id before an underscore.
			for i := len(raw) - 1; i > 0; i-- {
				if raw[i] != '_' {
					continue
				}
				if id, ok := ix[raw[:i]]; ok {
					s.blockID, rest, hasDot = id, raw[i+1:], true
					break
				}
			}
		}
		if s.blockID == "" {
			s.blockID = head
		}
		if hasDot && rest != "" {
			s.path = strings.Split(rest, ".")
		}
		out = append(out, s)
	}
	return out
}

// pick follows path into v.
func pick(v any, path []string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// selectOutputs builds Sim's selected-output shape {blockId: {path: value}} from the
// blocks' outputs; a selector without a path selects the whole block output.
func selectOutputs(sels []selector, blocks map[string]map[string]any) map[string]any {
	out := map[string]any{}
	for _, s := range sels {
		bo, ok := blocks[s.blockID]
		if !ok {
			continue
		}
		m, _ := out[s.blockID].(map[string]any)
		if m == nil {
			m = map[string]any{}
			out[s.blockID] = m
		}
		if len(s.path) == 0 {
			for k, v := range bo {
				m[k] = v
			}
			continue
		}
		if v, ok := pick(map[string]any(bo), s.path); ok {
			m[strings.Join(s.path, ".")] = v
		}
	}
	return out
}

// blockOutputsOf returns each block's output: the engine's map when present, else
// built from the block logs (the last log of a block wins, as for loops).
func blockOutputsOf(res *engine.Result) map[string]map[string]any {
	if len(res.BlockOutputs) > 0 {
		return res.BlockOutputs
	}
	return blockOutputsFromLogs(res.BlockLogs)
}

func blockOutputsFromLogs(logs []engine.BlockLog) map[string]map[string]any {
	out := map[string]map[string]any{}
	sort.SliceStable(logs, func(i, j int) bool { return logs[i].ExecutionOrder < logs[j].ExecutionOrder })
	for _, l := range logs {
		if l.Output != nil {
			out[l.BlockID] = l.Output
		}
	}
	return out
}

// chunkText is how a selected output goes into a chunk frame: strings as they are,
// anything else as indented JSON.
func chunkText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// streamHooks returns engine hooks that report block progress and, for selected
// outputs, the selected values as chunk frames. An agent whose content (or whole
// output) is selected streams its reply as chunk frames while it is written; its
// content is then not sent again when the block ends.
func streamHooks(s *sseWriter, selected []string) engine.Hooks {
	var mu sync.Mutex
	streamed := map[string]bool{}
	selects := func(id, name string) []selector {
		ix := blockIndex{id: id}
		if n := normalizeBlockName(name); n != "" {
			ix[n] = id
		}
		var out []selector
		for _, sel := range parseSelectors(selected, ix) {
			if sel.blockID == id {
				out = append(out, sel)
			}
		}
		return out
	}
	streamsContent := func(sel selector) bool {
		return len(sel.path) == 0 || (len(sel.path) == 1 && sel.path[0] == "content")
	}
	return engine.Hooks{
		OnBlockStart: func(ev engine.BlockEvent) {
			s.send(map[string]any{"event": "block_started", "blockId": ev.BlockID, "blockName": ev.BlockName, "blockType": ev.BlockType})
		},
		StreamBlock: func(id, name string) bool {
			for _, sel := range selects(id, name) {
				if streamsContent(sel) {
					mu.Lock()
					streamed[id] = true
					mu.Unlock()
					return true
				}
			}
			return false
		},
		OnChunk: func(c engine.BlockChunk) {
			s.send(map[string]any{"blockId": c.BlockID, "chunk": c.Chunk})
		},
		OnBlockEnd: func(ev engine.BlockEvent) {
			frame := map[string]any{"event": "block_completed", "blockId": ev.BlockID, "blockName": ev.BlockName,
				"blockType": ev.BlockType, "durationMs": ev.DurationMs, "success": ev.Error == ""}
			if ev.Error != "" {
				frame["error"] = ev.Error
			}
			s.send(frame)
			if len(selected) == 0 || ev.Error != "" {
				return
			}
			mu.Lock()
			wasStreamed := streamed[ev.BlockID]
			mu.Unlock()
			for _, sel := range selects(ev.BlockID, ev.BlockName) {
				if wasStreamed && streamsContent(sel) {
					continue
				}
				v, ok := pick(map[string]any(ev.Output), sel.path)
				if !ok || v == nil {
					continue
				}
				s.send(map[string]any{"blockId": ev.BlockID, "chunk": chunkText(v)})
			}
		},
	}
}
