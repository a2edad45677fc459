package core

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// HumanPause is what a person answering a human pause point is shown (Sim's resume
// page, apps/sim/app/resume/**): what the block's builderData rendered to when the run
// paused, and the form its inputFormat declares. Both come from the execution record's
// log of the paused block, which is redacted as every log is; the sealed engine state
// is never opened for it.
type HumanPause struct {
	Run     *store.PausedRun
	Point   store.PausePoint
	Display []DisplayField
	Fields  []ResumeField
}

// DisplayField is one row of the paused block's builderData (a dotted path for
// nested objects), with its value as resolved at pause time.
type DisplayField struct {
	Name  string
	Type  string
	Value any
}

// ResumeField is one field of the resume form (Sim's normalized inputFormat).
type ResumeField struct {
	Name, Label, Type        string
	Description, Placeholder string
	Required                 bool
	// Value is the field's default: the block's output carries it until a resume sets it.
	Value any
}

// HumanPause returns human pause point contextID of paused execution execID of
// workflow wfID for a caller with read on the workflow. A run that was paused there
// and has gone on since answers 409 not_resumable, as Resume does.
func (s *Service) HumanPause(ctx context.Context, p *auth.Principal, wfID, execID, contextID string) (*HumanPause, error) {
	pr, err := s.PausedRun(ctx, p, wfID, execID)
	if err == errPausedNotFound {
		if exec, lerr := s.st.Logs().Get(ctx, execID); lerr == nil && exec.WorkflowID == wfID {
			return nil, errNotResumable
		}
	}
	if err != nil {
		return nil, err
	}
	pt := pr.Point(contextID)
	if pt == nil {
		return nil, errPointNotFound
	}
	if pt.Kind != store.PauseHuman {
		return nil, newError(http.StatusBadRequest, "invalid_pause_kind",
			"Pause kind '%s' is not answered by a person: the server resumes it on time", pt.Kind)
	}
	exec, err := s.st.Logs().Get(ctx, execID)
	if err != nil {
		return nil, fmt.Errorf("read paused execution: %w", err)
	}
	hp := &HumanPause{Run: pr, Point: *pt, Display: []DisplayField{}, Fields: []ResumeField{}}
	var logs []engine.BlockLog
	if len(exec.BlockLogs) > 0 {
		if err := json.Unmarshal(exec.BlockLogs, &logs); err != nil {
			return nil, fmt.Errorf("read block logs of %s: %w", execID, err)
		}
	}
	var resp map[string]any
	for i := len(logs) - 1; i >= 0; i-- {
		if logs[i].BlockID == pt.BlockID {
			resp, _ = logs[i].Output["response"].(map[string]any)
			break
		}
	}
	// The block's paused output (engine.runHITL): response.responseStructure and
	// response.inputFormat, both already normalized the way Sim normalizes them.
	for _, row := range asList(resp["responseStructure"]) {
		m, _ := row.(map[string]any)
		name, _ := m["name"].(string)
		if name == "" {
			continue
		}
		typ, _ := m["type"].(string)
		hp.Display = append(hp.Display, DisplayField{Name: name, Type: typ, Value: m["value"]})
	}
	for _, f := range asList(resp["inputFormat"]) {
		m, _ := f.(map[string]any)
		name, _ := m["name"].(string)
		if strings.TrimSpace(name) == "" {
			continue
		}
		rf := ResumeField{Name: name, Value: m["value"], Required: m["required"] == true}
		rf.Label, _ = m["label"].(string)
		rf.Type, _ = m["type"].(string)
		rf.Description, _ = m["description"].(string)
		rf.Placeholder, _ = m["placeholder"].(string)
		if rf.Label == "" {
			rf.Label = name
		}
		if rf.Type == "" {
			rf.Type = "string"
		}
		hp.Fields = append(hp.Fields, rf)
	}
	return hp, nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
