package store

import "context"

// EnvVars holds sealed workspace and personal environment variables.
type EnvVars interface {
	// SetEnvVar stores (or replaces) a sealed environment variable: a workspace's when
	// v.WorkspaceID is set, else v.UserID's personal one.
	SetEnvVar(ctx context.Context, v *EnvVar) error

	// DeleteEnvVar removes a workspace environment variable; ErrNotFound when it is not set.
	DeleteEnvVar(ctx context.Context, wsID, name string) error

	// DeleteUserEnvVar removes a personal environment variable; ErrNotFound when it is not set.
	DeleteUserEnvVar(ctx context.Context, userID, name string) error

	// EnvVars lists the sealed environment variables of wsID, by name.
	EnvVars(ctx context.Context, wsID string) (out []*EnvVar, err error)

	// UserEnvVars lists userID's sealed personal environment variables, by name.
	UserEnvVars(ctx context.Context, userID string) (out []*EnvVar, err error)

	// RunEnvVars reads, in one transaction, what a run of a workflow in wsID started by
	// userID (empty for keys that act for no user) sees: the workspace's variables and the
	// user's personal ones.
	RunEnvVars(ctx context.Context, wsID, userID string) (ws, personal []*EnvVar, err error)
}

// Check checks a variable before it is stored: a name and a sealed value, and exactly one
// owner (a workspace or a user).
func (v *EnvVar) Check() error {
	if v.Name == "" || len(v.Ciphertext) == 0 {
		return invalidf("environment variable needs a name and a sealed value")
	}
	if (v.WorkspaceID == "") == (v.UserID == "") {
		return invalidf("environment variable belongs to exactly one workspace or user")
	}
	return nil
}
