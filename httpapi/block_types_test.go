package httpapi_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestBlockTypesListsWhatRuns(t *testing.T) {
	e := testenv.New(t)
	m := mgKey(t, e, e.MemberKey).want(200, "", "GET", "/api/v1/block-types", nil)
	types := map[string]string{}
	for _, x := range m["data"].([]any) {
		bt := x.(map[string]any)
		types[bt["type"].(string)] = bt["category"].(string)
	}
	if types["function"] != "block" || types["schedule"] != "trigger" || types["generic_webhook"] != "trigger" || types["loop"] != "container" {
		t.Errorf("block types = %v", types)
	}
	if _, ok := types["slack"]; ok {
		t.Error("slack listed as runnable")
	}
	(&mgClient{t: t, e: e}).want(401, "", "GET", "/api/v1/block-types", nil)
}

// A Sim export with integration blocks imports through the API, exports back with its
// blocks unchanged, and deploy names exactly the active, reachable blocks that cannot
// run (an enabled Slack block and a python function), not the disabled Gmail block, the
// block behind it, nor the unconnected Sheets block.
func TestImportIntegrationsDeployListsUnsupported(t *testing.T) {
	e := testenv.New(t)
	admin := mgKey(t, e, e.AdminKey)
	sim := testenv.Workflow(t, "sim-integrations.json")
	m := admin.want(201, "", "POST", "/api/v1/workflows/import?workspaceId="+e.WS.ID, sim)
	id, _ := mgObj(m, "data")["id"].(string)

	resp := admin.raw("GET", "/api/v1/workflows/"+id+"/export", nil)
	var exp, orig struct {
		State struct {
			Blocks map[string]json.RawMessage `json:"blocks"`
		} `json:"state"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&exp); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := json.Unmarshal(sim, &orig); err != nil {
		t.Fatal(err)
	}
	for bid, raw := range orig.State.Blocks {
		if got := exp.State.Blocks[bid]; compactJSON(t, got) != compactJSON(t, raw) {
			t.Errorf("block %s changed on export:\n got %s\nwant %s", bid, compactJSON(t, got), compactJSON(t, raw))
		}
	}

	m = admin.want(400, "unsupported_blocks", "POST", "/api/v1/workflows/"+id+"/deploy", nil)
	var got []string
	for _, d := range m["details"].([]any) {
		p := d.(map[string]any)
		got = append(got, p["blockName"].(string)+"/"+p["blockType"].(string))
		if p["hint"] == "" || p["hint"] == nil {
			t.Errorf("no hint for %v", p)
		}
	}
	if strings.Join(got, ",") != "Post to Slack/slack,Python Tally/function" {
		t.Errorf("unsupported = %v", got)
	}
	if msg, _ := m["error"].(string); !strings.Contains(msg, `"Post to Slack" (slack)`) {
		t.Errorf("message does not name the block: %q", msg)
	}
}

// compactJSON drops insignificant whitespace only: key order and escapes are compared
// as they are.
func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return b.String()
}
