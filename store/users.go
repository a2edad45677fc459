package store

import (
	"context"
	"strings"
	"time"
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

// CheckEmail trims a new user's email, which must be an address.
func (u *User) CheckEmail() error {
	u.Email = strings.TrimSpace(u.Email)
	if !ValidEmail(u.Email) {
		return invalidf("user email %q must be an address", u.Email)
	}
	return nil
}

// CheckEmailChange reports whether u's email, normalised, differs from oldEmail (already
// normalised), and checks that a changed one is an address.
func (u *User) CheckEmailChange(oldEmail string) (changed bool, err error) {
	ne := NormEmail(u.Email)
	if ne == oldEmail {
		return false, nil
	}
	if !ValidEmail(ne) {
		return true, invalidf("user email %q must be an address", u.Email)
	}
	return true, nil
}

// SetDisabled marks u disabled now, or enabled again: DisableUser's edit.
func (u *User) SetDisabled(disabled bool) {
	if disabled {
		t := time.Now().UTC()
		u.DisabledAt = &t
	} else {
		u.DisabledAt = nil
	}
}
