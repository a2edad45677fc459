package mcp

import (
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

func TestSanitizeToolName(t *testing.T) {
	for in, want := range map[string]string{
		"Greet":                     "greet",
		"  Send Email -- to Team! ": "send_email_to_team",
		"Ünïcode ✓":                 "n_code",
		"":                          "workflow",
		"___":                       "workflow",
		strings.Repeat("a", 80):     strings.Repeat("a", 64),
	} {
		if got := sanitizeToolName(in); got != want {
			t.Errorf("sanitizeToolName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestToolNamesUniqueAndDeterministic(t *testing.T) {
	now := time.Now()
	mk := func(id, name string, age int) core.Tool {
		return core.Tool{Workflow: &store.Workflow{ID: id, Name: name, CreatedAt: now.Add(-time.Duration(age) * time.Hour)}}
	}
	tools := []core.Tool{mk("B", "Greet", 1), mk("A", "greet", 2), mk("C", strings.Repeat("x", 70), 0), mk("D", strings.Repeat("x", 64), 3)}
	names := toolNames(tools)
	if names[1] != "greet" || !strings.HasPrefix(names[0], "greet_") || names[3] != strings.Repeat("x", 64) || len(names[2]) != 64 || names[2] == names[3] {
		t.Fatalf("names = %q", names)
	}
	rev := []core.Tool{tools[3], tools[2], tools[1], tools[0]}
	again := toolNames(rev)
	if again[3] != names[0] || again[2] != names[1] {
		t.Fatalf("not deterministic: %q vs %q", again, names)
	}
}

func TestInputSchemaAndValidation(t *testing.T) {
	in := []engine.InputField{{Name: "s", Type: "string"}, {Name: "n", Type: "number", HasDefault: true, Default: 1.0}, {Name: "f", Type: "files", HasDefault: true}}
	s := string(inputSchema(in))
	if !strings.Contains(s, `"required":["s"]`) || !strings.Contains(s, `"f":{`) {
		t.Fatalf("schema %s", s)
	}
	if msg := validateArgs(in, map[string]any{}); !strings.Contains(msg, `"s"`) {
		t.Fatalf("missing: %q", msg)
	}
	if msg := validateArgs(in, map[string]any{"s": "x", "n": "1"}); !strings.Contains(msg, `"n"`) {
		t.Fatalf("type: %q", msg)
	}
	if msg := validateArgs(in, map[string]any{"s": "x", "n": 2.0}); msg != "" {
		t.Fatalf("valid: %q", msg)
	}
}
