package mcp

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
)

// The OAuth 2.1 side of the MCP endpoints (MCP authorization, 2025-06-18): the
// protected-resource metadata that a 401 points to (RFC 9728), the authorization
// server's metadata (RFC 8414), dynamic client registration (RFC 7591), the token
// endpoint (authorization code with PKCE S256, rotating refresh tokens, RFC 8707
// resource indicators) and revocation (RFC 7009). The consent page that issues codes
// is the dashboard's (/oauth/authorize); every decision is auth's.

const maxOAuthBody = 64 << 10

// mountOAuth registers the discovery and token endpoints.
func (s *Server) mountOAuth(mux *http.ServeMux) {
	mux.Handle("/.well-known/oauth-protected-resource", s.oauthPublic(s.resourceMetadata))
	mux.Handle("/.well-known/oauth-protected-resource/mcp", s.oauthPublic(s.resourceMetadata))
	mux.Handle("/.well-known/oauth-protected-resource/api/mcp/serve/{serverId}", s.oauthPublic(s.resourceMetadata))
	mux.Handle("/.well-known/oauth-authorization-server", s.oauthPublic(s.serverMetadata))
	mux.Handle("/oauth/register", s.oauthPublic(s.register))
	mux.Handle("/oauth/token", s.oauthPublic(s.token))
	mux.Handle("/oauth/revoke", s.oauthPublic(s.revoke))
}

// baseURL is the instance's external URL: --public-url, or the request's own.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// challenge is the WWW-Authenticate of a 401 from an MCP endpoint at path: it points
// to the endpoint's protected-resource metadata, and says invalid_token when a token
// was presented and refused.
func (s *Server) challenge(r *http.Request, path string, err error) string {
	v := `Bearer realm="steelengine", resource_metadata="` + s.baseURL(r) + "/.well-known/oauth-protected-resource" + path + `"`
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Code == "invalid_token" {
		v += `, error="invalid_token"`
	}
	return v
}

// oauthPublic serves credential-less endpoints: any origin may call them (they use no
// cookies), panics become 500s, bodies are capped.
func (s *Server) oauthPublic(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving OAuth request", "panic", v)
				writeOAuthError(w, &auth.OAuthError{Status: 500, Code: "server_error", Description: "Internal server error"})
			}
		}()
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Cache-Control", "no-store")
		if r.Method == http.MethodOptions {
			hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, Mcp-Protocol-Version")
			hd.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxOAuthBody)
		h(w, r)
	})
}

func (s *Server) resourceMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeOAuthError(w, &auth.OAuthError{Status: 405, Code: "invalid_request", Description: "Use GET"})
		return
	}
	base := s.baseURL(r)
	path := "/mcp"
	if id := r.PathValue("serverId"); id != "" {
		path = "/api/mcp/serve/" + url.PathEscape(id)
	}
	writeOAuthJSON(w, http.StatusOK, map[string]any{
		"resource":                 base + path,
		"authorization_servers":    []string{base},
		"bearer_methods_supported": []string{"header"},
		"resource_name":            "SteelEngine MCP",
	})
}

func (s *Server) serverMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeOAuthError(w, &auth.OAuthError{Status: 405, Code: "invalid_request", Description: "Use GET"})
		return
	}
	base := s.baseURL(r)
	writeOAuthJSON(w, http.StatusOK, map[string]any{
		"issuer":                                         base,
		"authorization_endpoint":                         base + "/oauth/authorize",
		"token_endpoint":                                 base + "/oauth/token",
		"registration_endpoint":                          base + "/oauth/register",
		"revocation_endpoint":                            base + "/oauth/revoke",
		"response_types_supported":                       []string{"code"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"none"},
		"revocation_endpoint_auth_methods_supported":     []string{"none"},
		"authorization_response_iss_parameter_supported": true,
	})
}

// parseRegistration reads an RFC 7591 registration request body.
func parseRegistration(body []byte) (auth.ClientRegistration, *auth.OAuthError) {
	var c auth.ClientRegistration
	if err := json.Unmarshal(body, &c); err != nil {
		return c, &auth.OAuthError{Status: 400, Code: "invalid_client_metadata", Description: "The body must be a JSON object of client metadata"}
	}
	if err := c.Check(); err != nil {
		return c, err
	}
	return c, nil
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeOAuthError(w, &auth.OAuthError{Status: 405, Code: "invalid_request", Description: "Use POST"})
		return
	}
	body, err := readAll(r)
	if err != nil {
		writeOAuthError(w, &auth.OAuthError{Status: 413, Code: "invalid_client_metadata", Description: "Request body too large"})
		return
	}
	c, oe := parseRegistration(body)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	cl, err := s.res.RegisterClient(r.Context(), c, auth.ClientIP(r))
	if err != nil {
		s.writeOAuthErr(w, err)
		return
	}
	writeOAuthJSON(w, http.StatusCreated, map[string]any{
		"client_id":                  cl.ID,
		"client_id_issued_at":        cl.CreatedAt.Unix(),
		"client_name":                cl.Name,
		"redirect_uris":              cl.RedirectURIs,
		"token_endpoint_auth_method": "none",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
	})
}

