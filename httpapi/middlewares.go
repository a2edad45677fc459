package httpapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// middleware wraps every request: request id, panic recovery, CORS, body cap, and JSON
// 404/405 answers for routes the mux does not know.
func (a *API) middleware(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "request_id", id, "panic", v, "stack", string(debug.Stack()))
				errorWriter(r)(w, r, errInternal)
			}
		}()
		if a.cors(w, r) {
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
		}
		h, pattern := mux.Handler(r)
		noteRoute(r, pattern)
		if pattern == "" {
			// The mux's own 404/405: capture the status (and Allow), answer in JSON.
			rec := &statusOnly{header: http.Header{}}
			h.ServeHTTP(rec, r)
			if allow := rec.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			if rec.status == http.StatusMethodNotAllowed {
				errorWriter(r)(w, r, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "Method " + r.Method + " not allowed"})
				return
			}
			errorWriter(r)(w, r, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "Not found"})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// cors answers preflights and sets CORS headers for allowed origins; it reports
// whether the request was fully answered.
func (a *API) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(a.cfg.AllowedOrigins) == 0 {
		return false
	}
	if !slices.Contains(a.cfg.AllowedOrigins, "*") && !slices.Contains(a.cfg.AllowedOrigins, origin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type, X-API-Key, Authorization, X-Execution-Mode, X-Stream-Response, X-Run-Id, X-CSRF-Token, X-Request-Id")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *statusOnly) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// errorWriter picks the error shape of the route family: the v2 envelope under
// /api/v2/, the flat {"error","code"} elsewhere.
func errorWriter(r *http.Request) func(http.ResponseWriter, *http.Request, error) {
	if strings.HasPrefix(r.URL.Path, "/api/v2/") {
		return writeV2Error
	}
	return writeError
}

// CloseUnauthenticated ends the connection after any 401, from every front door,
// without reading the rest of the request body: a client without a valid key must not
// hold a connection (and a descriptor) by sending its body slowly. Handlers
// authenticate before they read a body, so the body is still unread at that point.
func CloseUnauthenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&closeOn401{ResponseWriter: w}, r)
	})
}

type closeOn401 struct{ http.ResponseWriter }

func (w *closeOn401) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		w.Header().Set("Connection", "close")
		// The server drains up to 256 KiB of unread body after the handler; a past read
		// deadline makes that drain fail at once, so the connection closes now.
		_ = http.NewResponseController(w.ResponseWriter).SetReadDeadline(time.Now())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *closeOn401) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *closeOn401) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
