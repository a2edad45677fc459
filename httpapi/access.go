package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// access is what the access log learns while a request is served: the route pattern
// and the authenticated key's id (never the key, never the body).
type access struct {
	mu      sync.Mutex
	pattern string
	keyID   string
}

type accessKey struct{}

// AccessLog logs one line per request through log: method, route pattern (ids stay
// out of it), status, duration, bytes written and the API key id when a key
// authenticated the request. Headers, keys and bodies are never logged.
func AccessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		acc := &access{}
		r = r.WithContext(context.WithValue(r.Context(), accessKey{}, acc))
		aw := &accessWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			acc.mu.Lock()
			pattern, keyID := acc.pattern, acc.keyID
			acc.mu.Unlock()
			if pattern == "" {
				pattern = r.Pattern // set by the outer mux on this request
			}
			if pattern == "" {
				pattern = "unmatched"
			}
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("route", pattern),
				slog.Int("status", aw.status),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.Int64("bytes", aw.bytes),
			}
			if keyID != "" {
				attrs = append(attrs, slog.String("key_id", keyID))
			}
			if id := w.Header().Get("X-Request-Id"); id != "" {
				attrs = append(attrs, slog.String("request_id", id))
			}
			level := slog.LevelInfo
			if aw.status >= 500 {
				level = slog.LevelError
			}
			log.LogAttrs(context.Background(), level, "http request", attrs...)
		}()
		next.ServeHTTP(aw, r)
	})
}

// noteRoute records the matched route pattern for the access log.
func noteRoute(r *http.Request, pattern string) {
	if acc, ok := r.Context().Value(accessKey{}).(*access); ok {
		acc.mu.Lock()
		acc.pattern = pattern
		acc.mu.Unlock()
	}
}

// NoteKeyID records the authenticated API key's id for the access log (other front
// doors call it too).
func NoteKeyID(ctx context.Context, keyID string) {
	if acc, ok := ctx.Value(accessKey{}).(*access); ok {
		acc.mu.Lock()
		acc.keyID = keyID
		acc.mu.Unlock()
	}
}

type accessWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *accessWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *accessWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *accessWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *accessWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
