package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

// `steelengine blocks` lists what runs; a deploy refused for unsupported blocks names
// each one in text, and with --json the error is JSON with the blocks as details.
func TestBlocksAndDeployRefusal(t *testing.T) {
	var types []map[string]any
	cliJSON(t, &types, "--json", "blocks")
	found := map[string]bool{}
	for _, bt := range types {
		found[bt["type"].(string)] = true
	}
	if !found["function"] || !found["schedule"] || found["slack"] {
		t.Errorf("blocks = %v", found)
	}

	_, d, _ := seedWorld(t)
	file := filepath.Join(testenv.Root(), "test", "workflows", "sim-integrations.json")
	var wf map[string]any
	cliJSON(t, &wf, append(d, "workflows", "import", "--workspace", "Ops", file)...)
	id := wf["id"].(string)

	_, errOut, code := runCLI(t, d[0], d[1], "workflows", "deploy", id) // d ends with --json
	if code != 1 || !strings.Contains(errOut, `"Post to Slack" (slack)`) || !strings.Contains(errOut, `"Python Tally" (function)`) || strings.Contains(errOut, "Email Digest") {
		t.Errorf("deploy: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runCLI(t, append(d, "workflows", "deploy", id)...)
	var body struct {
		Code    string
		Details []map[string]any
	}
	if err := json.Unmarshal([]byte(errOut), &body); err != nil || code != 1 || body.Code != "unsupported_blocks" || len(body.Details) != 2 {
		t.Errorf("deploy --json: exit %d, %v, stderr %q", code, err, errOut)
	}
}

// A deployed schedule is listed with its next fire time.
func TestTriggersList(t *testing.T) {
	_, d, _ := seedWorld(t)
	file := filepath.Join(testenv.Root(), "test", "workflows", "schedule-every-minute.json")
	var wf map[string]any
	cliJSON(t, &wf, append(d, "workflows", "import", "--workspace", "Ops", file)...)
	cliJSON(t, &map[string]any{}, append(d, "workflows", "deploy", wf["id"].(string))...)
	var out struct {
		Schedules []map[string]any
		Webhooks  []map[string]any
	}
	cliJSON(t, &out, append(d, "triggers", "list", "--workspace", "Ops")...)
	if len(out.Schedules) != 1 || out.Schedules[0]["cron"] != "*/1 * * * *" || out.Schedules[0]["nextRunAt"] == nil || len(out.Webhooks) != 0 {
		t.Errorf("triggers = %+v", out)
	}
}
