package engine

import (
	"context"
	"fmt"
	"strings"
)

// CompileOptions tunes Compile.
type CompileOptions struct {
	// StartBlockID forces the start block; "" picks by Sim's trigger priority.
	StartBlockID string
}

// Plan is an immutable, compiled workflow. It is safe for concurrent Runs.
type Plan struct {
	wf       *Workflow
	start    *node
	root     *scope
	nodes    map[string]*node // reachable blocks by id
	names    *names
	vars     []*Variable
	schemaOf map[string]map[string]bool // block id → declared output fields
}

type edgeKind uint8

const (
	edgeAlways edgeKind = iota
	edgeSuccess
	edgeError
	edgeCondition
	edgeRouter
)

type planEdge struct {
	kind   edgeKind
	option string // condition/route id
	target *node
}

// scope is the set of nodes directly inside the root or one container.
type scope struct {
	container *node
	nodes     []*node
	starts    []*node
}

type node struct {
	id, name, typ string
	b             *Block
	idx           int // position in its scope
	scope         *scope
	out           []planEdge
	in            int // incoming edges from reachable nodes in the same scope
	inSources     []*node
	terminal      bool // no outgoing DAG edges
	hasErrorEdge  bool
	bt            *blockType
	params        map[string]any // subBlock values; strings with refs compiled to *template
	ext           any            // type-specific compiled data
	sub           *scope         // loop/parallel body
	retry         RetryConfig
}

// blockType is the engine's knowledge of one block type.
type blockType struct {
	// raw lists params the handler compiles itself (code, conditions) and that are
	// therefore not template-resolved before run.
	raw     map[string]bool
	compile func(p *Plan, n *node) error
	run     func(ctx context.Context, x *execCtx) (map[string]any, error)
}

var blockTypes map[string]*blockType

func init() {
	blockTypes = map[string]*blockType{
		TypeStartTrigger:  startType,
		TypeStarter:       startType,
		TypeAPITrigger:    startType,
		TypeInputTrigger:  startType,
		TypeManualTrigger: startType,
		TypeChatTrigger:   startType,
		TypeSchedule:      triggerType,
		TypeWebhook:       triggerType,
		TypeFunction:      functionType,
		TypeCondition:     conditionType,
		TypeAPI:           apiType,
		TypeResponse:      responseType,
		TypeVariables:     variablesType,
		TypeWait:          waitType,
		TypeHITL:          hitlType,
		TypeAgent:         agentType,
		TypeRouter:        routerType,
		TypeRouterV2:      routerType,
		TypeEvaluator:     evaluatorType,
		TypeWorkflow:      workflowType,
		TypeWorkflowInput: workflowType,
		TypeLoop:          loopType,
		TypeParallel:      parallelType,
	}
}

