package engine

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportAcceptsEnvelopeWrapperAndLegacy(t *testing.T) {
	envelope := newWF()
	startBlock(envelope).fn("f", "Fn", "return 1").edge("start", "f", "source")
	doc := envelope.json()

	var env map[string]any
	if err := json.Unmarshal(doc, &env); err != nil {
		t.Fatal(err)
	}
	wrapped, _ := json.Marshal(map[string]any{"data": env})
	state := env["state"].(map[string]any)
	legacy, _ := json.Marshal(map[string]any{"blocks": state["blocks"], "edges": state["edges"], "name": "legacy"})

	for name, data := range map[string][]byte{"envelope": doc, "wrapped": wrapped, "legacy": legacy} {
		w, err := Import(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// (wrapped/legacy were re-marshalled through a Go map, so only the envelope keeps
		// the authored block order.)
		if len(w.Blocks) != 2 || len(w.Edges) != 1 || (name == "envelope" && w.BlockOrder[0] != "start") {
			t.Errorf("%s: got %d blocks %d edges order %v", name, len(w.Blocks), len(w.Edges), w.BlockOrder)
		}
	}
	w, _ := Import(legacy)
	if w.Name() != "legacy" {
		t.Errorf("legacy name = %q", w.Name())
	}
}

func TestImportVariablesArrayAndObject(t *testing.T) {
	doc := `{"blocks":{"s":{"id":"s","type":"starter","name":"Start","position":{"x":0,"y":0}}},"edges":[],
	  "variables":[{"id":"v1","name":"a","type":"number","value":1}]}`
	w, err := Import([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Variables) != 1 || w.Variables[0].Name != "a" {
		t.Fatalf("variables = %+v", w.Variables)
	}
}

func TestValidateReportsEveryProblemWithNames(t *testing.T) {
	doc := `{"version":"1.0","state":{"blocks":{
	  "s":{"id":"s","type":"start_trigger","name":"Start","position":{"x":0,"y":0}},
	  "a":{"id":"a","type":"function","name":"Agent 1","position":{"x":0,"y":0}},
	  "b":{"id":"b","type":"function","name":"agent1","position":{"x":0,"y":0}},
	  "c":{"id":"c","type":"function","name":"Loop","position":{"x":0,"y":0}},
	  "d":{"id":"d","type":"slack","name":"Slack 1","position":{"x":0,"y":0}},
	  "e":{"id":"e","name":"No Type","position":{"x":0,"y":0}},
	  "l":{"id":"l","type":"loop","name":"Loop 1","position":{"x":0,"y":0},"data":{"loopType":"for","count":2}},
	  "in":{"id":"in","type":"function","name":"Inside","position":{"x":0,"y":0},"data":{"parentId":"l"}},
	  "x":{"id":"x","type":"function","name":"Cyc X","position":{"x":0,"y":0}},
	  "y":{"id":"y","type":"function","name":"Cyc Y","position":{"x":0,"y":0}}},
	 "edges":[
	  {"id":"e1","source":"s","target":"ghost"},
	  {"id":"e2","source":"s","target":"in"},
	  {"id":"e3","source":"x","target":"y"},{"id":"e4","source":"y","target":"x"},
	  {"id":"e5","source":"s"}]}}`
	_, err := Import([]byte(doc))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		// Structural problems (missing type, missing edge target) are reported first;
		// check them, then fix them and check the semantic ones.
		t.Fatalf("want ValidationError, got %v", err)
	}
	if !errors.Is(err, ErrInvalidWorkflow) {
		t.Error("errors.Is(err, ErrInvalidWorkflow) is false")
	}
	codes := map[string]string{}
	for _, p := range ve.Problems {
		codes[p.Code] += p.String() + "\n"
	}
	if !strings.Contains(codes[ProblemMissingField], "No Type") || !strings.Contains(codes[ProblemMissingField], "e5") {
		t.Errorf("missing-field problems: %q", codes[ProblemMissingField])
	}

	// Same document with the structural problems fixed: every semantic problem at once.
	doc = strings.Replace(doc, `"name":"No Type"`, `"type":"note","name":"No Type"`, 1)
	doc = strings.Replace(doc, `,
	  {"id":"e5","source":"s"}`, ``, 1)
	_, err = Import([]byte(doc))
	if !errors.As(err, &ve) {
		t.Fatalf("want ValidationError, got %v", err)
	}
	codes = map[string]string{}
	for _, p := range ve.Problems {
		codes[p.Code] += p.String() + "\n"
	}
	want := map[string][]string{
		ProblemDuplicateName: {`"Agent 1"`, `"agent1"`},
		ProblemReservedName:  {`"Loop"`},
		ProblemUnknownBlock:  {"ghost"},
		ProblemCrossScope:    {`"Inside"`},
		ProblemCycle:         {`"Cyc X"`, `"Cyc Y"`},
	}
	for code, subs := range want {
		for _, s := range subs {
			if !strings.Contains(codes[code], s) {
				t.Errorf("problem %s: want mention of %s, got %q", code, s, codes[code])
			}
		}
	}
	if !strings.Contains(err.Error(), "problems") {
		t.Errorf("error text = %q", err.Error())
	}
	if strings.Contains(err.Error(), "Slack 1") {
		t.Errorf("an integration block is a problem at import: %v", err)
	}
}

func TestImportRejectsGarbage(t *testing.T) {
	for _, doc := range []string{``, `[]`, `{}`, `{"state":[]}`, `{"blocks":[]}`, `{"blocks":{"a":1},"edges":[]}`, `{"blocks":{},"edges":{}}`} {
		if _, err := Import([]byte(doc)); !errors.Is(err, ErrInvalidWorkflow) {
			t.Errorf("Import(%q) = %v, want ErrInvalidWorkflow", doc, err)
		}
	}
}

func TestExportRoundTripAndSecrets(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "golden", "loop_foreach.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gf goldenFile
	if err := json.Unmarshal(raw, &gf); err != nil {
		t.Fatal(err)
	}
	w, err := Import(gf.Workflow)
	if err != nil {
		t.Fatal(err)
	}
	w.Blocks["body"].SubBlocks["apiKey"] = &SubBlock{ID: "apiKey", Type: "short-input", Value: "sk-live-123"}
	w.Blocks["body"].SubBlocks["token"] = &SubBlock{ID: "token", Type: "short-input", Value: "{{MY_TOKEN}}"}
	w.Blocks["body"].SubBlocks["pw"] = &SubBlock{ID: "pw", Type: "password", Value: "hunter2"}
	out, err := Export(w)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "sk-live-123") || strings.Contains(string(out), "hunter2") {
		t.Fatalf("export leaks a secret: %s", out)
	}
	if !strings.Contains(string(out), "{{MY_TOKEN}}") {
		t.Error("pure env reference was not kept")
	}
	var env struct {
		Version string
		State   struct {
			Loops map[string]map[string]any
		}
	}
	if err := json.Unmarshal(out, &env); err != nil {
		t.Fatal(err)
	}
	if env.Version != "1.0" || env.State.Loops["lp"]["loopType"] != "forEach" || env.State.Loops["lp"]["forEachItems"] != "<start.list>" {
		t.Errorf("loops not regenerated from data: %+v", env.State.Loops)
	}
	w2, err := Import(out)
	if err != nil {
		t.Fatalf("re-import: %v", err)
	}
	w.Blocks["body"].SubBlocks["apiKey"].Value = nil
	w.Blocks["body"].SubBlocks["pw"].Value = nil
	if !SemanticEqual(w, w2) {
		t.Error("round trip changed the workflow")
	}
	if strings.Join(w2.BlockOrder, ",") != strings.Join(w.BlockOrder, ",") {
		t.Errorf("block order %v, want %v", w2.BlockOrder, w.BlockOrder)
	}
	// Unmodelled fields survive.
	if !strings.Contains(string(out), `"targetHandle":"target"`) {
		t.Error("edge fields lost in export")
	}
}

