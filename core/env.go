package core

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// Environment variables are write-only: values are sealed with the master key on the
// way in, opened only to run a workflow, and never returned by any use case here.
//
// Who manages them: workspace variables need admin on the workspace and are listed
// (names only) with read. That includes admin-level workspace and organization keys:
// a variable is not an access grant and outlives nothing — a key that may deploy a
// workflow can already make it use (and send anywhere) every variable, so refusing it
// the write would protect nothing while breaking automation. Personal variables belong
// to the acting user (a dashboard session or their personal key); the local operator
// names the user.

// MaxEnvValue caps one variable's value.
const MaxEnvValue = 64 << 10

// EnvVarInfo is what anyone is ever shown about a variable.
type EnvVarInfo struct {
	Name      string    `json:"name"`
	UpdatedAt time.Time `json:"updatedAt"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
}

// EnvScope names whose variables a call manages: a workspace's, or a user's personal
// ones (UserID empty = the acting user's own).
type EnvScope struct {
	WorkspaceID string
	Personal    bool
	UserID      string
}

// SetEnv stores (or replaces) one variable.
func (s *Service) SetEnv(ctx context.Context, p *auth.Principal, sc EnvScope, name, value string) (*EnvVarInfo, error) {
	owner, err := s.envOwner(ctx, p, sc, store.LevelAdmin)
	if err != nil {
		return nil, err
	}
	if !engine.ValidEnvName(name) {
		return nil, newError(http.StatusBadRequest, "invalid_name",
			"Invalid environment variable name %q: use a letter or _ then letters, digits and _ (at most %d)", truncate(name, 40), engine.MaxEnvNameLen)
	}
	if len(value) > MaxEnvValue {
		return nil, newError(http.StatusRequestEntityTooLarge, "value_too_large", "Environment variable value is larger than %d bytes", MaxEnvValue)
	}
	var v *store.EnvVar
	if sc.Personal {
		v, err = s.sec.SealPersonalEnv(owner, name, value)
	} else {
		v, err = s.sec.SealEnv(owner, name, value)
	}
	if err != nil {
		return nil, fmt.Errorf("seal environment variable: %w", err)
	}
	v.UpdatedAt, v.UpdatedBy = time.Now().UTC(), p.ActorID()
	if err := s.st.SetEnvVar(ctx, v); err != nil {
		return nil, mapStoreErr(err, "Workspace or user not found")
	}
	return &EnvVarInfo{Name: v.Name, UpdatedAt: v.UpdatedAt, UpdatedBy: v.UpdatedBy}, nil
}

// UnsetEnv removes one variable; not_found when it is not set.
func (s *Service) UnsetEnv(ctx context.Context, p *auth.Principal, sc EnvScope, name string) error {
	owner, err := s.envOwner(ctx, p, sc, store.LevelAdmin)
	if err != nil {
		return err
	}
	if sc.Personal {
		err = s.st.DeleteUserEnvVar(ctx, owner, name)
	} else {
		err = s.st.DeleteEnvVar(ctx, owner, name)
	}
	return mapStoreErr(err, "Environment variable not found")
}

// ListEnv lists variable names with when and by whom they were last set; never values.
func (s *Service) ListEnv(ctx context.Context, p *auth.Principal, sc EnvScope) ([]EnvVarInfo, error) {
	owner, err := s.envOwner(ctx, p, sc, store.LevelRead)
	if err != nil {
		return nil, err
	}
	var vars []*store.EnvVar
	if sc.Personal {
		vars, err = s.st.UserEnvVars(ctx, owner)
	} else {
		vars, err = s.st.EnvVars(ctx, owner)
	}
	if err != nil {
		return nil, err
	}
	out := make([]EnvVarInfo, len(vars))
	for i, v := range vars {
		out[i] = EnvVarInfo{Name: v.Name, UpdatedAt: v.UpdatedAt, UpdatedBy: v.UpdatedBy}
	}
	return out, nil
}

// envOwner decides access and returns the workspace or user id the scope names.
func (s *Service) envOwner(ctx context.Context, p *auth.Principal, sc EnvScope, need store.Level) (string, error) {
	if !sc.Personal {
		if sc.WorkspaceID == "" {
			return "", newError(http.StatusBadRequest, "invalid_request", "workspaceId is required")
		}
		if err := s.authorize(ctx, p, workspaceTarget(sc.WorkspaceID), need); err != nil {
			return "", err
		}
		return sc.WorkspaceID, nil
	}
	if p.IsOperator() {
		if sc.UserID == "" {
			return "", newError(http.StatusBadRequest, "invalid_request", "Name the user whose personal variables to manage")
		}
		if _, err := s.st.GetUser(ctx, sc.UserID); err != nil {
			return "", mapStoreErr(err, "User not found")
		}
		return sc.UserID, nil
	}
	uid, err := auth.RequireUser(p)
	if err != nil {
		return "", newError(http.StatusForbidden, "forbidden", "Personal environment variables belong to a user: use a dashboard session or a personal API key")
	}
	if sc.UserID != "" && sc.UserID != uid {
		return "", newError(http.StatusForbidden, "forbidden", "Users manage only their own personal environment variables")
	}
	return uid, nil
}

// actingUser is the user whose personal variables a run of p sees: a session's or a
// personal key's user; workspace and organization keys and the operator act for no
// user. Execution records keep it as UserID, so a resumed run sees the same.
func actingUser(p *auth.Principal) string {
	uid, _ := auth.RequireUser(p)
	return uid
}

// runEnv opens what a run of a workflow in wsID started by userID ("" for none) sees
// for {{NAME}}: the workspace's variables, overridden by the user's personal ones.
// Every opened value is also returned as a secret to redact from what the run records.
func (s *Service) runEnv(ctx context.Context, wsID, userID string) (map[string]string, []string, error) {
	e, err := cachedLoad(&s.runs, s.st.ConfigEpoch(), func(c *runCache) *map[string]cachedEnv { return &c.env }, wsID+"\x00"+userID,
		func() (cachedEnv, error) {
			env, secrets, err := s.loadEnv(ctx, wsID, userID)
			return cachedEnv{env: env, secrets: secrets[:len(secrets):len(secrets)]}, err
		})
	return e.env, e.secrets, err
}

// loadEnv reads and opens the environment runEnv caches.
func (s *Service) loadEnv(ctx context.Context, wsID, userID string) (map[string]string, []string, error) {
	ws, personal, err := s.st.RunEnvVars(ctx, wsID, userID)
	if err != nil || len(ws)+len(personal) == 0 {
		return nil, nil, err
	}
	env := make(map[string]string, len(ws)+len(personal))
	secrets := make([]string, 0, len(ws)+len(personal))
	for _, v := range append(ws, personal...) { // personal last: it wins
		plain, err := s.sec.OpenEnv(v)
		if err != nil {
			return nil, nil, fmt.Errorf("open environment variable %s: %w", v.Name, err)
		}
		env[v.Name] = plain
		secrets = append(secrets, plain)
	}
	return env, secrets, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
