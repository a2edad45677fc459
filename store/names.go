package store

import (
	"fmt"
	"strings"
)

// FindByName returns the single item whose name equals ref case-insensitively: ErrNotFound
// when none does, ErrInvalid when several do (the caller must use the id). Workspaces and
// organizations are found this way after a lookup by id fails.
func FindByName[T any](items []*T, ref, kind string, name func(*T) string) (*T, error) {
	var found *T
	for _, it := range items {
		if strings.EqualFold(name(it), ref) {
			if found != nil {
				return nil, fmt.Errorf("%s name %q is ambiguous; use the id: %w", kind, ref, ErrInvalid)
			}
			found = it
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%s %q: %w", kind, ref, ErrNotFound)
	}
	return found, nil
}
