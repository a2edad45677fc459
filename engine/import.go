package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxImportBytes caps an imported document, as Sim does.
const MaxImportBytes = 10 << 20

// ErrInvalidWorkflow is matched (errors.Is) by every import/validation failure.
var ErrInvalidWorkflow = errors.New("invalid workflow")

// Import parses and validates a Sim workflow export: the envelope
// {version, exportedAt, workflow?, state:{…}}, the same wrapped in {data:…}, or the legacy
// form with blocks/edges at the root. Every problem is reported at once in a
// *ValidationError.
func Import(data []byte) (*Workflow, error) {
	w, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if err := Validate(w); err != nil {
		return nil, err
	}
	return w, nil
}

// Parse decodes a workflow document without semantic validation. Structural problems
// (a block that is not an object, a missing blocks map) are still reported as a
// *ValidationError.
func Parse(data []byte) (*Workflow, error) {
	if len(data) > MaxImportBytes {
		return nil, &ValidationError{Problems: []BlockProblem{{Code: ProblemInvalid, Message: fmt.Sprintf("document is larger than %d bytes", MaxImportBytes)}}}
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(data, &root); err != nil {
		return nil, &ValidationError{Problems: []BlockProblem{{Code: ProblemInvalid, Message: "not a JSON object: " + err.Error()}}}
	}
	// {data: {...}} wrapper from API responses.
	if d, ok := root["data"]; ok && root["blocks"] == nil && root["state"] == nil {
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(d, &inner); err == nil && inner != nil {
			root = inner
		}
	}
	w := &Workflow{Blocks: map[string]*Block{}}
	var probs []BlockProblem
	bad := func(msg string) { probs = append(probs, BlockProblem{Code: ProblemInvalid, Message: msg}) }

	decodeString(root["version"], &w.Version)
	decodeString(root["exportedAt"], &w.ExportedAt)
	if raw, ok := root["workflow"]; ok && !isNull(raw) {
		var info WorkflowInfo
		if err := json.Unmarshal(raw, &info); err != nil {
			bad("workflow: " + err.Error())
		} else {
			w.Info = &info
		}
	}
	state := root
	if raw, ok := root["state"]; ok {
		var st map[string]json.RawMessage
		if err := json.Unmarshal(raw, &st); err != nil || st == nil {
			bad("state must be an object")
			return nil, &ValidationError{Problems: probs}
		}
		state = st
	}
	if raw, ok := state["metadata"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &w.Metadata); err != nil {
			bad("metadata: " + err.Error())
		}
	}
	if w.Info == nil && state["metadata"] == nil {
		// Legacy root-level documents sometimes carry name/description at the root.
		decodeString(root["name"], &w.Metadata.Name)
		decodeString(root["description"], &w.Metadata.Description)
	}

	rawBlocks, ok := state["blocks"]
	if !ok || isNull(rawBlocks) {
		bad("missing blocks")
		return nil, &ValidationError{Problems: probs}
	}
	keys, vals, err := orderedObject(rawBlocks)
	if err != nil {
		bad("blocks must be an object keyed by block id")
		return nil, &ValidationError{Problems: probs}
	}
	for i, key := range keys {
		b, perr := parseBlock(key, vals[i])
		if perr != nil {
			probs = append(probs, *perr)
			continue
		}
		if _, dup := w.Blocks[b.ID]; dup {
			probs = append(probs, BlockProblem{BlockID: b.ID, BlockName: b.Name, Code: ProblemInvalid, Message: "duplicate block id"})
			continue
		}
		w.Blocks[b.ID] = b
		w.BlockOrder = append(w.BlockOrder, b.ID)
	}

	if raw, ok := state["edges"]; ok && !isNull(raw) {
		var edges []json.RawMessage
		if err := json.Unmarshal(raw, &edges); err != nil {
			bad("edges must be an array")
		}
		for i, e := range edges {
			edge, perr := parseEdge(i, e)
			if perr != nil {
				probs = append(probs, *perr)
				continue
			}
			w.Edges = append(w.Edges, edge)
		}
	} else if !ok {
		bad("missing edges")
	}

	if raw, ok := state["variables"]; ok && !isNull(raw) {
		vars, perr := parseVariables(raw)
		probs = append(probs, perr...)
		w.Variables = vars
	}
	// state.loops / state.parallels are derived from the container blocks' data (Sim
	// regenerates them the same way), so they are only checked for shape.
	for _, k := range []string{"loops", "parallels"} {
		if raw, ok := state[k]; ok && !isNull(raw) {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				bad(k + " must be an object")
			}
		}
	}
	if len(probs) > 0 {
		return nil, &ValidationError{Problems: probs}
	}
	return w, nil
}

type rawBlock struct {
	ID           *string                  `json:"id"`
	Type         *string                  `json:"type"`
	Name         string                   `json:"name"`
	Position     *struct{ X, Y *float64 } `json:"position"`
	Enabled      *bool                    `json:"enabled"`
	SubBlocks    map[string]*SubBlock     `json:"subBlocks"`
	Outputs      map[string]any           `json:"outputs"`
	Data         map[string]any           `json:"data"`
	TriggerMode  bool                     `json:"triggerMode"`
	AdvancedMode bool                     `json:"advancedMode"`
	Retry        *RetryConfig             `json:"retry"`
}

