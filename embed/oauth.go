package embed

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// The authorization endpoint of SteelEngine's OAuth server (see mcp/oauth.go for the
// others): a signed-in user sees which client asks, for which MCP endpoint, and
// consents to one workspace, all or chosen workflows, and read or write. auth issues
// the code; what the token may then do is decided by Authorize on every request.

func init() {
	addRoute("GET /dashboard/account/connected-apps", func(d *Dashboard) handlerFunc { return d.connectedApps })
	addRoute("POST /dashboard/account/connected-apps/{id}/revoke", func(d *Dashboard) handlerFunc { return d.revokeConnectedApp })
	notices["app-revoked"] = "The app was disconnected. Its tokens stop working on their next request."
}

// authRequest is an authorization request (RFC 6749 §4.1.1 with PKCE and a resource
// indicator), from the query (GET) or the consent form's hidden fields (POST).
type authRequest struct {
	ResponseType, ClientID, RedirectURI, State, CodeChallenge, CodeChallengeMethod, Resource, Scope string
}

func readAuthRequest(v url.Values) (authRequest, bool) {
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "resource", "scope"} {
		if len(v[k]) > 1 {
			return authRequest{ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), State: v.Get("state")}, false
		}
	}
	return authRequest{ResponseType: v.Get("response_type"), ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"),
		State: v.Get("state"), CodeChallenge: v.Get("code_challenge"), CodeChallengeMethod: v.Get("code_challenge_method"),
		Resource: v.Get("resource"), Scope: v.Get("scope")}, true
}

type consentWorkspace struct {
	ID, Name  string
	Level     store.Level
	Workflows []*store.Workflow
}

type consentData struct {
	Req          authRequest
	ClientName   string
	RedirectHost string
	Resource     string
	ServerID     string
	Workspaces   []consentWorkspace
}

// checkAuthRequest validates a request: a bad client or redirect URI is shown to the
// user (never redirected to); anything else goes back to the client as an error.
func (d *Dashboard) checkAuthRequest(w http.ResponseWriter, r *http.Request, v *visit, q authRequest, single bool) (*store.OAuthClient, string, string, bool) {
	cl, err := d.deps.Resolver.OAuthClient(r.Context(), q.ClientID, q.RedirectURI)
	if err != nil {
		pg := v.page("Authorization failed", "")
		pg.Error = "This authorization request is invalid: the application is unknown or its redirect address is not registered. Start the connection again from the application."
		d.render(w, r, "error", http.StatusBadRequest, pg)
		return nil, "", "", false
	}
	fail := func(code, desc string) (*store.OAuthClient, string, string, bool) {
		oauthRedirect(w, r, q, url.Values{"error": {code}, "error_description": {desc}}, d.baseURL(r))
		return nil, "", "", false
	}
	switch {
	case !single:
		return fail("invalid_request", "a parameter was given more than once")
	case q.ResponseType != "code":
		return fail("unsupported_response_type", "response_type must be code")
	case q.CodeChallengeMethod != "S256":
		return fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
	case !auth.ValidChallenge(q.CodeChallenge):
		return fail("invalid_request", "code_challenge is missing or malformed")
	}
	res := q.Resource
	if res == "" {
		res = d.baseURL(r) + "/mcp"
	}
	canon, serverID, err := auth.MCPResource(d.baseURL(r), res)
	if err != nil {
		return fail("invalid_target", "resource must be this server's /mcp or /api/mcp/serve/{id} URL")
	}
	return cl, canon, serverID, true
}

// oauthRedirect sends the user agent back to the client with params (and state, and
// the issuer per RFC 9207).
func oauthRedirect(w http.ResponseWriter, r *http.Request, q authRequest, params url.Values, issuer string) {
	u, err := url.Parse(q.RedirectURI)
	if err != nil {
		http.Error(w, "bad redirect URI", http.StatusBadRequest)
		return
	}
	vals := u.Query()
	for k, v := range params {
		vals[k] = v
	}
	if q.State != "" {
		vals.Set("state", q.State)
	}
	vals.Set("iss", issuer)
	u.RawQuery = vals.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (d *Dashboard) authorize(w http.ResponseWriter, r *http.Request, v *visit) error {
	q, single := readAuthRequest(r.URL.Query())
	cl, canon, serverID, ok := d.checkAuthRequest(w, r, v, q, single)
	if !ok {
		return nil
	}
	data := consentData{Req: q, ClientName: cl.Name, RedirectHost: redirectHost(q.RedirectURI), Resource: canon, ServerID: serverID}
	wss, err := d.deps.Service.ListWorkspaces(r.Context(), v.P)
	if err != nil {
		return err
	}
	for _, ws := range wss {
		wfs, err := d.deps.Service.ListWorkflows(r.Context(), v.P, ws.Workspace.ID)
		if err != nil {
			continue
		}
		data.Workspaces = append(data.Workspaces, consentWorkspace{ID: ws.Workspace.ID, Name: ws.Workspace.Name, Level: ws.Level, Workflows: wfs})
	}
	// The consent form's answer is a redirect to the client: allow its origin as a
	// form target (browsers apply form-action to redirects too).
	if u, err := url.Parse(q.RedirectURI); err == nil {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self' "+u.Scheme+"://"+u.Host+"; frame-ancestors 'none'")
	}
	pg := v.page("Authorize "+cl.Name, "account")
	pg.Data = data
	d.render(w, r, "oauth_consent", http.StatusOK, pg)
	return nil
}

func redirectHost(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Host
	}
	return ""
}

