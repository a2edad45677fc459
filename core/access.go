package core

import (
	"context"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// authorize is the only way this package asks for access: it defers to auth.
func (s *Service) authorize(ctx context.Context, p *auth.Principal, t auth.Target, need store.Level) error {
	return s.az.Authorize(ctx, p, t, need)
}

func workflowTarget(id string) auth.Target  { return auth.WorkflowTarget(id) }
func workspaceTarget(id string) auth.Target { return auth.WorkspaceTarget(id) }
