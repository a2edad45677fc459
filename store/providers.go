package store

import "context"

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
