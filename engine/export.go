package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// Export writes w as Sim's export envelope. Secrets (password/oauth subBlocks and
// well-known credential fields) are written as null unless the value is a pure {{ENV}}
// reference; other values and variables go through the redaction rules (credential
// headers, params, fields and code literals become Redacted, query values only when
// credential-named, so the export still runs once its secrets are supplied through
// environment variables). state.loops and state.parallels are regenerated from the
// container blocks' data, as Sim does. Export is for output only: what is stored goes
// through Normalize, or the stored workflow would lose its credentials.
func Export(w *Workflow) ([]byte, error) {
	return encode(w, newRedactor(nil, false))
}

// Normalize writes w in the export format for storage: secret subBlocks are dropped as
// in Export, but other values are kept as they are, so the workflow runs as imported.
func Normalize(w *Workflow) ([]byte, error) {
	return encode(w, nil)
}

// encode writes the envelope; rd (nil: none) redacts values and variables.
func encode(w *Workflow, rd *redactor) ([]byte, error) {
	var buf bytes.Buffer
	version := w.Version
	if version == "" {
		version = "1.0"
	}
	exportedAt := time.Now().UTC().Format(time.RFC3339Nano)
	buf.WriteString(`{"version":`)
	writeJSON(&buf, version)
	buf.WriteString(`,"exportedAt":`)
	writeJSON(&buf, exportedAt)
	if w.Info != nil {
		buf.WriteString(`,"workflow":`)
		writeJSON(&buf, w.Info)
	}
	buf.WriteString(`,"state":{"blocks":{`)
	for i, id := range w.BlockOrder {
		b := w.Blocks[id]
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSON(&buf, id)
		buf.WriteByte(':')
		m, dropped, err := blockExportMap(b, rd)
		if err != nil {
			return nil, fmt.Errorf("export block %s: %w", blockLabel(b), err)
		}
		if b.verbatim != nil && !dropped {
			buf.Write(b.verbatim)
			continue
		}
		writeJSON(&buf, m)
	}
	buf.WriteString(`},"edges":[`)
	for i, e := range w.Edges {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSON(&buf, edgeExportMap(e))
	}
	buf.WriteString(`],"loops":`)
	loops, parallels := containerState(w)
	writeJSON(&buf, loops)
	buf.WriteString(`,"parallels":`)
	writeJSON(&buf, parallels)
	buf.WriteString(`,"variables":{`)
	for i, v := range w.Variables {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSON(&buf, v.ID)
		buf.WriteByte(':')
		if rd != nil {
			cp := *v
			cp.Value = rd.value(v.Name, v.Value)
			v = &cp
		}
		writeJSON(&buf, v)
	}
	buf.WriteString(`},"metadata":`)
	md := w.Metadata
	if md.Name == "" {
		md.Name = w.Name()
	}
	if md.Description == "" {
		md.Description = w.Description()
	}
	md.ExportedAt = exportedAt
	writeJSON(&buf, md)
	buf.WriteString("}}")
	if !json.Valid(buf.Bytes()) {
		return nil, fmt.Errorf("export: produced invalid JSON")
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Values come from JSON decoding, so they always re-encode; keep the document valid.
		b = []byte("null")
	}
	buf.Write(b)
}

// blockExportMap rebuilds the block for export; dropped reports that a subBlock value was
// withheld (a secret, or a value the redactor replaced), so the block cannot be written back as read.
func blockExportMap(b *Block, rd *redactor) (m map[string]any, dropped bool, err error) {
	m = make(map[string]any, len(b.raw)+8)
	for k, v := range b.raw {
		m[k] = v
	}
	m["id"] = b.ID
	m["type"] = b.Type
	m["name"] = b.Name
	m["position"] = b.Position
	m["enabled"] = b.Enabled
	subs := make(map[string]any, len(b.SubBlocks))
	for id, sb := range b.SubBlocks {
		v := sb.Value
		if isSecretSubBlock(id, sb) && !isPureEnvRef(v) {
			v = nil
		} else if rd != nil {
			v = rd.value(id, v)
		}
		if !dropped && !reflect.DeepEqual(v, sb.Value) {
			dropped = true
		}
		subs[id] = map[string]any{"id": sb.ID, "type": sb.Type, "value": v}
	}
	m["subBlocks"] = subs
	if b.Outputs != nil {
		m["outputs"] = b.Outputs
	} else if _, ok := m["outputs"]; !ok {
		m["outputs"] = map[string]any{}
	}
	if b.Data != nil {
		m["data"] = b.Data
	}
	if b.TriggerMode {
		m["triggerMode"] = true
	}
	if b.AdvancedMode {
		m["advancedMode"] = true
	}
	if b.Retry != nil {
		m["retry"] = b.Retry
	}
	return m, dropped, nil
}

func edgeExportMap(e *Edge) map[string]any {
	m := make(map[string]any, len(e.raw)+5)
	for k, v := range e.raw {
		m[k] = v
	}
	m["id"], m["source"], m["target"] = e.ID, e.Source, e.Target
	if e.SourceHandle != "" {
		m["sourceHandle"] = e.SourceHandle
	}
	if e.TargetHandle != "" {
		m["targetHandle"] = e.TargetHandle
	}
	return m
}