// Compile turns a workflow into a plan: start block, reachable set, scopes, edges by
// handle, parsed references and rewritten function code.
func Compile(w *Workflow, opts CompileOptions) (*Plan, error) {
	if w == nil {
		return nil, fmt.Errorf("compile: nil workflow")
	}
	p := &Plan{wf: w, nodes: map[string]*node{}, names: &names{byName: map[string]*Block{}}, vars: w.Variables,
		schemaOf: map[string]map[string]bool{}}
	for _, id := range w.BlockOrder {
		b := w.Blocks[id]
		if !b.Enabled || b.Type == TypeNote {
			continue
		}
		if b.Name != "" {
			p.names.byName[NormalizeName(b.Name)] = b
		}
		if len(b.Outputs) > 0 {
			s := make(map[string]bool, len(b.Outputs))
			for k := range b.Outputs {
				s[k] = true
			}
			p.schemaOf[id] = s
		}
	}
	var start *Block
	if opts.StartBlockID != "" {
		start = w.Blocks[opts.StartBlockID]
		if start == nil || !start.Enabled {
			return nil, fmt.Errorf("compile: start block %q not found", opts.StartBlockID)
		}
	} else if start = findStart(w); start == nil {
		return nil, &ValidationError{Problems: []BlockProblem{{Code: CodeNoStart, Message: "No start block found"}}}
	}

	reach := reachable(w, start.ID)
	children := map[string][]string{}
	for _, id := range w.BlockOrder {
		if reach[id] {
			children[w.Blocks[id].ParentID()] = append(children[w.Blocks[id].ParentID()], id)
		}
	}
	var probs []BlockProblem
	var build func(container *node, parent string) *scope
	build = func(container *node, parent string) *scope {
		sc := &scope{container: container}
		for _, id := range children[parent] {
			b := w.Blocks[id]
			n := &node{id: id, name: b.Name, typ: b.Type, b: b, scope: sc, idx: len(sc.nodes), params: map[string]any{}}
			if b.Retry != nil && b.Retry.Enabled {
				n.retry = *b.Retry
				if n.retry.MaxTries < 2 || n.retry.MaxTries > 5 {
					n.retry.MaxTries = 3
				}
				if n.retry.WaitBetweenTriesMs < 0 || n.retry.WaitBetweenTriesMs > 5000 {
					n.retry.WaitBetweenTriesMs = 1000
				}
			}
			n.bt = blockTypes[b.Type]
			if n.bt == nil {
				probs = append(probs, BlockProblem{BlockID: id, BlockName: b.Name, BlockType: b.Type, Code: ProblemUnsupported,
					Message: "block type \"" + b.Type + "\" is not supported by SteelEngine"})
				continue
			}
			sc.nodes = append(sc.nodes, n)
			p.nodes[id] = n
			if isContainer(b.Type) {
				n.sub = build(n, id)
			}
		}
		return sc
	}
	p.root = build(nil, "")
	p.start = p.nodes[start.ID]
	if len(probs) > 0 {
		return nil, &ValidationError{Problems: probs}
	}

	// Edges, grouped by source in file order (condition handles are assigned by index).
	outBySource := map[string][]*Edge{}
	for _, e := range w.Edges {
		outBySource[e.Source] = append(outBySource[e.Source], e)
	}
	for _, n := range p.nodes {
		for k, v := range n.b.SubBlocks {
			if !n.bt.raw[k] {
				n.params[k] = p.compileValue(v.Value)
			}
		}
		if n.bt.compile != nil {
			if err := n.bt.compile(p, n); err != nil {
				probs = append(probs, BlockProblem{BlockID: n.id, BlockName: n.name, BlockType: n.typ, Code: ProblemInvalid, Message: err.Error()})
			}
		}
	}
	if len(probs) > 0 {
		return nil, &ValidationError{Problems: probs}
	}
	for _, id := range w.BlockOrder {
		src := p.nodes[id]
		if src == nil {
			continue
		}
		var condIDs []string
		if c, ok := src.ext.(*conditionPlan); ok && src.typ == TypeCondition {
			for _, e := range c.entries {
				condIDs = append(condIDs, e.id)
			}
		}
		if rp, ok := src.ext.(*routerPlan); ok && src.typ == TypeRouterV2 {
			for _, r := range rp.routes {
				condIDs = append(condIDs, r.ID)
			}
		}
		for i, e := range outBySource[id] {
			dst := p.nodes[e.Target]
			if dst == nil {
				continue
			}
			// container → own child ("loop-start-source") and child → own container are
			// structural, not control flow.
			if dst.b.ParentID() == src.id || src.b.ParentID() == dst.id {
				continue
			}
			if dst.scope != src.scope {
				continue // rejected by Validate; ignore defensively
			}
			pe := planEdge{target: dst}
			h := e.SourceHandle
			switch {
			case h == "":
				pe.kind = edgeAlways
				if len(condIDs) > 0 && i < len(condIDs) {
					pe.kind, pe.option = edgeCondition, condIDs[i]
					if src.typ == TypeRouterV2 {
						pe.kind = edgeRouter
					}
				}
			case h == "error":
				pe.kind = edgeError
				src.hasErrorEdge = true
			case h == "source" || strings.HasPrefix(h, "source-") || h == "loop-end-source" || h == "parallel-end-source":
				pe.kind = edgeSuccess
			case strings.HasPrefix(h, "condition-"):
				pe.kind, pe.option = edgeCondition, strings.TrimPrefix(h, "condition-")
			case strings.HasPrefix(h, "router-"):
				pe.kind, pe.option = edgeRouter, strings.TrimPrefix(h, "router-")
			default:
				pe.kind = edgeAlways
			}
			// Legacy router: the route is the chosen target block.
			if src.typ == TypeRouter && pe.kind != edgeError {
				pe.kind, pe.option = edgeRouter, dst.id
			}
			src.out = append(src.out, pe)
			dst.in++
			dst.inSources = append(dst.inSources, src)
		}
		src.terminal = len(src.out) == 0
	}
	var setStarts func(sc *scope)
	setStarts = func(sc *scope) {
		for _, n := range sc.nodes {
			if sc.container != nil && n.in == 0 {
				sc.starts = append(sc.starts, n)
			}
			if n.sub != nil {
				setStarts(n.sub)
			}
		}
	}
	setStarts(p.root)
	p.root.starts = []*node{p.start}
	return p, nil
}

// reachable is a BFS from the start over edges between enabled blocks; reaching a
// container reaches all its (enabled) children.
func reachable(w *Workflow, start string) map[string]bool {
	out := map[string][]string{}
	for _, e := range w.Edges {
		out[e.Source] = append(out[e.Source], e.Target)
	}
	kids := map[string][]string{}
	for _, id := range w.BlockOrder {
		if p := w.Blocks[id].ParentID(); p != "" {
			kids[p] = append(kids[p], id)
		}
	}
	seen := map[string]bool{start: true}
	queue := []string{start}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		next := append(append([]string(nil), out[id]...), kids[id]...)
		for _, t := range next {
			b, ok := w.Blocks[t]
			if !ok || seen[t] || !b.Enabled || b.Type == TypeNote {
				continue
			}
			// A disabled container cuts its children off too.
			if pid := b.ParentID(); pid != "" {
				if pb := w.Blocks[pid]; pb == nil || !pb.Enabled {
					continue
				}
			}
			seen[t] = true
			queue = append(queue, t)
		}
	}
	return seen
}

// compileValue replaces string leaves that contain references with *template.
func (p *Plan) compileValue(v any) any {
	switch x := v.(type) {
	case string:
		t := p.names.parseTemplate(x)
		if t.static() {
			return x
		}
		return t
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = p.compileValue(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = p.compileValue(e)
		}
		return s
	}
	return v
}

// Workflow returns the workflow the plan was compiled from.
func (p *Plan) Workflow() *Workflow { return p.wf }

// StartBlock returns the id of the block the run starts at.
func (p *Plan) StartBlock() string { return p.start.id }
