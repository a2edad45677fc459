// Package httpapi is SteelEngine's HTTP front door: the execute, runs, logs and
// management API. It translates HTTP to the use cases below it and back; it decides no
// access on its own (auth.Authorize does) and never touches the store's files directly.
package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/steelengine/steelengine/store"
)

// Config holds the HTTP API's settings.
type Config struct {
	// MaxBodyBytes caps request bodies (default 10 MiB).
	MaxBodyBytes int64
}

// Deps are the services the API serves.
type Deps struct {
	Store  *store.Store
	Logger *slog.Logger
}

// API is the HTTP API's handler.
type API struct {
	cfg  Config
	deps Deps
	mux  *http.ServeMux
}

// New builds the API's routes.
func New(cfg Config, deps Deps) *API {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	a := &API{cfg: cfg, deps: deps, mux: http.NewServeMux()}
	a.routes()
	return a
}

func (a *API) routes() {
	a.mux.HandleFunc("GET /healthz", a.healthz)
	a.mux.HandleFunc("GET /readyz", a.readyz)
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }
