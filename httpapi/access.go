package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/steelengine/steelengine/auth"
)

// access is what the access log learns from the API while a request is served: the
// route pattern. The key id comes from auth's access note, set by whichever front door
// resolved the key.
type access struct {
	mu      sync.Mutex
	pattern string
}

type accessKey struct{}

// AccessLog logs one line per request through log: method, route pattern (ids stay
// out of it), status, duration, bytes written, the client's address (behind a trusted
// reverse proxy, the one it names) and the id of the API key the request presented,
// from any front door. Headers, keys and bodies are never logged.
func AccessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		acc := &access{}
		ctx, keyID := auth.WithAccessNote(r.Context())
		r = r.WithContext(context.WithValue(ctx, accessKey{}, acc))
		aw := &accessWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			acc.mu.Lock()
			pattern := acc.pattern
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
				slog.String("client", clientHost(r.RemoteAddr)),
			}
			if id := keyID(); id != "" {
				attrs = append(attrs, slog.String("key_id", id))
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

// clientHost is the address part of a request's RemoteAddr.
func clientHost(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// noteRoute records the matched route pattern for the access log.
func noteRoute(r *http.Request, pattern string) {
	if acc, ok := r.Context().Value(accessKey{}).(*access); ok {
		acc.mu.Lock()
		acc.pattern = pattern
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
