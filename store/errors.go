package store

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped) by the store. Callers test with errors.Is.
var (
	// ErrNotFound: no record with that id or key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness rule would be broken (email, key name, run id).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the record breaks an invariant (bad level, role, missing field).
	ErrInvalid = errors.New("invalid")
	// ErrLocked: another process holds the data directory.
	ErrLocked = errors.New("in use by another steelengine process")
	// ErrNewerSchema: the file was written by a newer SteelEngine.
	ErrNewerSchema = errors.New("data file is from a newer steelengine version")
	// ErrUnavailable: storage cannot take writes (files deleted or replaced under the
	// process, read-only or failing filesystem). Retry later; Health tells when.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrNoSpace: the filesystem holding the data directory is full.
	ErrNoSpace = errors.New("insufficient storage")
	// ErrCorrupt: a data file cannot be read; `steelengine check` tells more.
	ErrCorrupt = errors.New("data file is damaged")
)

// invalidf builds an ErrInvalid error with a message, as the backends word them.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}
