package engine

import (
	"sort"
	"strings"
)

// maxNesting is Sim's container nesting limit.
const maxNesting = 10

// Validate checks a parsed workflow and reports every problem at once.
func Validate(w *Workflow) error {
	var probs []BlockProblem
	add := func(b *Block, code, msg string) {
		p := BlockProblem{Code: code, Message: msg}
		if b != nil {
			p.BlockID, p.BlockName, p.BlockType = b.ID, b.Name, b.Type
		}
		probs = append(probs, p)
	}

	names := map[string][]*Block{}
	for _, id := range w.BlockOrder {
		b := w.Blocks[id]
		if b.Type != TypeNote {
			if strings.TrimSpace(b.Name) == "" {
				add(b, ProblemMissingField, "missing required field(s): name")
			} else {
				n := NormalizeName(b.Name)
				if reservedNames[n] {
					add(b, ProblemReservedName, "name \""+b.Name+"\" is reserved (loop, parallel and variable are reference prefixes)")
				}
				names[n] = append(names[n], b)
			}
		}
		if p := b.ParentID(); p != "" {
			parent, ok := w.Blocks[p]
			switch {
			case !ok:
				add(b, ProblemUnknownBlock, "parent container "+p+" does not exist")
			case !isContainer(parent.Type):
				add(b, ProblemInvalid, "parent "+blockLabel(parent)+" is not a loop or parallel")
			default:
				if d := depth(w, b); d < 0 {
					add(b, ProblemCycle, "container parents form a cycle")
				} else if d > maxNesting {
					add(b, ProblemInvalid, "containers nested deeper than 10 levels")
				}
			}
		}
		if isTrigger(b.Type) && b.ParentID() != "" {
			add(b, ProblemInvalid, "a trigger block cannot be inside a loop or parallel")
		}
	}
	dupKeys := make([]string, 0)
	for n, bs := range names {
		if len(bs) > 1 {
			dupKeys = append(dupKeys, n)
		}
	}
	sort.Strings(dupKeys)
	for _, n := range dupKeys {
		bs := names[n]
		labels := make([]string, len(bs))
		for i, b := range bs {
			labels[i] = "\"" + b.Name + "\""
		}
		for _, b := range bs {
			add(b, ProblemDuplicateName, "name is not unique after normalisation ("+n+"): "+strings.Join(labels, ", "))
		}
	}

	edgeIDs := map[string]bool{}
	for _, e := range w.Edges {
		if edgeIDs[e.ID] {
			probs = append(probs, BlockProblem{EdgeID: e.ID, Code: ProblemInvalid, Message: "duplicate edge id"})
		}
		edgeIDs[e.ID] = true
		src, sok := w.Blocks[e.Source]
		dst, dok := w.Blocks[e.Target]
		if !sok {
			probs = append(probs, BlockProblem{EdgeID: e.ID, Code: ProblemUnknownBlock, Message: "edge source " + e.Source + " does not exist"})
		}
		if !dok {
			p := BlockProblem{EdgeID: e.ID, Code: ProblemUnknownBlock, Message: "edge target " + e.Target + " does not exist"}
			if sok {
				p.BlockID, p.BlockName, p.BlockType = src.ID, src.Name, src.Type
				p.Message = "edge " + e.ID + " goes to unknown block " + e.Target
			}
			probs = append(probs, p)
		}
		if !sok || !dok {
			continue
		}
		if !sameScope(src, dst) {
			add(src, ProblemCrossScope, "edge "+e.ID+" to "+blockLabel(dst)+" crosses a loop/parallel boundary")
		}
	}
	probs = append(probs, findCycles(w)...)
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

// sameScope: edges are valid between blocks with the same parent, or between a container
// and its direct children.
func sameScope(a, b *Block) bool {
	pa, pb := a.ParentID(), b.ParentID()
	return pa == pb || pb == a.ID || pa == b.ID
}

// depth returns the container nesting depth of b, or -1 on a parent cycle.
func depth(w *Workflow, b *Block) int {
	d := 0
	seen := map[string]bool{b.ID: true}
	for p := b.ParentID(); p != ""; {
		if seen[p] {
			return -1
		}
		seen[p] = true
		d++
		pb, ok := w.Blocks[p]
		if !ok || d > maxNesting+1 {
			return d
		}
		p = pb.ParentID()
	}
	return d
}

// findCycles reports each block that lies on a cycle of edges (container↔child edges
// excluded: they are how containers are wired, not control flow).
func findCycles(w *Workflow) []BlockProblem {
	adj := map[string][]string{}
	for _, e := range w.Edges {
		s, sok := w.Blocks[e.Source]
		t, tok := w.Blocks[e.Target]
		if !sok || !tok || t.ParentID() == s.ID || s.ParentID() == t.ID {
			continue
		}
		adj[e.Source] = append(adj[e.Source], e.Target)
	}
	// Tarjan's strongly connected components, iterative to survive deep graphs.
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	next := 0
	var probs []BlockProblem
	type frame struct {
		v string
		i int
	}
	for _, root := range w.BlockOrder {
		if _, ok := index[root]; ok {
			continue
		}
		call := []frame{{v: root}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.i < len(adj[f.v]) {
				u := adj[f.v][f.i]
				f.i++
				if _, ok := index[u]; !ok {
					index[u], low[u] = next, next
					next++
					stack = append(stack, u)
					onStack[u] = true
					call = append(call, frame{v: u})
				} else if onStack[u] && index[u] < low[f.v] {
					low[f.v] = index[u]
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 && low[v] < low[call[len(call)-1].v] {
				low[call[len(call)-1].v] = low[v]
			}
			if low[v] != index[v] {
				continue
			}
			var comp []string
			for {
				n := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[n] = false
				comp = append(comp, n)
				if n == v {
					break
				}
			}
			self := false
			for _, u := range adj[v] {
				if u == v {
					self = true
				}
			}
			if len(comp) == 1 && !self {
				continue
			}
			labels := make([]string, len(comp))
			for i, id := range comp {
				labels[i] = blockLabel(w.Blocks[id])
			}
			sort.Strings(labels)
			for _, id := range comp {
				b := w.Blocks[id]
				probs = append(probs, BlockProblem{BlockID: b.ID, BlockName: b.Name, BlockType: b.Type, Code: ProblemCycle,
					Message: "block is on a cycle (" + strings.Join(labels, " → ") + "); use a loop block to iterate"})
			}
		}
	}
	return probs
}

func blockLabel(b *Block) string {
	if b.Name != "" {
		return "\"" + b.Name + "\""
	}
	return b.ID
}

// MakesOutboundCalls reports whether the workflow can reach the network (api, agent,
// router blocks); used for the MCP openWorld hint.
func MakesOutboundCalls(w *Workflow) bool {
	for _, b := range w.Blocks {
		if !b.Enabled {
			continue
		}
		switch b.Type {
		case TypeAPI, TypeAgent, TypeRouter, TypeRouterV2, TypeEvaluator, TypeWorkflow, TypeWorkflowInput:
			return true
		}
	}
	return false
}
