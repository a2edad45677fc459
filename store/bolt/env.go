package bolt

import (
	"context"

	"github.com/steelengine/steelengine/store"
)

// SetEnvVar stores (or replaces) a sealed environment variable: a workspace's when
// v.WorkspaceID is set, else v.UserID's personal one.
func (s *Store) SetEnvVar(ctx context.Context, v *store.EnvVar) error {
	if err := v.Check(); err != nil {
		return err
	}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = now()
	}
	return s.update(ctx, func(w *writer) error {
		w.bumpConfig()
		if v.Personal() {
			if _, err := w.User(v.UserID); err != nil {
				return err
			}
			return putJSON(w.tx.Bucket(bUserEnv), ckey(v.UserID, v.Name), v)
		}
		if _, err := w.Workspace(v.WorkspaceID); err != nil {
			return err
		}
		return putJSON(w.tx.Bucket(bEnv), ckey(v.WorkspaceID, v.Name), v)
	})
}

// DeleteEnvVar removes a workspace environment variable; ErrNotFound when it is not set.
func (s *Store) DeleteEnvVar(ctx context.Context, wsID, name string) error {
	return s.deleteEnv(ctx, bEnv, wsID, name)
}

// DeleteUserEnvVar removes a personal environment variable; ErrNotFound when it is not set.
func (s *Store) DeleteUserEnvVar(ctx context.Context, userID, name string) error {
	return s.deleteEnv(ctx, bUserEnv, userID, name)
}

func (s *Store) deleteEnv(ctx context.Context, bucket []byte, owner, name string) error {
	return s.update(ctx, func(w *writer) error {
		w.bumpConfig()
		b := w.tx.Bucket(bucket)
		k := ckey(owner, name)
		if b.Get(k) == nil {
			return notFound("environment variable", name)
		}
		return b.Delete(k)
	})
}

// EnvVars lists the sealed environment variables of wsID, by name.
func (s *Store) EnvVars(ctx context.Context, wsID string) (out []*store.EnvVar, err error) {
	err = s.view(ctx, func(r *Reader) error { out, err = r.envVars(bEnv, wsID); return err })
	return out, err
}

// UserEnvVars lists userID's sealed personal environment variables, by name.
func (s *Store) UserEnvVars(ctx context.Context, userID string) (out []*store.EnvVar, err error) {
	err = s.view(ctx, func(r *Reader) error { out, err = r.envVars(bUserEnv, userID); return err })
	return out, err
}

// RunEnvVars reads, in one transaction, what a run of a workflow in wsID started by
// userID (empty for keys that act for no user) sees: the workspace's variables and the
// user's personal ones.
func (s *Store) RunEnvVars(ctx context.Context, wsID, userID string) (ws, personal []*store.EnvVar, err error) {
	err = s.view(ctx, func(r *Reader) error {
		if ws, err = r.envVars(bEnv, wsID); err != nil || userID == "" {
			return err
		}
		personal, err = r.envVars(bUserEnv, userID)
		return err
	})
	return ws, personal, err
}

func (r *Reader) envVars(bucket []byte, owner string) (out []*store.EnvVar, err error) {
	b := r.tx.Bucket(bucket)
	err = scanPrefix(b, owner, func(name, _ []byte) error {
		v, err := getJSON[store.EnvVar](b, ckey(owner, string(name)))
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}