// tokenRequest is a parsed token endpoint request.
type tokenRequest struct {
	GrantType, ClientID, Code, RedirectURI, CodeVerifier, RefreshToken, Resource string
}

// parseTokenRequest reads the token endpoint's form (RFC 6749 §3.2): every parameter
// at most once.
func parseTokenRequest(form url.Values) (tokenRequest, *auth.OAuthError) {
	bad := func(desc string) (tokenRequest, *auth.OAuthError) {
		return tokenRequest{}, &auth.OAuthError{Status: 400, Code: "invalid_request", Description: desc}
	}
	for k, v := range form {
		if len(v) > 1 {
			return bad("parameter " + strconv.Quote(k) + " given more than once")
		}
	}
	t := tokenRequest{GrantType: form.Get("grant_type"), ClientID: form.Get("client_id"), Code: form.Get("code"),
		RedirectURI: form.Get("redirect_uri"), CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"), Resource: form.Get("resource")}
	switch t.GrantType {
	case "":
		return bad("grant_type is required")
	case "authorization_code":
		if t.Code == "" || t.RedirectURI == "" || t.CodeVerifier == "" {
			return bad("code, redirect_uri and code_verifier are required")
		}
	case "refresh_token":
		if t.RefreshToken == "" {
			return bad("refresh_token is required")
		}
	default:
		return tokenRequest{}, &auth.OAuthError{Status: 400, Code: "unsupported_grant_type", Description: "grant_type must be authorization_code or refresh_token"}
	}
	if t.ClientID == "" {
		return tokenRequest{}, &auth.OAuthError{Status: 401, Code: "invalid_client", Description: "client_id is required"}
	}
	return t, nil
}

// readForm parses an application/x-www-form-urlencoded POST body.
func readForm(r *http.Request) (url.Values, *auth.OAuthError) {
	if r.Method != http.MethodPost {
		return nil, &auth.OAuthError{Status: 405, Code: "invalid_request", Description: "Use POST"}
	}
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") {
		return nil, &auth.OAuthError{Status: 400, Code: "invalid_request", Description: "The body must be application/x-www-form-urlencoded"}
	}
	body, err := readAll(r)
	if err != nil {
		return nil, &auth.OAuthError{Status: 413, Code: "invalid_request", Description: "Request body too large"}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &auth.OAuthError{Status: 400, Code: "invalid_request", Description: "Malformed form body"}
	}
	return form, nil
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	form, oe := readForm(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	t, oe := parseTokenRequest(form)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	var ts *auth.TokenSet
	var err error
	if t.GrantType == "authorization_code" {
		ts, err = s.res.ExchangeCode(r.Context(), auth.CodeExchange{ClientID: t.ClientID, Code: t.Code, RedirectURI: t.RedirectURI,
			CodeVerifier: t.CodeVerifier, Resource: t.Resource})
	} else {
		ts, err = s.res.Refresh(r.Context(), t.ClientID, t.RefreshToken, t.Resource)
	}
	if err != nil {
		s.writeOAuthErr(w, err)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeOAuthJSON(w, http.StatusOK, map[string]any{
		"access_token":  ts.AccessToken,
		"token_type":    "Bearer",
		"expires_in":    int(ts.ExpiresIn / time.Second),
		"refresh_token": ts.RefreshToken,
		"scope":         "mcp",
	})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	form, oe := readForm(r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	if form.Get("token") == "" {
		writeOAuthError(w, &auth.OAuthError{Status: 400, Code: "invalid_request", Description: "token is required"})
		return
	}
	if err := s.res.RevokeToken(r.Context(), form.Get("client_id"), form.Get("token")); err != nil {
		s.writeOAuthErr(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func readAll(r *http.Request) ([]byte, error) { return io.ReadAll(r.Body) }

func (s *Server) writeOAuthErr(w http.ResponseWriter, err error) {
	var oe *auth.OAuthError
	if errors.As(err, &oe) {
		writeOAuthError(w, oe)
		return
	}
	s.log.Error("OAuth request", "err", err)
	writeOAuthError(w, &auth.OAuthError{Status: 500, Code: "server_error", Description: "Internal server error"})
}

func writeOAuthError(w http.ResponseWriter, e *auth.OAuthError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="steelengine"`)
	}
	writeOAuthJSON(w, e.Status, map[string]string{"error": e.Code, "error_description": e.Description})
}

func writeOAuthJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
