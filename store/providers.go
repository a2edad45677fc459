package store

import (
	"context"
	"strings"
)

// Providers holds a workspace's model providers.
type Providers interface {
	// PutModelProvider creates or replaces a workspace's model provider. Names are unique
	// within the workspace; one provider at most is the default (setting it clears the
	// others).
	PutModelProvider(ctx context.Context, p *ModelProvider) error

	// ModelProviders lists the providers of wsID, oldest first.
	ModelProviders(ctx context.Context, wsID string) (out []*ModelProvider, err error)

	// DeleteModelProvider removes provider id of wsID.
	DeleteModelProvider(ctx context.Context, wsID, id string) error
}

// Check trims the provider's name; a workspace and a name are required.
func (p *ModelProvider) Check() error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || p.WorkspaceID == "" {
		return invalidf("model provider needs a workspace and a name")
	}
	return nil
}