func TestSemanticEqualIgnoresLayout(t *testing.T) {
	b := newWF()
	startBlock(b).fn("f", "Fn", "return 1").edge("start", "f", "source")
	a1, _ := Import(b.json())
	a2, _ := Import(b.json())
	a2.Blocks["f"].Position = Position{X: 500, Y: 20}
	a2.Blocks["f"].Data = map[string]any{"width": 300.0}
	if !SemanticEqual(a1, a2) {
		t.Error("layout change counted as semantic")
	}
	a2.Blocks["f"].SubBlocks["code"].Value = "return 2"
	if SemanticEqual(a1, a2) {
		t.Error("code change not detected")
	}
	a3, _ := Import(b.json())
	a3.Edges[0].SourceHandle = "error"
	if SemanticEqual(a1, a3) {
		t.Error("edge handle change not detected")
	}
}

func TestInputFormatUnsupportedOutbound(t *testing.T) {
	b := newWF()
	startBlock(b, map[string]any{"name": "q", "type": "string", "description": "query"},
		map[string]any{"name": "n", "type": "number", "value": 3}).
		block("api", TypeAPI, "Call", map[string]any{"url": "https://example.com"}, nil).
		block("slack", "slack", "Approve", nil, nil).
		edge("start", "api", "source").edge("api", "slack", "source")
	w, err := Import(b.json())
	if err != nil {
		t.Fatal(err)
	}
	f := InputFormat(w)
	if len(f) != 2 || f[0].Name != "q" || f[0].HasDefault || f[0].Description != "query" || f[1].Default != 3.0 || !f[1].HasDefault {
		t.Errorf("InputFormat = %+v", f)
	}
	u := Unsupported(w)
	if len(u) != 1 || u[0].BlockName != "Approve" {
		t.Errorf("Unsupported = %+v", u)
	}
	if !MakesOutboundCalls(w) {
		t.Error("MakesOutboundCalls = false with an api block")
	}
	if _, err := Compile(w, CompileOptions{}); err == nil || !strings.Contains(err.Error(), "Approve") {
		t.Errorf("Compile with unsupported reachable block: %v", err)
	}
}

func FuzzImport(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var gf goldenFile
		if json.Unmarshal(raw, &gf) == nil {
			f.Add([]byte(gf.Workflow))
		}
	}
	f.Add([]byte(`{"blocks":{"a":{"id":"a","type":"loop","name":"L","position":{"x":0,"y":0},"data":{"parentId":"a"}}},"edges":[{"id":"e","source":"a","target":"a"}]}`))
	f.Add([]byte(`{"data":{"state":{"blocks":{},"edges":[],"variables":[null]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := Import(data)
		if err != nil {
			return
		}
		if _, err := Export(w); err != nil {
			t.Fatalf("export of an imported workflow failed: %v", err)
		}
		_ = InputFormat(w)
		_ = Unsupported(w)
		if p, err := Compile(w, CompileOptions{}); err == nil && p == nil {
			t.Fatal("nil plan without error")
		}
	})
}