func parseBlock(key string, data json.RawMessage) (*Block, *BlockProblem) {
	var rb rawBlock
	if err := json.Unmarshal(data, &rb); err != nil {
		return nil, &BlockProblem{BlockID: key, Code: ProblemInvalid, Message: "malformed block: " + err.Error()}
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(data, &raw) // cannot fail: the typed decode above succeeded on an object
	if raw == nil {
		return nil, &BlockProblem{BlockID: key, Code: ProblemInvalid, Message: "block must be an object"}
	}
	b := &Block{ID: key, Name: rb.Name, Enabled: true, SubBlocks: rb.SubBlocks, Outputs: rb.Outputs,
		Data: rb.Data, TriggerMode: rb.TriggerMode, AdvancedMode: rb.AdvancedMode, Retry: rb.Retry, raw: raw}
	if v, err := reencode(data); err == nil {
		b.verbatim = v
	}
	var missing []string
	if rb.ID == nil || *rb.ID == "" {
		missing = append(missing, "id")
	} else {
		b.ID = *rb.ID
	}
	if rb.Type == nil || *rb.Type == "" {
		missing = append(missing, "type")
	} else {
		b.Type = *rb.Type
	}
	if rb.Position == nil || rb.Position.X == nil || rb.Position.Y == nil {
		missing = append(missing, "position{x,y}")
	} else {
		b.Position = Position{X: *rb.Position.X, Y: *rb.Position.Y}
	}
	if rb.Enabled != nil {
		b.Enabled = *rb.Enabled
	}
	if b.SubBlocks == nil {
		b.SubBlocks = map[string]*SubBlock{}
	}
	for id, sb := range b.SubBlocks {
		if sb == nil {
			b.SubBlocks[id] = &SubBlock{ID: id}
			continue
		}
		if sb.ID == "" {
			sb.ID = id
		}
		// Sim's importer turns empty strings into null.
		if s, ok := sb.Value.(string); ok && s == "" {
			sb.Value = nil
		}
	}
	if len(missing) > 0 {
		return b, &BlockProblem{BlockID: b.ID, BlockName: b.Name, BlockType: b.Type, Code: ProblemMissingField,
			Message: "missing required field(s): " + joinList(missing)}
	}
	return b, nil
}

func parseEdge(i int, data json.RawMessage) (*Edge, *BlockProblem) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return nil, &BlockProblem{EdgeID: "#" + strconv.Itoa(i), Code: ProblemInvalid, Message: "edge must be an object"}
	}
	e := &Edge{raw: raw}
	var missing []string
	for _, f := range []struct {
		name string
		dst  *string
		req  bool
	}{{"id", &e.ID, true}, {"source", &e.Source, true}, {"target", &e.Target, true},
		{"sourceHandle", &e.SourceHandle, false}, {"targetHandle", &e.TargetHandle, false}} {
		if v, ok := raw[f.name]; ok && !isNull(v) {
			if err := json.Unmarshal(v, f.dst); err != nil {
				return nil, &BlockProblem{EdgeID: "#" + strconv.Itoa(i), Code: ProblemInvalid, Message: f.name + " must be a string"}
			}
		}
		if f.req && *f.dst == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		id := e.ID
		if id == "" {
			id = "#" + strconv.Itoa(i)
		}
		return nil, &BlockProblem{EdgeID: id, Code: ProblemMissingField, Message: "missing required field(s): " + joinList(missing)}
	}
	return e, nil
}

func parseVariables(raw json.RawMessage) ([]*Variable, []BlockProblem) {
	var list []*Variable
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, []BlockProblem{{Code: ProblemInvalid, Message: "variables: " + err.Error()}}
		}
	} else {
		keys, vals, err := orderedObject(raw)
		if err != nil {
			return nil, []BlockProblem{{Code: ProblemInvalid, Message: "variables must be an object or array"}}
		}
		for i, k := range keys {
			var v Variable
			if err := json.Unmarshal(vals[i], &v); err != nil {
				return nil, []BlockProblem{{Code: ProblemInvalid, Message: "variable " + k + ": " + err.Error()}}
			}
			if v.ID == "" {
				v.ID = k
			}
			list = append(list, &v)
		}
	}
	var probs []BlockProblem
	out := list[:0]
	for _, v := range list {
		if v == nil {
			continue
		}
		if v.Name == "" {
			probs = append(probs, BlockProblem{Code: ProblemMissingField, Message: "variable " + v.ID + " has no name"})
		}
		out = append(out, v)
	}
	return out, probs
}

// orderedObject decodes a JSON object keeping key order.
func orderedObject(data json.RawMessage) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("not an object")
	}
	var keys []string
	var vals []json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, nil, errors.New("bad key")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		vals = append(vals, v)
	}
	return keys, vals, nil
}

func decodeString(raw json.RawMessage, dst *string) {
	if raw != nil {
		_ = json.Unmarshal(raw, dst) // optional display fields; ignore wrong types
	}
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func joinList(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x)
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

// reencode writes a JSON value compactly, keeping key order and number literals, with
// strings escaped as JavaScript's JSON.stringify does (no HTML escapes). Sim exports
// come from JSON.stringify, so their blocks come back out byte for byte, even after
// a trip through storage that escaped < > & as \u003c….
func reencode(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	type level struct {
		object bool
		n      int // values written at this level
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			out.WriteByte(byte(d))
			stack = stack[:len(stack)-1]
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			switch {
			case top.object && top.n%2 == 1:
				out.WriteByte(':')
			case top.n > 0:
				out.WriteByte(',')
			}
			top.n++
		}
		switch x := tok.(type) {
		case json.Delim:
			out.WriteByte(byte(x))
			stack = append(stack, level{object: x == '{'})
		case json.Number:
			out.WriteString(string(x))
		case string:
			if err := enc.Encode(x); err != nil {
				return nil, err
			}
			out.Truncate(out.Len() - 1) // Encode adds a newline
		case bool:
			if x {
				out.WriteString("true")
			} else {
				out.WriteString("false")
			}
		case nil:
			out.WriteString("null")
		}
	}
	return out.Bytes(), nil
}
