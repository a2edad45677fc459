package engine

import (
	"encoding/json"
	"strings"
	"unicode"
)

// Workflow is an imported Sim-format workflow. It is the decoded form of Sim's export
// envelope; the store keeps the JSON and the engine re-imports it when it needs a plan.
//
// Blocks keep the order they had in the file (BlockOrder) because a few of Sim's rules
// ("the first start block", condition handles assigned by edge index) depend on order and
// Go maps have none.
type Workflow struct {
	Version    string
	ExportedAt string
	Info       *WorkflowInfo // the envelope's optional "workflow" object
	Blocks     map[string]*Block
	BlockOrder []string
	Edges      []*Edge
	Variables  []*Variable
	Metadata   Metadata
}

// WorkflowInfo is the "workflow" object of an API export.
type WorkflowInfo struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	WorkspaceID string `json:"workspaceId,omitempty"`
	FolderID    string `json:"folderId,omitempty"`
}

// Metadata is state.metadata.
type Metadata struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	ExportedAt  string `json:"exportedAt,omitempty"`
}

// Position is a canvas position; layout only.
type Position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// SubBlock is one configured field of a block.
type SubBlock struct {
	ID    string `json:"id"`
	Type  string `json:"type,omitempty"`
	Value any    `json:"value"`
}

// RetryConfig is a block's optional retry policy.
type RetryConfig struct {
	Enabled            bool `json:"enabled"`
	MaxTries           int  `json:"maxTries,omitempty"`
	WaitBetweenTriesMs int  `json:"waitBetweenTriesMs,omitempty"`
}

// Block is one block of the workflow (Sim's BlockState).
type Block struct {
	ID           string
	Type         string
	Name         string
	Position     Position
	Enabled      bool
	SubBlocks    map[string]*SubBlock
	Outputs      map[string]any // display schema only
	Data         map[string]any // parentId, loop/parallel config, canonicalModes…
	TriggerMode  bool
	AdvancedMode bool
	Retry        *RetryConfig

	// raw keeps every field of the block as read, so export can write back fields the
	// engine does not model (height, locked, horizontalHandles, …).
	raw map[string]json.RawMessage
	// verbatim is the block exactly as read (compacted): export writes it back unchanged
	// unless a secret has to be dropped, so integration blocks SteelEngine does not model
	// survive an import → export cycle byte for byte.
	verbatim json.RawMessage
}

// Edge is a connection between two blocks.
type Edge struct {
	ID           string
	Source       string
	Target       string
	SourceHandle string
	TargetHandle string

	raw map[string]json.RawMessage
}

// Variable is a workflow variable.
type Variable struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Name returns the workflow's name (the API export's workflow object, else metadata).
func (w *Workflow) Name() string {
	if w.Info != nil && w.Info.Name != "" {
		return w.Info.Name
	}
	return w.Metadata.Name
}

// Description returns the workflow's description.
func (w *Workflow) Description() string {
	if w.Info != nil && w.Info.Description != "" {
		return w.Info.Description
	}
	return w.Metadata.Description
}

// ParentID returns the container block id this block lives in, or "".
func (b *Block) ParentID() string {
	if b.Data == nil {
		return ""
	}
	s, _ := b.Data["parentId"].(string)
	return s
}

// Param returns a subBlock value or nil.
func (b *Block) Param(id string) any {
	if sb, ok := b.SubBlocks[id]; ok && sb != nil {
		return sb.Value
	}
	return nil
}

// NormalizeName is Sim's normalizeName: lower case with all whitespace and dots removed.
func NormalizeName(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		if unicode.IsSpace(r) || r == '.' {
			continue
		}
		sb.WriteRune(unicode.ToLower(r))
	}
	return sb.String()
}

// Block type names.
const (
	TypeStartTrigger  = "start_trigger"
	TypeStarter       = "starter"
	TypeAPITrigger    = "api_trigger"
	TypeInputTrigger  = "input_trigger"
	TypeManualTrigger = "manual_trigger"
	TypeChatTrigger   = "chat_trigger"
	TypeAgent         = "agent"
	TypeFunction      = "function"
	TypeAPI           = "api"
	TypeCondition     = "condition"
	TypeRouter        = "router"
	TypeRouterV2      = "router_v2"
	TypeResponse      = "response"
	TypeVariables     = "variables"
	TypeWait          = "wait"
	TypeEvaluator     = "evaluator"
	TypeWorkflow      = "workflow"
	TypeWorkflowInput = "workflow_input"
	TypeHITL          = "human_in_the_loop"
	TypeNote          = "note"
	TypeLoop          = "loop"
	TypeParallel      = "parallel"
	TypeSchedule      = "schedule"
	TypeWebhook       = "generic_webhook"
)

// Every block type imports: Sim has hundreds of integration blocks (Slack, Gmail, …) and
// a user must be able to import a workflow and then replace the parts SteelEngine cannot
// run. Blocks are kept as written (see Block.verbatim) and deploy refuses a workflow whose
// reachable, enabled blocks include a type the engine does not run (see Unsupported).

// startPriority is the order in which trigger blocks are chosen as the run's start.
var startPriority = []string{TypeStartTrigger, TypeAPITrigger, TypeInputTrigger, TypeManualTrigger, TypeStarter}

func isTrigger(t string) bool {
	switch t {
	case TypeStartTrigger, TypeStarter, TypeAPITrigger, TypeInputTrigger, TypeManualTrigger, TypeChatTrigger:
		return true
	}
	return false
}

func isContainer(t string) bool { return t == TypeLoop || t == TypeParallel }

// reservedNames may not be used as block names: they are reference prefixes.
var reservedNames = map[string]bool{"loop": true, "parallel": true, "variable": true}

// BlockProblem describes one problem with one block (or edge, or the workflow as a whole).
type BlockProblem struct {
	BlockID   string `json:"blockId,omitempty"`
	BlockName string `json:"blockName,omitempty"`
	BlockType string `json:"blockType,omitempty"`
	EdgeID    string `json:"edgeId,omitempty"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	// Hint says how to make the workflow deployable (deploy problems only).
	Hint string `json:"hint,omitempty"`
}

func (p BlockProblem) String() string {
	var sb strings.Builder
	switch {
	case p.BlockName != "":
		sb.WriteString("block \"" + p.BlockName + "\": ")
	case p.BlockID != "":
		sb.WriteString("block " + p.BlockID + ": ")
	case p.EdgeID != "":
		sb.WriteString("edge " + p.EdgeID + ": ")
	}
	sb.WriteString(p.Message)
	return sb.String()
}

// Problem codes.
const (
	ProblemInvalid       = "invalid"
	ProblemMissingField  = "missing_field"
	ProblemUnknownBlock  = "unknown_block"
	ProblemCrossScope    = "cross_scope_edge"
	ProblemCycle         = "cycle"
	ProblemDuplicateName = "duplicate_name"
	ProblemReservedName  = "reserved_name"
	ProblemUnsupported   = "unsupported_type"
	// ProblemUnsupportedLanguage: a function block in a language SteelEngine cannot run.
	ProblemUnsupportedLanguage = "unsupported_language"
	// ProblemUnsupportedTrigger: a trigger SteelEngine cannot fire (integration events).
	ProblemUnsupportedTrigger = "unsupported_trigger"
)

// ValidationError lists every problem found in a workflow.
type ValidationError struct {
	Problems []BlockProblem `json:"problems"`
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid workflow: " + e.Problems[0].String()
	}
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "invalid workflow: " + itoa(len(e.Problems)) + " problems: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalidWorkflow) true for validation errors.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidWorkflow }
