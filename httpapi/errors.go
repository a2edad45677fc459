package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// apiError is an error the API reports as is.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details any
}

func (e *apiError) Error() string { return e.Message }

var errInternal = &apiError{Status: http.StatusInternalServerError, Code: "internal_error", Message: "Internal server error"}

// Storage failures: the request may be retried once the condition clears (/readyz
// says when); the cause is in the server log, not the response.
var (
	errStorageUnavailable = &apiError{Status: http.StatusServiceUnavailable, Code: "storage_unavailable", Message: "Storage is unavailable; the change was not saved"}
	errNoSpace            = &apiError{Status: http.StatusInsufficientStorage, Code: "insufficient_storage", Message: "The data volume is full; the change was not saved"}
)

// badRequest names the bad field in details.
func badRequest(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: msg,
		Details: []map[string]string{{"field": field, "message": msg}}}
}

// toAPIError maps any error from the layers below to its status and code. Unknown
// errors are 500 without internals.
func toAPIError(err error) *apiError {
	var (
		ae  *apiError
		aue *auth.Error
		ce  *core.Error
		mbe *http.MaxBytesError
		ve  *engine.ValidationError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &aue):
		e := &apiError{Status: aue.Status, Code: aue.Code, Message: aue.Message}
		if aue.Field != "" {
			e.Details = []map[string]string{{"field": aue.Field, "message": aue.Message}}
		}
		return e
	case errors.As(err, &ce):
		return &apiError{Status: ce.Status, Code: ce.Code, Message: ce.Message, Details: ce.Details}
	case errors.As(err, &ve):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_workflow", Message: ve.Error(), Details: ve.Problems}
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Message: "Request body exceeds " + strconv.FormatInt(mbe.Limit, 10) + " bytes"}
	case errors.Is(err, store.ErrNoSpace):
		return errNoSpace
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrCorrupt):
		return errStorageUnavailable
	case errors.Is(err, store.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "Not found"}
	case errors.Is(err, store.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: cleanMessage(err)}
	case errors.Is(err, store.ErrInvalid):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: cleanMessage(err)}
	}
	return errInternal
}

// cleanMessage drops the sentinel's own text from a wrapped store error.
func cleanMessage(err error) string {
	msg := err.Error()
	for _, s := range []error{store.ErrConflict, store.ErrInvalid} {
		msg = strings.TrimSuffix(msg, ": "+s.Error())
	}
	return msg
}

// writeError writes the one error shape {"error","code"} (+ "details"); v2 routes use
// writeV2Error. 5xx causes are logged by the caller's logger, never sent.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	setRetryAfter(w, err)
	body := map[string]any{"error": e.Message, "code": e.Code}
	if e.Details != nil {
		body["details"] = e.Details
	}
	writeJSON(w, e.Status, body)
}

// writeV2Error writes the v2 envelope {"error":{"code","message","details?"}}.
func writeV2Error(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	setRetryAfter(w, err)
	inner := map[string]any{"code": e.Code, "message": e.Message}
	if e.Details != nil {
		inner["details"] = e.Details
	}
	writeJSON(w, e.Status, map[string]any{"error": inner})
}

func setRetryAfter(w http.ResponseWriter, err error) {
	var aue *auth.Error
	var ce *core.Error
	switch {
	case errors.As(err, &aue):
		aue.SetHeaders(w.Header())
	case errors.As(err, &ce) && ce.RetryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(int(ce.RetryAfter.Seconds()+0.999)))
	}
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNoSpace) {
		w.Header().Set("Retry-After", "10")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
