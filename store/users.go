package store

import (
	"context"
	"strings"
)

// Users holds user accounts.
type Users interface {
	// CreateUser stores a new user. Email is unique, case-insensitively.
	CreateUser(ctx context.Context, u *User) error

	// GetUser returns the user with id.
	GetUser(ctx context.Context, id string) (u *User, err error)

	// GetUserByEmail returns the user with that email.
	GetUserByEmail(ctx context.Context, email string) (u *User, err error)

	// ListUsers lists every user.
	ListUsers(ctx context.Context) (us []*User, err error)

	// UpdateUser applies fn to the stored user and saves it. Email changes keep the unique
	// index; disabling a user changes access decisions, so every update bumps the auth epoch.
	UpdateUser(ctx context.Context, id string, fn func(u *User) error) (*User, error)

	// DisableUser marks the user disabled: their sessions end and their personal keys stop
	// resolving at once.
	DisableUser(ctx context.Context, id string, disabled bool) (*User, error)
}

// NormEmail is the form an email is unique and looked up in: trimmed, lower case.
func NormEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// ValidEmail reports whether e looks like an address (the store checks no more than an @).
func ValidEmail(e string) bool {
	e = strings.TrimSpace(e)
	return e != "" && strings.Contains(e, "@")
}
