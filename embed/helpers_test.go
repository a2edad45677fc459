package embed_test

import (
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// browser is a cookie-keeping HTTP client signed in to the dashboard, like a person
// with a browser: it follows no redirects by itself, so tests see each answer.
type browser struct {
	t    *testing.T
	e    *testenv.Env
	c    *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func newBrowser(t *testing.T, e *testenv.Env) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn logs in through the dashboard's login form.
func signIn(t *testing.T, e *testenv.Env, email, password string) *browser {
	t.Helper()
	b := newBrowser(t, e)
	_, body := b.get("/login")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("login page has no csrf field: %s", body)
	}
	resp := b.do("POST", "/login", url.Values{"csrf": {m[1]}, "email": {email}, "password": {password}}, "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard" {
		t.Fatalf("sign in as %s: %d %s", email, resp.StatusCode, resp.Header.Get("Location"))
	}
	_, home := b.get("/dashboard")
	m = csrfRE.FindStringSubmatch(home)
	if m == nil {
		t.Fatalf("home has no csrf token")
	}
	b.csrf = m[1]
	return b
}

func (b *browser) do(method, path string, form url.Values, contentType string) *http.Response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
		contentType = "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequest(method, b.e.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp := b.do("GET", path, nil, "")
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// post submits a form with the session's CSRF token (unless form sets "csrf").
func (b *browser) post(path string, form url.Values) (int, string, *http.Response) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	resp := b.do("POST", path, form, "")
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp
}

// upload posts a multipart form with one file field.
func (b *browser) upload(path, field, filename string, data []byte) (int, string, *http.Response) {
	b.t.Helper()
	var buf strings.Builder
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", b.csrf)
	fw, _ := mw.CreateFormFile(field, filename)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", b.e.URL+path, strings.NewReader(buf.String()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp
}

var plainKeyRE = regexp.MustCompile(`sk-steelengine-[0-9A-Za-z]{38}`)

// keysNamed lists the live keys of one owner with the given name, as the operator.
func keysNamed(t *testing.T, e *testenv.Env, f store.KeyFilter, name string) []*store.APIKey {
	t.Helper()
	ks, err := e.App.Resolver.Keys(context.Background(), auth.Operator(), f)
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.APIKey
	for _, k := range ks {
		if k.Name == name {
			out = append(out, k)
		}
	}
	return out
}

// apiStatus calls the JSON API with an API key and returns the status.
func apiStatus(t *testing.T, e *testenv.Env, method, path, key string) int {
	t.Helper()
	req, _ := http.NewRequest(method, e.URL+path, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// addUser creates a user with the test password and returns it.
func addUser(t *testing.T, e *testenv.Env, email string) *store.User {
	t.Helper()
	hash, err := auth.HashPassword(e.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{Email: email, Name: strings.Split(email, "@")[0], PasswordHash: hash}
	if err := e.App.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}
