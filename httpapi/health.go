package httpapi

import (
	"errors"
	"net/http"

	"github.com/steelengine/steelengine/store"
)

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only while the store serves reads and takes writes: not while the
// data files are gone or replaced under the process, or writes fail (full disk,
// read-only filesystem). It recovers by itself when the condition clears.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if err := a.deps.Service.Ready(r.Context()); err != nil {
		code := "storage_unavailable"
		if errors.Is(err, store.ErrNoSpace) {
			code = "insufficient_storage"
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "store not ready", "code": code})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
