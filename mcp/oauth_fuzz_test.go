package mcp

import (
	"net/url"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/auth"
)

// FuzzParseTokenRequest: any form body parses without panic, to a request the
// resolver can act on or an RFC 6749 error code.
func FuzzParseTokenRequest(f *testing.F) {
	for _, s := range []string{
		"grant_type=authorization_code&client_id=c&code=seo_ac_x&redirect_uri=https%3A%2F%2Fa%2Fcb&code_verifier=v",
		"grant_type=refresh_token&client_id=c&refresh_token=seo_rt_x&resource=http%3A%2F%2Fh%2Fmcp",
		"grant_type=refresh_token&grant_type=refresh_token",
		"grant_type=password&username=a&password=b",
		"%zz", "", "grant_type=authorization_code&client_id=&code=",
	} {
		f.Add(s)
	}
	codes := map[string]bool{"invalid_request": true, "unsupported_grant_type": true, "invalid_client": true}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		tr, oe := parseTokenRequest(form)
		if oe != nil {
			if !codes[oe.Code] || oe.Status < 400 || oe.Status > 401 {
				t.Fatalf("error %+v", oe)
			}
			return
		}
		if tr.ClientID == "" {
			t.Fatalf("accepted without client_id: %+v", tr)
		}
		switch tr.GrantType {
		case "authorization_code":
			if tr.Code == "" || tr.RedirectURI == "" || tr.CodeVerifier == "" {
				t.Fatalf("accepted incomplete code exchange: %+v", tr)
			}
		case "refresh_token":
			if tr.RefreshToken == "" {
				t.Fatalf("accepted refresh without token: %+v", tr)
			}
		default:
			t.Fatalf("accepted grant type %q", tr.GrantType)
		}
		for k, v := range form {
			if len(v) > 1 {
				t.Fatalf("accepted repeated parameter %s", k)
			}
		}
	})
}

// FuzzParseRegistration: any registration body either fails with an RFC 7591 error
// or yields only https / loopback-http redirect URIs without fragments, and a public
// client.
func FuzzParseRegistration(f *testing.F) {
	for _, s := range []string{
		`{"redirect_uris":["http://127.0.0.1:3000/cb"],"client_name":"x","token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"]}`,
		`{"redirect_uris":["http://evil.example/cb"]}`,
		`{"redirect_uris":["https://a/cb#f"]}`,
		`{"redirect_uris":"x"}`, `[]`, `null`, `{"redirect_uris":["http://[::1]:1/x"],"token_endpoint_auth_method":"client_secret_post"}`,
	} {
		f.Add([]byte(s))
	}
	codes := map[string]bool{"invalid_redirect_uri": true, "invalid_client_metadata": true}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, oe := parseRegistration(body)
		if oe != nil {
			if !codes[oe.Code] || oe.Status != 400 {
				t.Fatalf("error %+v", oe)
			}
			return
		}
		if len(c.RedirectURIs) == 0 || len(c.RedirectURIs) > auth.MaxRedirectURIs {
			t.Fatalf("accepted %d redirect URIs", len(c.RedirectURIs))
		}
		if c.TokenEndpointAuthMethod != "" && c.TokenEndpointAuthMethod != "none" {
			t.Fatalf("accepted a confidential client: %q", c.TokenEndpointAuthMethod)
		}
		for _, s := range c.RedirectURIs {
			u, err := url.Parse(s)
			if err != nil || strings.Contains(s, "#") || u.User != nil {
				t.Fatalf("accepted redirect URI %q", s)
			}
			h := u.Hostname()
			if !(u.Scheme == "https" && h != "" || u.Scheme == "http" && (h == "127.0.0.1" || h == "::1" || h == "localhost")) {
				t.Fatalf("accepted redirect URI %q", s)
			}
		}
	})
}

// FuzzMCPResource: an accepted resource is canonical, under the base, and names /mcp
// or one server object.
func FuzzMCPResource(f *testing.F) {
	for _, s := range []string{"http://h:1/mcp", "HTTP://H:1/mcp/", "http://h:1/api/mcp/serve/abc", "http://h:1/api/mcp/serve/a/b", "http://h:1/mcp?x", "http://other/mcp", "http://h:1/api/mcp/serve/%2e%2e"} {
		f.Add(s)
	}
	const base = "http://h:1"
	f.Fuzz(func(t *testing.T, s string) {
		c, id, err := auth.MCPResource(base, s)
		if err != nil {
			return
		}
		if c != base+"/mcp" && c != base+"/api/mcp/serve/"+id || id != "" && (strings.ContainsAny(id, "/?#%") || c != base+"/api/mcp/serve/"+id) {
			t.Fatalf("%q → %q, %q", s, c, id)
		}
		if c2, id2, err := auth.MCPResource(base, c); err != nil || c2 != c || id2 != id {
			t.Fatalf("canonical form %q does not map to itself: %q %q %v", c, c2, id2, err)
		}
	})
}
