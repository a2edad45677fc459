// Package httpapi is SteelEngine's HTTP front door: the execute, runs, logs and
// management API. It translates HTTP to the use cases below it (core, auth's key
// lifecycle) and back; it decides no access on its own (auth.Authorize does) and never
// touches the store's files directly.
package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
)

// Config holds the HTTP API's settings.
type Config struct {
	// MaxBodyBytes caps request bodies (default 10 MiB); larger ones get 413.
	MaxBodyBytes int64
	// PublicURL is the externally visible base URL (for statusUrl links); empty → from
	// the request's Host.
	PublicURL string
	// AllowedOrigins enables CORS for these origins ("*" for any). Empty: CORS off.
	AllowedOrigins []string
}

// Deps are the services the API translates to.
type Deps struct {
	Service  *core.Service
	Resolver *auth.Resolver
	Logger   *slog.Logger
}

// API is the HTTP API's handler.
type API struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
}

// New builds the API's routes.
func New(cfg Config, deps Deps) *API {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	a := &API{cfg: cfg, deps: deps, log: deps.Logger, mux: http.NewServeMux()}
	a.routes()
	a.handler = a.middleware(a.mux)
	return a
}

// routes registers every endpoint group; each group lives in its own file.
func (a *API) routes() {
	a.mux.HandleFunc("GET /healthz", a.healthz)
	a.mux.HandleFunc("GET /readyz", a.readyz)
	for _, register := range routeGroups {
		register(a)
	}
}

// routeGroups is filled by each endpoint file's init, so that files can be added
// without editing a central list.
var routeGroups []func(a *API)

// handle registers a pattern ("METHOD /path").
func (a *API) handle(pattern string, h http.HandlerFunc) { a.mux.HandleFunc(pattern, h) }

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }
