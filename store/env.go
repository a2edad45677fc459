package store

import "context"

// SetEnvVar stores (or replaces) a sealed workspace environment variable.
func (s *Store) SetEnvVar(ctx context.Context, v *EnvVar) error {
	if v.Name == "" || len(v.Ciphertext) == 0 {
		return invalid("environment variable needs a name and a sealed value")
	}
	return s.update(ctx, func(w *writer) error {
		if _, err := w.Workspace(v.WorkspaceID); err != nil {
			return err
		}
		return putJSON(w.tx.Bucket(bEnv), ckey(v.WorkspaceID, v.Name), v)
	})
}

// DeleteEnvVar removes a workspace environment variable.
func (s *Store) DeleteEnvVar(ctx context.Context, wsID, name string) error {
	return s.update(ctx, func(w *writer) error { return w.tx.Bucket(bEnv).Delete(ckey(wsID, name)) })
}

// EnvVars lists the sealed environment variables of wsID.
func (s *Store) EnvVars(ctx context.Context, wsID string) (out []*EnvVar, err error) {
	err = s.View(ctx, func(r *Reader) error {
		return scanPrefix(r.tx.Bucket(bEnv), wsID, func(name, _ []byte) error {
			v, err := getJSON[EnvVar](r.tx.Bucket(bEnv), ckey(wsID, string(name)))
			if err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
	})
	return out, err
}