func (d *Dashboard) consent(w http.ResponseWriter, r *http.Request, v *visit) error {
	if err := r.ParseForm(); err != nil {
		return badForm("The form could not be read.")
	}
	q, single := readAuthRequest(r.PostForm)
	_, canon, serverID, ok := d.checkAuthRequest(w, r, v, q, single)
	if !ok {
		return nil
	}
	issuer := d.baseURL(r)
	if r.PostFormValue("decision") != "allow" {
		oauthRedirect(w, r, q, url.Values{"error": {"access_denied"}, "error_description": {"The user declined"}}, issuer)
		return nil
	}
	ws := r.PostFormValue("workspace")
	var wfs []string
	if r.PostFormValue("workflow_scope") == "chosen" {
		for _, id := range r.PostForm["workflow"] {
			if wsID, wfID, ok := strings.Cut(id, "/"); ok && wsID == ws {
				wfs = append(wfs, wfID)
			}
		}
		if len(wfs) == 0 {
			oauthRedirect(w, r, q, url.Values{"error": {"access_denied"}, "error_description": {"No workflow was chosen"}}, issuer)
			return nil
		}
	}
	level := store.Level(r.PostFormValue("level"))
	if !slices.Contains([]store.Level{store.LevelRead, store.LevelWrite}, level) {
		level = store.LevelRead
	}
	code, err := d.deps.Resolver.IssueCode(r.Context(), v.P, auth.Consent{ClientID: q.ClientID, RedirectURI: q.RedirectURI,
		CodeChallenge: q.CodeChallenge, Resource: canon, ServerID: serverID, WorkspaceID: ws, Workflows: wfs, Level: level})
	if err != nil {
		var oe *auth.OAuthError
		if errors.As(err, &oe) {
			oauthRedirect(w, r, q, url.Values{"error": {oe.Code}, "error_description": {oe.Description}}, issuer)
			return nil
		}
		return err
	}
	oauthRedirect(w, r, q, url.Values{"code": {code}}, issuer)
	return nil
}

// --- connected apps ----------------------------------------------------------------

type connectedAppRow struct {
	Grant     *store.OAuthGrant
	Workspace string
	Workflows []string
}

func (d *Dashboard) connectedApps(w http.ResponseWriter, r *http.Request, v *visit) error {
	gs, err := d.deps.Resolver.ConnectedApps(r.Context(), v.P)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, ws := range v.loadNav().Workspaces {
		names[ws.Workspace.ID] = ws.Workspace.Name
	}
	var rows []connectedAppRow
	for _, g := range gs {
		row := connectedAppRow{Grant: g, Workspace: names[g.WorkspaceID]}
		if row.Workspace == "" {
			row.Workspace = g.WorkspaceID + " (no longer a member)"
		}
		if len(g.Workflows) > 0 {
			if wfs, err := d.deps.Service.ListWorkflows(r.Context(), v.P, g.WorkspaceID); err == nil {
				for _, wf := range wfs {
					if slices.Contains(g.Workflows, wf.ID) {
						row.Workflows = append(row.Workflows, wf.Name)
					}
				}
			}
		}
		rows = append(rows, row)
	}
	pg := v.page("Connected apps", "account")
	pg.Data = rows
	d.render(w, r, "connected_apps", http.StatusOK, pg)
	return nil
}

func (d *Dashboard) revokeConnectedApp(w http.ResponseWriter, r *http.Request, v *visit) error {
	if _, err := d.deps.Resolver.RevokeConnectedApp(r.Context(), v.P, r.PathValue("id")); err != nil {
		return err
	}
	redirect(w, r, "/dashboard/account/connected-apps", "app-revoked")
	return nil
}
