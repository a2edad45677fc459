package engine

import (
	"sort"
	"strings"
)

// BlockTypeInfo describes one block type the engine runs (GET /api/v1/block-types,
// `steelengine blocks`).
type BlockTypeInfo struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Category string `json:"category"` // trigger, block or container
	Notes    string `json:"notes,omitempty"`
}

// catalogue lists what runs. A type is runnable when it is here; the executor's
// blockTypes map must agree (TestCatalogueMatchesExecutor).
var catalogue = []BlockTypeInfo{
	{TypeStartTrigger, "Start", "trigger", "API, MCP and manual runs"},
	{TypeStarter, "Starter (legacy)", "trigger", "API, MCP and manual runs"},
	{TypeAPITrigger, "API trigger", "trigger", ""},
	{TypeInputTrigger, "Input trigger", "trigger", ""},
	{TypeManualTrigger, "Manual trigger", "trigger", ""},
	{TypeChatTrigger, "Chat trigger", "trigger", "runs as an API trigger"},
	{TypeSchedule, "Schedule", "trigger", "minutes, hourly, daily, weekly, monthly and cron schedules with a timezone; fires the active deployed version"},
	{TypeWebhook, "Webhook", "trigger", "POST /api/webhooks/trigger/{path}; bearer or custom-header token, optional HMAC signature"},
	{TypeAgent, "Agent", "block", "workspace model providers (OpenAI-compatible, Anthropic); custom, HTTP and workflow tools"},
	{TypeEvaluator, "Evaluator", "block", "scores content against metrics with a model"},
	{TypeWorkflow, "Workflow", "block", "runs a child workflow (deployed version when the parent is deployed)"},
	{TypeWorkflowInput, "Workflow (input mapping)", "block", "runs a child workflow"},
	{TypeFunction, "Function", "block", "JavaScript only"},
	{TypeAPI, "API", "block", "outbound HTTP through the SSRF guard"},
	{TypeCondition, "Condition", "block", ""},
	{TypeRouter, "Router (legacy)", "block", ""},
	{TypeRouterV2, "Router", "block", ""},
	{TypeResponse, "Response", "block", ""},
	{TypeVariables, "Variables", "block", ""},
	{TypeWait, "Wait", "block", "in-process up to 10 minutes; async mode pauses the run durably for up to 30 days (top level only)"},
	{TypeHITL, "Human in the loop", "block", "pauses the run durably until POST /api/resume/{workflowId}/{executionId}/{contextId} (top level only; no notification tools)"},
	{TypeNote, "Note", "block", "annotation, never runs"},
	{TypeLoop, "Loop", "container", "for, forEach, while, doWhile"},
	{TypeParallel, "Parallel", "container", "count and collection"},
}

// BlockTypes returns the block types the engine runs, sorted by category then type.
func BlockTypes() []BlockTypeInfo {
	out := make([]BlockTypeInfo, 0, len(catalogue))
	for _, bt := range catalogue {
		if runnable(bt.Type) {
			out = append(out, bt)
		}
	}
	order := map[string]int{"trigger": 0, "block": 1, "container": 2}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return order[out[i].Category] < order[out[j].Category]
		}
		return out[i].Type < out[j].Type
	})
	return out
}

// runnable reports whether the engine can run blocks of type t.
func runnable(t string) bool { return t == TypeNote || blockTypes[t] != nil }

// DeployCheck is a static check of one block: what is known to fail at run time.
type DeployCheck func(b *Block) []BlockProblem

// deployChecks holds the static checks per block type; block files register theirs in
// init (the function block refuses python and shell; the agent block its tool types).
var deployChecks = map[string]DeployCheck{}

// RegisterDeployCheck adds a static deploy check for a block type. Call it from init.
func RegisterDeployCheck(typ string, c DeployCheck) { deployChecks[typ] = c }

// IsEntryPoint reports whether a run can start at b: the core triggers, schedule and
// webhook triggers, and integration blocks in trigger mode (which SteelEngine cannot
// fire; Unsupported lists them).
func IsEntryPoint(b *Block) bool {
	if b == nil || !b.Enabled || b.ParentID() != "" {
		return false
	}
	return isTrigger(b.Type) || b.Type == TypeSchedule || b.Type == TypeWebhook || b.TriggerMode ||
		strings.HasSuffix(b.Type, "_trigger") || strings.HasSuffix(b.Type, "_webhook") || b.Type == "webhook"
}

