package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// runInput is the engine input every run of principal p shares; child workflows get
// the same, with their own workspace's environment and providers.
// via is the chain of workflows up to and including this one (X-SteelEngine-Via for
// api blocks; its length is the nesting depth of child workflows). p nil: no children.
func (s *Service) runInput(p *auth.Principal, wsID string, env map[string]string, models engine.ModelResolver, secrets []string, via []string, deployed bool) engine.RunInput {
	in := engine.RunInput{
		Env: env, Concurrency: s.cfg.Concurrency, MaxLoopIterations: s.cfg.MaxLoopIterations, Limits: s.cfg.Limits,
		HTTPClient: s.cfg.HTTPClient, ModelHTTPClient: s.cfg.ModelHTTPClient, Sandbox: s.cfg.Sandbox,
		Models: models, Prices: s.prices(), Secrets: secrets, Tenant: wsID, Via: via, Deployed: deployed,
		Memory: conversations{st: s.st, wsID: wsID}, MCP: s.mcpCaller(wsID),
	}
	if p != nil {
		in.Children = s.childRunner(p)
	}
	return in
}

func (s *Service) prices() map[string]engine.Price {
	if len(s.cfg.Prices) == 0 {
		return nil
	}
	out := make(map[string]engine.Price, len(engine.DefaultPrices)+len(s.cfg.Prices))
	for k, v := range engine.DefaultPrices {
		out[k] = v
	}
	for k, v := range s.cfg.Prices {
		out[k] = v
	}
	return out
}

// childRunner runs child workflows (workflow blocks, agent workflow tools) as the
// parent's principal: it needs write (execute) on the child, wherever it lives, so a
// child in another workspace runs only when the principal may execute it. A deployed
// parent runs the child's active deployed version; a draft run runs its draft. The
// child is part of the parent's execution (its trace nests in the parent's), not a
// run of its own.
func (s *Service) childRunner(p *auth.Principal) engine.ChildRunner {
	return func(ctx context.Context, req engine.ChildRequest) (*engine.ChildRun, error) {
		if err := s.checkVia(req.Via); err != nil {
			return nil, err
		}
		if err := s.authorize(ctx, p, workflowTarget(req.WorkflowID), store.LevelWrite); err != nil {
			var ae *auth.Error
			if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusForbidden) {
				return nil, fmt.Errorf("child workflow %s not found or not executable with this key", req.WorkflowID)
			}
			return nil, err
		}
		wf, dep, err := s.st.ActiveDeployment(ctx, req.WorkflowID)
		if err != nil {
			return nil, fmt.Errorf("child workflow %s: %w", req.WorkflowID, err)
		}
		var comp *compiled
		if req.Deployed {
			if dep == nil {
				return nil, errors.New("Child workflow is not deployed. Please deploy the workflow before invoking it.")
			}
			comp, err = s.plan.get(dep)
		} else {
			comp, err = compileDefinition(wf.Draft)
		}
		if err != nil {
			return nil, fmt.Errorf("prepare child workflow %s: %w", wf.Name, err)
		}
		env, secrets, err := s.runEnv(ctx, wf.WorkspaceID, actingUser(p))
		if err != nil {
			return nil, err
		}
		models, keys, err := s.modelResolver(ctx, wf.WorkspaceID)
		if err != nil {
			return nil, err
		}
		in := s.runInput(p, wf.WorkspaceID, env, models, append(secrets, keys...), append(append([]string(nil), req.Via...), wf.ID), req.Deployed)
		in.Input = req.Input
		in.Budget = req.Budget // one budget for the parent and all its children
		return &engine.ChildRun{Name: wf.Name, Result: comp.plan.Run(ctx, in)}, nil
	}
}

// conversations is agent memory kept in the store, per workspace.
type conversations struct {
	st   store.Store
	wsID string
}

func (c conversations) Load(ctx context.Context, id string) ([]engine.MemoryMessage, error) {
	conv, err := c.st.Conversation(ctx, c.wsID, id)
	if err != nil {
		return nil, err
	}
	out := make([]engine.MemoryMessage, len(conv.Messages))
	for i, m := range conv.Messages {
		out[i] = engine.MemoryMessage{Role: m.Role, Content: m.Content}
	}
	return out, nil
}

func (c conversations) Update(ctx context.Context, id string, fn func([]engine.MemoryMessage) []engine.MemoryMessage) error {
	return c.st.UpdateConversation(ctx, c.wsID, id, func(old []store.MemoryMessage) []store.MemoryMessage {
		in := make([]engine.MemoryMessage, len(old))
		for i, m := range old {
			in[i] = engine.MemoryMessage{Role: m.Role, Content: m.Content}
		}
		res := fn(in)
		out := make([]store.MemoryMessage, len(res))
		for i, m := range res {
			out[i] = store.MemoryMessage{Role: m.Role, Content: m.Content}
		}
		return out
	})
}
