package httpapi

import (
	"context"
	"net/http"

	"github.com/steelengine/steelengine/auth"
)

type operatorCtxKey struct{}

// Operator wraps h for the operator socket: a request that presents no credentials
// acts as the local operator (auth.Operator()), whose right comes from owning the data
// directory — the socket's file mode and peer check decide who gets this far. A request
// that presents a key or session acts as that, exactly as over TCP. The TCP listener
// never gets this wrapper.
func Operator(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), operatorCtxKey{}, true)))
	})
}

// operatorRequest reports whether r arrived through Operator without credentials.
func operatorRequest(r *http.Request) bool {
	if on, _ := r.Context().Value(operatorCtxKey{}).(bool); !on {
		return false
	}
	if auth.RequestKey(r) != "" {
		return false
	}
	_, err := r.Cookie(SessionCookie)
	return err != nil
}
