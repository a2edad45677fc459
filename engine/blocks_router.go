package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

type routerRoute struct {
	ID, Title, Description string
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
				rp.routes = append(rp.routes, routerRoute{ID: id, Title: toStr(m["title"]), Description: toStr(m["description"])})
			}
		}
		n.ext = rp
		return nil
	},
	run: runRouter,
}

// runRouter asks the model to choose a route. router_v2 chooses among its routes
// (NO_MATCH is an error); the legacy router chooses among the blocks it connects to.
func runRouter(ctx context.Context, x *execCtx) (map[string]any, error) {
	rp := x.n.ext.(*routerPlan)
	var options []routerRoute
	input := x.str("context")
	if x.n.typ == TypeRouter {
		input = x.str("prompt")
		for _, e := range x.n.out {
			if e.kind == edgeRouter {
				options = append(options, routerRoute{ID: e.target.id, Title: e.target.name, Description: e.target.typ + " block"})
			}
		}
	} else {
		options = rp.routes
	}
	if len(options) == 0 {
		return nil, errors.New("router has no routes")
	}
	var sb strings.Builder
	sb.WriteString("You are a router. Choose the single best route for the input below. Reply with only the route id")
	if x.n.typ == TypeRouterV2 {
		sb.WriteString(", or NO_MATCH if none fits")
	}
	sb.WriteString(".\n\nRoutes:\n")
	for _, o := range options {
		fmt.Fprintf(&sb, "- id: %s; title: %s; description: %s\n", o.ID, o.Title, o.Description)
	}
	if s := strings.TrimSpace(x.str("systemPrompt")); s != "" {
		sb.WriteString("\n" + s + "\n")
	}
	rep, err := x.chat(ctx, chatRequest{Messages: []chatMessage{{Role: "system", Content: sb.String()}, {Role: "user", Content: input}},
		Temperature: temperatureOf(x.input["temperature"])})
	if err != nil {
		return nil, err
	}
	choice := strings.Trim(strings.TrimSpace(rep.Content), "`\"' .")
	var chosen *routerRoute
	for i := range options {
		if options[i].ID == choice {
			chosen = &options[i]
		}
	}
	if chosen == nil {
		if strings.EqualFold(choice, "NO_MATCH") {
			return nil, errors.New("router found no matching route")
		}
		return nil, fmt.Errorf("router model chose an invalid route %q", choice)
	}
	out := map[string]any{"model": rep.Model, "tokens": rep.Tokens, "cost": map[string]any{"input": float64(0), "output": float64(0), "total": float64(0)},
		"selectedRoute": chosen.ID, "selectedPath": x.pathTo(edgeRouter, chosen.ID)}
	if x.n.typ == TypeRouter {
		out["prompt"] = input
	} else {
		out["context"] = input
		out["reasoning"] = ""
	}
	return out, nil
}
