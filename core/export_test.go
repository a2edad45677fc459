package core

import "context"

// ActiveVersion exposes the cached active-deployment lookup to core_test.
func (s *Service) ActiveVersion(ctx context.Context, wfID string) (uint32, error) {
	_, dep, err := s.activeDeployment(ctx, wfID)
	if err != nil || dep == nil {
		return 0, err
	}
	return dep.Version, nil
}