// entryPoints returns the blocks runs may start at, in file order. A workflow without
// any trigger falls back, as Sim's DAG builder does, to its first block without
// incoming edges.
func entryPoints(w *Workflow) []*Block {
	var out []*Block
	for _, id := range w.BlockOrder {
		if b := w.Blocks[id]; IsEntryPoint(b) {
			out = append(out, b)
		}
	}
	if len(out) > 0 {
		return out
	}
	incoming := map[string]bool{}
	for _, e := range w.Edges {
		incoming[e.Target] = true
	}
	for _, id := range w.BlockOrder {
		b := w.Blocks[id]
		if b.Enabled && b.ParentID() == "" && b.Type != TypeNote && !isContainer(b.Type) && !incoming[id] {
			return []*Block{b}
		}
	}
	return nil
}

// Reachable returns the ids of enabled blocks reachable from any entry point: the only
// blocks that can ever run. Disabled blocks and blocks cut off by them are not in it.
func Reachable(w *Workflow) map[string]bool {
	out := map[string]bool{}
	for _, ep := range entryPoints(w) {
		for id := range reachable(w, ep.ID) {
			out[id] = true
		}
	}
	return out
}

// Unsupported lists the reachable, enabled blocks that would fail: types the engine
// does not run (integration blocks and triggers), and what the registered static
// checks know to fail at run time (python/shell code, agent tool types). Deploy is
// refused while the list is non-empty; each entry names the block, its type and a hint.
func Unsupported(w *Workflow) []BlockProblem {
	reach := Reachable(w)
	var out []BlockProblem
	for _, id := range w.BlockOrder {
		b := w.Blocks[id]
		if !reach[id] {
			continue
		}
		if !runnable(b.Type) {
			out = append(out, unsupportedProblem(b))
			continue
		}
		if c := deployChecks[b.Type]; c != nil {
			out = append(out, c(b)...)
		}
	}
	return out
}

func unsupportedProblem(b *Block) BlockProblem {
	p := BlockProblem{BlockID: b.ID, BlockName: b.Name, BlockType: b.Type, Code: ProblemUnsupported,
		Message: "block type \"" + b.Type + "\" is not supported by SteelEngine"}
	switch {
	case IsEntryPoint(b):
		p.Code = ProblemUnsupportedTrigger
		p.Message = "trigger \"" + b.Type + "\" cannot be fired by SteelEngine"
		p.Hint = "disable this trigger, or replace it with a Webhook trigger (generic_webhook) the service calls, a Schedule, or the API"
	case b.Type == TypeEvaluator || b.Type == TypeWorkflow || b.Type == TypeWorkflowInput:
		p.Hint = "disable the block, or replace it with an agent or api block"
	default:
		p.Hint = "replace it with an api block calling the service's HTTP API, with its token in an environment variable ({{MY_TOKEN}}), or disable the block"
	}
	return p
}

func init() {
	RegisterDeployCheck(TypeFunction, func(b *Block) []BlockProblem {
		lang, _ := b.Param("language").(string)
		switch strings.ToLower(strings.TrimSpace(lang)) {
		case "", "javascript", "js", "typescript", "ts":
			return nil
		}
		return []BlockProblem{{BlockID: b.ID, BlockName: b.Name, BlockType: b.Type, Code: ProblemUnsupportedLanguage,
			Message: "function language \"" + lang + "\" is not supported: SteelEngine runs JavaScript only",
			Hint:    "rewrite the code in JavaScript, or disable the block"}}
	})
}

// FireableTriggers returns the schedule and webhook trigger blocks of w (enabled, at the
// root), in file order.
func FireableTriggers(w *Workflow) []*Block {
	var out []*Block
	for _, id := range w.BlockOrder {
		b := w.Blocks[id]
		if (b.Type == TypeSchedule || b.Type == TypeWebhook) && b.Enabled && b.ParentID() == "" {
			out = append(out, b)
		}
	}
	return out
}

// CheckDeployable compiles w from every entry point SteelEngine can fire: the API start
// block (when there is one) and each schedule and webhook trigger, and returns the
// plans. A workflow with none of them cannot run at all.
func CheckDeployable(w *Workflow) ([]*Plan, error) {
	starts := []string{}
	if findStart(w) != nil {
		starts = append(starts, "")
	}
	for _, b := range FireableTriggers(w) {
		starts = append(starts, b.ID)
	}
	if len(starts) == 0 {
		return nil, &ValidationError{Problems: []BlockProblem{{Code: CodeNoStart,
			Message: "No start block found: add a Start, Schedule or Webhook trigger"}}}
	}
	plans := make([]*Plan, 0, len(starts))
	for _, s := range starts {
		p, err := Compile(w, CompileOptions{StartBlockID: s})
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	return plans, nil
}
