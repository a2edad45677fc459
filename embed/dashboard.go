// Package embed is SteelEngine's third front door: the web dashboard, served by the
// same binary from files compiled in with go:embed (no Node at run time). Pages are
// server-rendered html/template with a little plain JavaScript on top. Like httpapi and
// mcp it only translates: every page calls the use cases in core and auth's key
// lifecycle with the signed-in user's principal, so access is decided by
// auth.Authorize and nothing here reads the store.
package embed

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Config holds the dashboard's settings.
type Config struct {
	// PublicURL is the externally visible base URL (code snippets, Secure cookies);
	// empty → taken from each request.
	PublicURL string
}

// Deps are the use cases the dashboard calls.
type Deps struct {
	Service  *core.Service
	Resolver *auth.Resolver
	Logger   *slog.Logger
}

// Dashboard serves the pages.
type Dashboard struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	pages map[string]*template.Template
}

// New parses the templates; a broken template fails here, at start, not on a request.
func New(cfg Config, deps Deps) (*Dashboard, error) {
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	d := &Dashboard{cfg: cfg, deps: deps, log: deps.Logger, pages: map[string]*template.Template{}}
	if d.log == nil {
		d.log = slog.Default()
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		d.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return d, nil
}

// Mount registers the dashboard's routes on mux, beside the JSON API (which keeps /api).
func (d *Dashboard) Mount(mux *http.ServeMux) {
	static, _ := fs.Sub(assetFS, "assets")
	files := http.StripPrefix("/assets/", http.FileServerFS(static))
	mux.Handle("GET /assets/", d.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})))
	mux.Handle("GET /{$}", d.secure(http.HandlerFunc(d.root)))
	mux.Handle("GET /login", d.secure(http.HandlerFunc(d.loginPage)))
	mux.Handle("POST /login", d.secure(http.HandlerFunc(d.loginSubmit)))
	mux.Handle("POST /logout", d.signedIn(d.logout))
	mux.Handle("GET /dashboard", d.signedIn(d.home))
	mux.Handle("GET /oauth/authorize", d.signedIn(d.authorize))
	mux.Handle("POST /oauth/authorize", d.signedIn(d.consent))
	mux.Handle("/dashboard/", d.signedIn(d.notFound))
	for _, rt := range routes {
		mux.Handle(rt.pattern, d.signedIn(rt.handler(d)))
	}
}

// routes is filled by each page group's init, like httpapi's route groups.
var routes []route

type route struct {
	pattern string
	handler func(d *Dashboard) handlerFunc
}

func addRoute(pattern string, h func(d *Dashboard) handlerFunc) {
	routes = append(routes, route{pattern, h})
}

// handlerFunc serves a signed-in request; a returned error becomes an error page.
type handlerFunc func(w http.ResponseWriter, r *http.Request, v *visit) error

// secure sets the headers every dashboard answer carries. The CSP allows no inline
// script or style, so nothing a workflow's output contains can run.
func (d *Dashboard) secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// page is what every template receives.
type page struct {
	Title     string
	User      *store.User
	CSRF      string
	Section   string // nav highlight: workflows, logs, keys, org, org-keys, account
	Workspace *core.WorkspaceAccess
	Org       *core.OrgAccess
	Nav       *nav
	Notice    string
	Error     string
	Status    int
	Data      any
	BaseURL   string
}

// nav is the sidebar: the workspaces and organizations the user can see.
type nav struct {
	Workspaces []core.WorkspaceAccess
	Orgs       []core.OrgAccess
}

