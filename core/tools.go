package core

import (
	"context"
	"errors"
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// CanExecute reports whether p may execute workflow wfID (write), as the MCP tool
// filter asks per tool; the decision is auth's.
func (s *Service) CanExecute(ctx context.Context, p *auth.Principal, wfID string) error {
	return s.authorize(ctx, p, workflowTarget(wfID), store.LevelWrite)
}

// MCPAccess is the gate of an MCP endpoint, checked before any JSON-RPC. For a
// server object (serverID set) p needs read access to it (403 / 404 otherwise) and
// the object is returned. For the all-workflows endpoint only personal keys can be
// refused: when every workspace the key's user belongs to disallows personal keys,
// the answer is 403 personal_keys_disabled.
func (s *Service) MCPAccess(ctx context.Context, p *auth.Principal, serverID string) (*store.MCPServer, error) {
	if serverID != "" {
		return s.GetMCPServer(ctx, p, serverID)
	}
	if p == nil {
		return nil, auth.ErrUnauthenticated()
	}
	if p.KeyType == store.KeyOAuth {
		return nil, s.oauthAccess(ctx, p)
	}
	if p.KeyType != store.KeyPersonal {
		return nil, nil
	}
	wss, err := s.st.ListWorkspaces(ctx)
	if err != nil {
		return nil, err
	}
	var disabled error
	for _, ws := range wss {
		err := s.authorize(ctx, p, workspaceTarget(ws.ID), store.LevelRead)
		var ae *auth.Error
		switch {
		case err == nil:
			return nil, nil
		case errors.As(err, &ae) && ae.Code == "personal_keys_disabled":
			disabled = err
		case errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound):
		default:
			return nil, err
		}
	}
	return nil, disabled
}

// oauthAccess gates /mcp for an OAuth principal: it must still reach something it was
// granted (its user a member, personal keys allowed there), else the 403 says why.
func (s *Service) oauthAccess(ctx context.Context, p *auth.Principal) error {
	targets := []auth.Target{workspaceTarget(p.WorkspaceID)}
	if len(p.Workflows) > 0 {
		targets = targets[:0]
		for _, id := range p.Workflows {
			targets = append(targets, workflowTarget(id))
		}
	}
	var last error
	for _, t := range targets {
		err := s.authorize(ctx, p, t, store.LevelRead)
		if err == nil {
			return nil
		}
		last = err
	}
	return last
}

// WorkflowSummary is a workflow as a read-level principal may inspect it: its record
// and, when deployed, the input fields of the active version.
type WorkflowSummary struct {
	Workflow *store.Workflow
	Inputs   []engine.InputField
	Outbound bool
}

// DescribeWorkflow returns a workflow p may read with the inputs of its deployed
// version (none when it is not deployed).
func (s *Service) DescribeWorkflow(ctx context.Context, p *auth.Principal, wfID string) (*WorkflowSummary, error) {
	if err := s.authorize(ctx, p, workflowTarget(wfID), store.LevelRead); err != nil {
		return nil, err
	}
	wf, dep, err := s.st.ActiveDeployment(ctx, wfID)
	if err != nil {
		return nil, mapStoreErr(err, "Workflow not found")
	}
	out := &WorkflowSummary{Workflow: wf}
	if dep != nil {
		if comp, err := s.plan.get(dep); err == nil {
			out.Inputs, out.Outbound = comp.inputs, comp.outbound
		}
	}
	return out, nil
}
