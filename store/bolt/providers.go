package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/steelengine/steelengine/store"
)

// PutModelProvider creates or replaces a workspace's model provider. Names are unique
// within the workspace; one provider at most is the default (setting it clears the
// others).
func (s *Store) PutModelProvider(ctx context.Context, p *store.ModelProvider) error {
	if err := p.Check(); err != nil {
		return err
	}
	if p.ID == "" {
		p.ID = store.NewID()
	}
	t := now()
	if p.CreatedAt.IsZero() {
		p.CreatedAt = t
	}
	p.UpdatedAt = t
	return s.update(ctx, func(w *writer) error {
		w.bumpConfig()
		if _, err := w.Workspace(p.WorkspaceID); err != nil {
			return err
		}
		b := w.tx.Bucket(bProviders)
		var others []*store.ModelProvider
		err := scanPrefix(b, p.WorkspaceID, func(_, v []byte) error {
			o, err := decodeJSON[store.ModelProvider](v)
			if err != nil {
				return err
			}
			if o.ID != p.ID {
				others = append(others, o)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, o := range others {
			if strings.EqualFold(o.Name, p.Name) {
				return fmt.Errorf("a model provider named %q already exists: %w", p.Name, store.ErrConflict)
			}
			if p.IsDefault && o.IsDefault {
				o.IsDefault = false
				if err := putJSON(b, ckey(o.WorkspaceID, o.ID), o); err != nil {
					return err
				}
			}
		}
		return putJSON(b, ckey(p.WorkspaceID, p.ID), p)
	})
}

// ModelProviders lists the providers of wsID, oldest first.
func (s *Store) ModelProviders(ctx context.Context, wsID string) (out []*store.ModelProvider, err error) {
	err = s.view(ctx, func(r *Reader) error {
		return scanPrefix(r.tx.Bucket(bProviders), wsID, func(_, v []byte) error {
			p, err := decodeJSON[store.ModelProvider](v)
			if err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	sortByCreated(out)
	return out, err
}

// DeleteModelProvider removes provider id of wsID.
func (s *Store) DeleteModelProvider(ctx context.Context, wsID, id string) error {
	return s.update(ctx, func(w *writer) error {
		w.bumpConfig()
		b := w.tx.Bucket(bProviders)
		if b.Get(ckey(wsID, id)) == nil {
			return fmt.Errorf("model provider %q: %w", id, store.ErrNotFound)
		}
		return b.Delete(ckey(wsID, id))
	})
}

func sortByCreated(ps []*store.ModelProvider) {
	slices.SortStableFunc(ps, func(a, b *store.ModelProvider) int { return a.CreatedAt.Compare(b.CreatedAt) })
}

func decodeJSON[T any](v []byte) (*T, error) {
	t := new(T)
	if err := json.Unmarshal(v, t); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	return t, nil
}
