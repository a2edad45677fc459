package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

type routerRoute struct {
	ID, Title, Value string
}

type routerPlan struct {
	routes []routerRoute
}

var routerType = &blockType{
	compile: func(p *Plan, n *node) error {
		rp := &routerPlan{}
		if n.typ == TypeRouterV2 {
			for i, r := range asSlice(parseMaybeJSON(n.b.Param("routes"))) {
				m, _ := r.(map[string]any)
				id := toStr(m["id"])
				if id == "" {
					return fmt.Errorf("route %d has no id", i)
				}
				v := toStr(m["value"])
				if v == "" {
					v = toStr(m["description"])
				}
				rp.routes = append(rp.routes, routerRoute{ID: id, Title: toStr(m["title"]), Value: v})
			}
		}
		n.ext = rp
		return nil
	},
	run: runRouter,
}

// routerTemperature is Sim's ROUTER.INFERENCE_TEMPERATURE.
var routerTemperature = 0.1

// runRouter asks the model to choose a route with Sim's prompts. The legacy router
// chooses among the blocks it connects to (reply: a block id); router_v2 chooses among
// its routes (reply: {route, reasoning}); NO_MATCH is an error, so it takes the error
// edge when there is one.
func runRouter(ctx context.Context, x *execCtx) (map[string]any, error) {
	if x.n.typ == TypeRouter {
		return runLegacyRouter(ctx, x)
	}
	rp := x.n.ext.(*routerPlan)
	routes := append([]routerRoute(nil), rp.routes...) // the plan is shared by concurrent runs
	if rs := asSlice(parseMaybeJSON(x.input["routes"])); len(rs) == len(routes) {
		// Resolved descriptions (they may reference other blocks).
		for i, r := range rs {
			m, _ := r.(map[string]any)
			if v := toStr(m["value"]); v != "" {
				routes[i].Value = v
			}
		}
	}
	if len(routes) == 0 {
		return nil, errors.New("No routes defined for router")
	}
	ep, err := x.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	input := x.str("context")
	var sb strings.Builder
	for i, r := range routes {
		v := r.Value
		if v == "" {
			v = "No description provided"
		}
		fmt.Fprintf(&sb, "\nRoute %d:\nID: %s\nDescription: %s\n---", i+1, r.ID, v)
		if i < len(routes)-1 {
			sb.WriteString("\n")
		}
	}
	system := `You are a DETERMINISTIC routing agent. You MUST select exactly ONE option.

Available Routes:
` + sb.String() + `

Context to route:
` + input + `

ROUTING RULES:
1. ALWAYS prefer selecting a route over NO_MATCH
2. Pick the route whose description BEST matches the context, even if it's not a perfect match
3. If the context is even partially related to a route's description, select that route
4. ONLY output NO_MATCH if the context is completely unrelated to ALL route descriptions

Respond with a JSON object containing:
- route: EXACTLY one route ID (copied exactly as shown above) OR "NO_MATCH"
- reasoning: A brief explanation (1-2 sentences) of why you chose this route`
	rep, err := x.callModel(ctx, ep, llmRequest{
		Messages:    []llmMessage{{Role: "system", Content: system}, {Role: "user", Content: input}},
		Temperature: &routerTemperature, SchemaName: "router_response",
		Schema: map[string]any{"type": "object", "properties": map[string]any{
			"route":     map[string]any{"type": "string", "description": "The selected route ID or NO_MATCH"},
			"reasoning": map[string]any{"type": "string", "description": "Brief explanation of why this route was chosen"}},
			"required": []any{"route", "reasoning"}, "additionalProperties": false},
	})
	if err != nil {
		return nil, err
	}
	var parsed struct {
		Route     string `json:"route"`
		Reasoning string `json:"reasoning"`
	}
	choice := strings.TrimSpace(rep.Content)
	if json.Unmarshal([]byte(choice), &parsed) == nil {
		choice = strings.TrimSpace(parsed.Route)
	}
	if strings.EqualFold(choice, "NO_MATCH") {
		if parsed.Reasoning != "" {
			return nil, fmt.Errorf("Router could not determine a matching route: %s", parsed.Reasoning)
		}
		return nil, errors.New("Router could not determine a matching route for the given context")
	}
	var chosen *routerRoute
	for i := range routes {
		if routes[i].ID == choice {
			chosen = &routes[i]
		}
	}
	if chosen == nil {
		ids := make([]string, len(routes))
		for i, r := range routes {
			ids[i] = r.ID
		}
		return nil, fmt.Errorf("Router could not determine a valid route. LLM response: %q. Available route IDs: %s", rep.Content, strings.Join(ids, ", "))
	}
	path := x.pathTo(edgeRouter, chosen.ID)
	if path == nil {
		path = map[string]any{"blockId": "", "blockType": "unknown", "blockTitle": chosen.Title}
	}
	return map[string]any{"context": input, "model": rep.Model, "tokens": tokensOut(rep.InputTokens, rep.OutputTokens),
		"cost": x.costOut(rep.Model, rep.InputTokens, rep.OutputTokens), "selectedRoute": chosen.ID,
		"reasoning": parsed.Reasoning, "selectedPath": path}, nil
}

