package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// stateBlocks returns each block of an export's state.blocks as raw (compacted) bytes.
func stateBlocks(t *testing.T, doc []byte) map[string][]byte {
	t.Helper()
	var env struct {
		State struct {
			Blocks json.RawMessage `json:"blocks"`
		} `json:"state"`
	}
	if err := json.Unmarshal(doc, &env); err != nil {
		t.Fatal(err)
	}
	keys, vals, err := orderedObject(env.State.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for i, k := range keys {
		var c bytes.Buffer
		if err := json.Compact(&c, vals[i]); err != nil {
			t.Fatal(err)
		}
		out[k] = c.Bytes()
	}
	return out
}

// A Sim export with integration blocks imports whole, exports back with every block
// byte for byte as it came (Sim's importer needs only id/type/position, see
// apps/sim/lib/workflows/operations/import-export.ts parseWorkflowJson, so nothing is
// lost), and Unsupported names exactly the active, reachable blocks that cannot run:
// disabled blocks, blocks behind them and blocks no trigger reaches are ignored, as
// Sim's DAG builder does (apps/sim/executor/dag/builder.ts: reachable set from the
// trigger over enabled blocks).
func TestIntegrationExportImportsRoundTripsAndListsUnsupported(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "test", "workflows", "sim-integrations.json"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := Import(raw)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	out, err := Export(w)
	if err != nil {
		t.Fatal(err)
	}
	want, got := stateBlocks(t, raw), stateBlocks(t, out)
	if len(want) != len(got) {
		t.Fatalf("exported %d blocks, want %d", len(got), len(want))
	}
	for id, b := range want {
		if !bytes.Equal(got[id], b) {
			t.Errorf("block %s changed:\n got %s\nwant %s", id, got[id], b)
		}
	}
	// Twice through (import → export → import → export) is stable too.
	w2, err := Import(out)
	if err != nil {
		t.Fatal(err)
	}
	out2, _ := Export(w2)
	if !reflect.DeepEqual(stateBlocks(t, out2), got) {
		t.Error("second round trip changed blocks")
	}

	var names []string
	for _, p := range Unsupported(w) {
		names = append(names, p.BlockName+"/"+p.BlockType+"/"+p.Code)
		if p.Hint == "" {
			t.Errorf("%s: no hint", p.BlockName)
		}
	}
	wantNames := []string{"Post to Slack/slack/unsupported_type", "Python Tally/function/unsupported_language"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("Unsupported = %v, want %v", names, wantNames)
	}
}

// A secret typed into an integration block is still withheld: such a block is rebuilt
// with the secret nulled instead of written back as read.
func TestVerbatimBlockStillDropsSecrets(t *testing.T) {
	doc := `{"state":{"blocks":{
	 "s":{"id":"s","type":"start_trigger","name":"Start","position":{"x":0,"y":0}},
	 "k":{"id":"k","type":"slack","name":"Slack","position":{"x":1,"y":0},"subBlocks":{"botToken":{"id":"botToken","type":"short-input","value":"xoxb-live-secret"}}}},
	 "edges":[{"id":"e","source":"s","target":"k"}]}}`
	w, err := Import([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Export(w)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "xoxb-live-secret") {
		t.Fatalf("secret exported: %s", out)
	}
	if !strings.Contains(string(stateBlocks(t, out)["k"]), `"type":"slack"`) {
		t.Error("integration block lost")
	}
}

// Triggers SteelEngine cannot fire are listed; the blocks only they reach are too.
func TestUnsupportedTriggersAndBlockTypes(t *testing.T) {
	b := newWF()
	b.block("gh", "github", "PR Opened", nil, nil)
	b.blocks["gh"].(map[string]any)["triggerMode"] = true
	b.fn("f", "Fn", "return 1").edge("gh", "f", "source")
	w, err := Import(b.json())
	if err != nil {
		t.Fatal(err)
	}
	u := Unsupported(w)
	if len(u) != 1 || u[0].Code != ProblemUnsupportedTrigger || u[0].BlockName != "PR Opened" {
		t.Errorf("Unsupported = %+v", u)
	}
	types := map[string]bool{}
	for _, bt := range BlockTypes() {
		types[bt.Type] = true
		if !runnable(bt.Type) {
			t.Errorf("%s listed but not runnable", bt.Type)
		}
	}
	for typ := range blockTypes {
		if !types[typ] {
			t.Errorf("executor runs %s but BlockTypes does not list it", typ)
		}
	}
	if !types[TypeSchedule] || !types[TypeWebhook] || types["slack"] {
		t.Errorf("BlockTypes = %v", types)
	}
}
