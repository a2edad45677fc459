package core

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// NewUser is what an instance administrator gives to create a user.
type NewUser struct {
	Email         string
	Name          string
	Password      string
	InstanceAdmin bool
}

// UserPatch changes a user; nil fields stay as they are.
type UserPatch struct {
	Name          *string
	Email         *string
	Password      *string
	InstanceAdmin *bool
	// Disabled ends the user's sessions and stops their personal keys at once.
	Disabled *bool
}

// ListUsers lists every user; instance administrators only.
func (s *Service) ListUsers(ctx context.Context, p *auth.Principal) ([]*store.User, error) {
	if err := s.az.RequireInstanceAdmin(ctx, p); err != nil {
		return nil, err
	}
	return s.st.ListUsers(ctx)
}

// CreateUser creates a user; instance administrators only.
func (s *Service) CreateUser(ctx context.Context, p *auth.Principal, nu NewUser) (*store.User, error) {
	if err := s.az.RequireInstanceAdmin(ctx, p); err != nil {
		return nil, err
	}
	if err := checkPassword(nu.Password, "password"); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(nu.Password)
	if err != nil {
		return nil, err
	}
	u := &store.User{Email: strings.TrimSpace(nu.Email), Name: strings.TrimSpace(nu.Name), PasswordHash: hash, InstanceAdmin: nu.InstanceAdmin}
	if err := s.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, newError(http.StatusConflict, "conflict", "A user with email %q already exists", u.Email)
		}
		return nil, err
	}
	return u, nil
}

// UpdateUser changes a user's name, email, password, admin flag or disabled state;
// instance administrators only. An administrator cannot disable or demote themselves.
func (s *Service) UpdateUser(ctx context.Context, p *auth.Principal, id string, patch UserPatch) (*store.User, error) {
	if err := s.az.RequireInstanceAdmin(ctx, p); err != nil {
		return nil, err
	}
	if id == p.UserID && ((patch.Disabled != nil && *patch.Disabled) || (patch.InstanceAdmin != nil && !*patch.InstanceAdmin)) {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "You cannot disable or demote yourself",
			Details: []map[string]string{{"field": "disabled", "message": "cannot apply to yourself"}}}
	}
	var hash string
	if patch.Password != nil {
		if err := checkPassword(*patch.Password, "password"); err != nil {
			return nil, err
		}
		h, err := auth.HashPassword(*patch.Password)
		if err != nil {
			return nil, err
		}
		hash = h
	}
	u, err := s.st.UpdateUser(ctx, id, func(u *store.User) error {
		if patch.Name != nil {
			u.Name = strings.TrimSpace(*patch.Name)
		}
		if patch.Email != nil {
			u.Email = strings.TrimSpace(*patch.Email)
		}
		if hash != "" {
			u.PasswordHash = hash
		}
		if patch.InstanceAdmin != nil {
			u.InstanceAdmin = *patch.InstanceAdmin
		}
		if patch.Disabled != nil {
			switch {
			case *patch.Disabled && u.DisabledAt == nil:
				t := time.Now().UTC()
				u.DisabledAt = &t
			case !*patch.Disabled:
				u.DisabledAt = nil
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, newError(http.StatusConflict, "conflict", "A user with that email already exists")
	}
	return u, mapStoreErr(err, "User not found")
}

// Me returns the acting user.
func (s *Service) Me(ctx context.Context, p *auth.Principal) (*store.User, error) {
	uid, err := auth.RequireUser(p)
	if err != nil {
		return nil, err
	}
	u, err := s.st.GetUser(ctx, uid)
	return u, mapStoreErr(err, "User not found")
}

func checkPassword(pw, field string) error { return auth.CheckNewPassword(pw, field) }

func actorOf(p *auth.Principal) string {
	if p == nil {
		return ""
	}
	return p.ActorID()
}