// render executes a page into a buffer first, so a template failure is a clean 500.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, name string, status int, pg *page) {
	t, ok := d.pages[name]
	if !ok {
		http.Error(w, "page not found", http.StatusInternalServerError)
		return
	}
	if pg.BaseURL == "" {
		pg.BaseURL = d.baseURL(r)
	}
	pg.Status = status
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", pg); err != nil {
		d.log.Error("render dashboard page", "page", name, "err", err)
		http.Error(w, "Internal error while rendering the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// baseURL is the instance URL that snippets and links show.
func (d *Dashboard) baseURL(r *http.Request) string {
	if d.cfg.PublicURL != "" {
		return d.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// secureCookies reports whether cookies must be Secure: behind https.
func (d *Dashboard) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(d.cfg.PublicURL, "https://")
}

// failure renders err as an error page with the status it carries (pages that load a
// workspace, organization, workflow or log by id turn 403 into 404 first, through
// hiddenAsNotFound, so nothing outside the user's memberships is confirmed to exist).
func (d *Dashboard) failure(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	status, msg := describe(err)
	if status >= 500 {
		d.log.Error("dashboard request", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	pg := v.page("Something went wrong", "")
	pg.Error = msg
	d.render(w, r, "error", status, pg)
}

// describe maps a use-case error to a status and a message for people.
func describe(err error) (int, string) {
	var (
		ae *auth.Error
		ce *core.Error
		fe *formError
	)
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, fe.msg
	case errors.As(err, &ae):
		switch ae.Status {
		case http.StatusForbidden:
			if ae.Code == "forbidden" {
				return http.StatusForbidden, "You do not have permission to do this. Ask an admin of this workspace or organization."
			}
		case http.StatusUnauthorized:
			return http.StatusUnauthorized, "Your session has ended. Sign in again."
		}
		return ae.Status, ae.Message
	case errors.As(err, &ce):
		return ce.Status, ce.Message
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "Not found."
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, cleanMessage(err)
	case errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest, cleanMessage(err)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "The upload is too large."
	}
	var ve *engine.ValidationError
	if errors.As(err, &ve) {
		return http.StatusBadRequest, ve.Error()
	}
	return http.StatusInternalServerError, "Internal error. The server log has the details."
}

func cleanMessage(err error) string {
	msg := err.Error()
	for _, s := range []error{store.ErrConflict, store.ErrInvalid, store.ErrNotFound} {
		msg = strings.TrimSuffix(msg, ": "+s.Error())
	}
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// formError is a bad form field, shown beside the form.
type formError struct{ msg string }

func (e *formError) Error() string { return e.msg }

func badForm(msg string) error { return &formError{msg} }

// isStatus reports whether err carries an access failure with the given status.
func isStatus(err error, status int) bool {
	s, _ := describe(err)
	return err != nil && s == status
}

// hiddenAsNotFound turns 403 on a named workspace, org or workflow into 404, so a
// page does not confirm that something exists outside the user's reach.
func hiddenAsNotFound(err error) error {
	if isStatus(err, http.StatusForbidden) {
		return &core.Error{Status: http.StatusNotFound, Code: "not_found", Message: "Not found, or you do not have access to it."}
	}
	return err
}

func (d *Dashboard) notFound(w http.ResponseWriter, r *http.Request, v *visit) error {
	return &core.Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no page at " + r.URL.Path + "."}
}

// redirect answers a form post with 303 to path, carrying a notice code.
func redirect(w http.ResponseWriter, r *http.Request, path, notice string) {
	if notice != "" {
		path += "?done=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// notices are the fixed messages a redirect can carry (nothing user-controlled is
// echoed back from the URL).
var notices = map[string]string{
	"revoked":          "The key was revoked. Requests with it fail from now on.",
	"personal-on":      "Personal API keys are allowed in this workspace.",
	"personal-off":     "Personal API keys are disabled in this workspace; only workspace and organization keys work here.",
	"password":         "Your password was changed.",
	"imported":         "Workflow imported. Deploy it to run it through the API and MCP.",
	"deployed":         "Deployed. API and MCP calls now run this version.",
	"activated":        "That version is active again.",
	"undeployed":       "The workflow is no longer deployed.",
	"moved-out":        "The workspace left the organization. Organization keys lost their grants on it.",
	"signed-out":       "You are signed out.",
	"invited":          "Invitation sent. If that address belongs to an account, its owner sees the invitation on their home page and can accept or decline it.",
	"withdrawn":        "The invitation was withdrawn.",
	"permission":       "Permission changed. It applies to their next request, personal keys included.",
	"removed":          "Member removed. Their personal keys lost access to this workspace at once.",
	"left":             "You left the workspace.",
	"joined":           "Invitation accepted. Welcome!",
	"declined":         "Invitation declined.",
	"env-set":          "Variable saved. Its value is sealed and will not be shown again.",
	"env-unset":        "Variable deleted.",
	"updated":          "Draft updated from the file. Deploy it to make API and MCP calls use it.",
	"provider-added":   "Model provider saved. Its API key is sealed and will not be shown again.",
	"provider-removed": "Model provider removed. Blocks that used it fail until another provider serves their model.",
	"already-resumed":  "This run no longer waits for an answer: it was already resumed, or cancelled. Its log shows what happened.",
}