func runLegacyRouter(ctx context.Context, x *execCtx) (map[string]any, error) {
	var targets []*node
	for _, e := range x.n.out {
		if e.kind == edgeRouter {
			targets = append(targets, e.target)
		}
	}
	if len(targets) == 0 {
		return nil, errors.New("router has no connected blocks")
	}
	ep, err := x.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	prompt := x.str("prompt")
	var sb strings.Builder
	sb.WriteString(`You are an intelligent routing agent responsible for directing workflow requests to the most appropriate block. Your task is to analyze the input and determine the single most suitable destination based on the request.

Key Instructions:
1. You MUST choose exactly ONE destination from the IDs of the blocks in the workflow. The destination must be a valid block id.

2. Analysis Framework:
   - Carefully evaluate the intent and requirements of the request
   - Consider the primary action needed
   - Match the core functionality with the most appropriate destination

Available Target Blocks:
`)
	for _, t := range targets {
		sys, _ := json.Marshal(toStr(t.b.Param("systemPrompt")))
		fmt.Fprintf(&sb, "\nID: %s\nType: %s\nTitle: %s\nDescription: %s block\nSystem Prompt: %s\n---\n", t.id, t.typ, t.name, t.typ, sys)
	}
	sb.WriteString("\nRouting Request: " + prompt + `

Response Format:
Return ONLY the destination id as a single word, lowercase, no punctuation or explanation.
Example: "2acd9007-27e8-4510-a487-73d3b825e7c1"

Remember: Your response must be ONLY the block ID - no additional text, formatting, or explanation.`)
	rep, err := x.callModel(ctx, ep, llmRequest{Messages: []llmMessage{{Role: "system", Content: sb.String()}, {Role: "user", Content: prompt}},
		Temperature: &routerTemperature})
	if err != nil {
		return nil, err
	}
	choice := strings.Trim(strings.TrimSpace(rep.Content), "`\"'")
	var chosen *node
	for _, t := range targets {
		if strings.EqualFold(t.id, choice) {
			chosen = t
		}
	}
	if chosen == nil {
		return nil, fmt.Errorf("Invalid routing decision: %s", strings.ToLower(choice))
	}
	return map[string]any{"prompt": prompt, "model": rep.Model, "tokens": tokensOut(rep.InputTokens, rep.OutputTokens),
		"cost":          x.costOut(rep.Model, rep.InputTokens, rep.OutputTokens),
		"selectedPath":  map[string]any{"blockId": chosen.id, "blockType": chosen.typ, "blockTitle": chosen.name},
		"selectedRoute": chosen.id}, nil
}