// secretIDs are subBlock ids that carry credentials even when their type is a plain
// input (Sim marks them password:true in the block config, which is not in the export).
var secretIDs = map[string]bool{
	"apiKey": true, "apikey": true, "api_key": true, "password": true, "secret": true, "secretKey": true,
	"token": true, "accessToken": true, "botToken": true, "credential": true, "credentials": true,
	"clientSecret": true, "privateKey": true, "authToken": true, "bearerToken": true,
}

func isSecretSubBlock(id string, sb *SubBlock) bool {
	return sb.Type == "password" || sb.Type == "oauth-input" || secretIDs[id]
}

var pureEnvRef = regexp.MustCompile(`^\s*\{\{[^{}]+\}\}\s*$`)

func isPureEnvRef(v any) bool {
	s, ok := v.(string)
	return ok && pureEnvRef.MatchString(s)
}

// containerState regenerates state.loops and state.parallels from container data.
func containerState(w *Workflow) (map[string]any, map[string]any) {
	loops, parallels := map[string]any{}, map[string]any{}
	children := map[string][]string{}
	for _, id := range w.BlockOrder {
		if p := w.Blocks[id].ParentID(); p != "" {
			children[p] = append(children[p], id)
		}
	}
	for _, id := range w.BlockOrder {
		b := w.Blocks[id]
		nodes := children[id]
		if nodes == nil {
			nodes = []string{}
		}
		switch b.Type {
		case TypeLoop:
			lc := loopConfigOf(b)
			loops[id] = map[string]any{"id": id, "nodes": nodes, "iterations": lc.Iterations, "loopType": lc.Type,
				"forEachItems": orEmpty(lc.Items), "whileCondition": lc.WhileCond, "doWhileCondition": lc.DoWhileCond, "enabled": b.Enabled}
		case TypeParallel:
			pc := parallelConfigOf(b)
			p := map[string]any{"id": id, "nodes": nodes, "parallelType": pc.Type, "count": pc.Count, "batchSize": pc.BatchSize, "enabled": b.Enabled}
			if pc.Type == "collection" {
				p["distribution"] = orEmpty(pc.Items)
			}
			parallels[id] = p
		}
	}
	return loops, parallels
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// SemanticEqual reports whether a and b run the same way: blocks (type, name, enabled,
// subBlock values, execution-relevant data, retry), edges, and variables. Positions, sizes
// and other layout fields are ignored. Used for needsRedeployment.
func SemanticEqual(a, b *Workflow) bool {
	if a == nil || b == nil {
		return a == b
	}
	return reflect.DeepEqual(canonical(a), canonical(b))
}

var layoutData = map[string]bool{"width": true, "height": true, "extent": true, "type": true}

func canonical(w *Workflow) any {
	blocks := map[string]any{}
	for id, b := range w.Blocks {
		subs := map[string]any{}
		for sid, sb := range b.SubBlocks {
			if sb.Value != nil {
				subs[sid] = normJSON(sb.Value)
			}
		}
		data := map[string]any{}
		for k, v := range b.Data {
			if !layoutData[k] && v != nil {
				data[k] = normJSON(v)
			}
		}
		var retry any
		if b.Retry != nil && b.Retry.Enabled {
			retry = *b.Retry
		}
		blocks[id] = []any{b.Type, b.Name, b.Enabled, subs, data, b.TriggerMode, b.AdvancedMode, retry}
	}
	edges := make([]string, 0, len(w.Edges))
	for _, e := range w.Edges {
		edges = append(edges, e.Source+"\x00"+normHandle(e.SourceHandle)+"\x00"+e.Target+"\x00"+e.TargetHandle)
	}
	sortStrings(edges)
	vars := map[string]any{}
	for _, v := range w.Variables {
		vars[v.ID] = []any{v.Name, v.Type, normJSON(v.Value)}
	}
	return []any{blocks, edges, vars}
}

func normHandle(h string) string {
	if strings.HasPrefix(h, "source-") { // legacy source-left|right|top|bottom
		return "source"
	}
	return h
}

// normJSON makes values comparable regardless of how they were built (int vs float64…).
func normJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

// InputField is one field of the start block's input format.
type InputField struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
	Default     any    `json:"default,omitempty"`
	HasDefault  bool   `json:"hasDefault"`
}

// InputFormat returns the input fields of the workflow's start block (chosen by the
// same priority the executor uses), or nil when there is none.
func InputFormat(w *Workflow) []InputField {
	start := findStart(w)
	if start == nil {
		return nil
	}
	return inputFields(start)
}

func inputFields(b *Block) []InputField {
	rows := asSlice(parseMaybeJSON(b.Param("inputFormat")))
	var out []InputField
	for _, r := range rows {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		typ, _ := m["type"].(string)
		if typ == "" {
			typ = "string"
		}
		desc, _ := m["description"].(string)
		f := InputField{Name: name, Type: typ, Description: desc}
		if v, ok := m["value"]; ok && v != nil {
			if s, isStr := v.(string); !isStr || s != "" {
				f.Default, f.HasDefault = v, true
			}
		}
		out = append(out, f)
	}
	return out
}

// findStart picks the start block: start_trigger > api_trigger > input_trigger >
// manual_trigger > starter, first in file order within a type; enabled root-level only.
func findStart(w *Workflow) *Block {
	for _, t := range startPriority {
		for _, id := range w.BlockOrder {
			b := w.Blocks[id]
			if b.Type == t && b.Enabled && b.ParentID() == "" {
				return b
			}
		}
	}
	return nil
}
