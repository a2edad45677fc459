package core

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error is a use-case failure the front doors report with its status and code.
type Error struct {
	Status  int    // HTTP status
	Code    string // machine code, e.g. not_deployed
	Message string
	Details any // optional structured details (e.g. the blocks that block a deploy)
	// RetryAfter is sent as Retry-After on 429 and 503.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

func newError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinel use-case errors; match with errors.Is.
var (
	ErrNotDeployed    = &Error{Status: http.StatusForbidden, Code: "not_deployed", Message: "Workflow is not deployed"}
	ErrRunIDConflict  = &Error{Status: http.StatusConflict, Code: "run_id_conflict", Message: "Run ID has already been used"}
	ErrNotFound       = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "Not found"}
	errNotCancellable = &Error{Status: http.StatusConflict, Code: "not_cancellable", Message: "Execution is not running"}
)

// Is matches errors by code, so wrapped copies with other messages still match.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}
