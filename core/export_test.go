package core

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

// ActiveVersion exposes the cached active-deployment lookup to core_test.
func (s *Service) ActiveVersion(ctx context.Context, wfID string) (uint32, error) {
	_, dep, err := s.activeDeployment(ctx, wfID)
	if err != nil || dep == nil {
		return 0, err
	}
	return dep.Version, nil
}

// FireRunID exposes the run id of a schedule's due fire to core_test.
func FireRunID(sc *store.Schedule) string { return fireRunID(sc) }
