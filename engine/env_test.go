package engine

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/engine/sandbox"
)

func TestValidEnvName(t *testing.T) {
	for name, want := range map[string]bool{
		"API_KEY": true, "_x": true, "a1": true, "": false, "1A": false, "user.name": false,
		"A B": false, "A-B": false, strings.Repeat("A", MaxEnvNameLen): true, strings.Repeat("A", MaxEnvNameLen+1): false,
	} {
		if got := ValidEnvName(name); got != want {
			t.Errorf("ValidEnvName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestEnvNamesListsReferencesInParamsCodeAndConditions(t *testing.T) {
	w := startBlock(newWF())
	w.fn("f", "F", "return '{{IN_CODE}}' + {{ BARE }}")
	w.block("api", TypeAPI, "Call", map[string]any{"url": "https://x/{{IN_URL}}", "method": "GET",
		"body": "{{ not.an.env }} {{IN_URL}}"}, nil)
	w.edge("start", "f", "").edge("f", "api", "")
	got := w.plan(t).EnvNames()
	if want := []string{"BARE", "IN_CODE", "IN_URL"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("EnvNames = %v, want %v", got, want)
	}
}

// A missing variable fails the block that references it with an error naming the
// variable; blocks that do not reference it run, and nothing downstream does.
func TestMissingEnvFailsTheBlockByName(t *testing.T) {
	cases := map[string]*wfBuilder{
		"param": func() *wfBuilder {
			w := startBlock(newWF())
			w.block("resp", TypeResponse, "Reply", map[string]any{"dataMode": "json", "data": `{"k": "{{MISSING_ONE}}"}`}, nil)
			return w.edge("start", "resp", "")
		}(),
		"code": func() *wfBuilder {
			w := startBlock(newWF())
			w.fn("f", "Code", "return {{MISSING_ONE}}")
			return w.edge("start", "f", "")
		}(),
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			res := w.plan(t).Run(context.Background(), RunInput{Env: map[string]string{"OTHER": "x"}, Sandbox: sandbox.NewInProcess()})
			if res.Success {
				t.Fatalf("run succeeded with a missing env var: %v", res.Output)
			}
			if !strings.Contains(res.Error, `environment variable "MISSING_ONE" is not set`) {
				t.Fatalf("error = %q, want it to name MISSING_ONE", res.Error)
			}
			last := res.BlockLogs[len(res.BlockLogs)-1]
			if last.Success || !strings.Contains(last.Error, "MISSING_ONE") {
				t.Fatalf("failing block log = %+v", last)
			}
		})
	}
	var e *EnvNotSetError
	if !errors.As(error(&EnvNotSetError{Name: "X"}), &e) || e.Name != "X" {
		t.Fatal("EnvNotSetError does not match itself")
	}
}

// A block error that quotes a resolved env value is recorded with the value masked.
func TestBlockErrorsDoNotLeakEnvValues(t *testing.T) {
	w := startBlock(newWF())
	w.fn("f", "Boom", "throw new Error('bad token ' + '{{TOKEN}}')")
	w.edge("start", "f", "")
	const secret = "tok-9f8e7d6c5b4a"
	res := w.plan(t).Run(context.Background(), RunInput{Env: map[string]string{"TOKEN": secret}, Sandbox: sandbox.NewInProcess()})
	if res.Success {
		t.Fatal("run succeeded")
	}
	b, _ := json.Marshal(struct {
		E string
		L []BlockLog
		S []TraceSpan
	}{res.Error, res.BlockLogs, res.TraceSpans})
	if strings.Contains(string(b), secret) {
		t.Fatalf("error or logs contain the env value: %s", b)
	}
}
