package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/httpapi"
)

// Every command that reads or changes the appliance does so through its HTTP API, over
// one of three transports chosen here:
//
//   - remote (--url/--key): TCP to a server, acting as that key;
//   - online: the operator socket in the data directory of the server that holds it,
//     acting as the local operator;
//   - offline: no server holds the data directory, so it is opened in this process and
//     the same API handler answers in memory, acting as the local operator.
//
// A command is therefore written once, against the API, and prints the same whichever
// way it went; a command added later (env, workflow versions) gets all three by using
// apiClient. The alternative — sending the command line to the server to run there —
// would make the server read and write the operator's files (import FILE, backup
// --out), which a hardened service (ProtectHome, PrivateTmp, another user) cannot.

// apiClient calls the management API over one transport.
type apiClient struct {
	base  string
	key   string
	http  *http.Client
	close func() error
	// app is the appliance opened in this process (offline only).
	app *app.App
}

// connect picks the transport for c: --url, else the operator socket of a running
// server, else the data directory opened here. The data directory must exist: admin
// commands never create one (serve and restore do).
func connect(c *cli.Context) (*apiClient, error) {
	if remoteConfigured(c) {
		return newRemote(c)
	}
	dir := c.String("data-dir")
	if err := requireDataDir(dir); err != nil {
		return nil, err
	}
	if cl := dialOperator(c.Context, dir); cl != nil {
		return cl, nil
	}
	cfg := appConfig(c)
	if !c.IsSet("log-level") {
		// The in-memory requests are this command's own: their access log lines would
		// only be noise around its output. --log-level shows them.
		cfg.Logger = newLoggerAt(c, slog.LevelWarn)
	}
	a, err := app.Open(c.Context, cfg)
	if err != nil {
		return nil, err
	}
	h := httpapi.Operator(a.Handler())
	return &apiClient{
		base: "http://localhost", http: &http.Client{Transport: handlerTransport{h}}, app: a,
		close: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return a.Close(ctx)
		},
	}, nil
}

// withAPI runs fn with a client and closes it afterwards.
func withAPI(c *cli.Context, fn func(cl *apiClient) error) error {
	cl, err := connect(c)
	if err != nil {
		return err
	}
	ferr := fn(cl)
	if cerr := cl.close(); ferr == nil {
		ferr = cerr
	}
	return ferr
}

// requireDataDir refuses a data directory that does not exist, naming it.
func requireDataDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		abs, _ := filepath.Abs(dir)
		return fmt.Errorf("data directory %s does not exist: pass --data-dir (or STEELENGINE_DATA_DIR) of an instance, or start one with 'steelengine serve'", abs)
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	return nil
}

// dialOperator returns a client on the operator socket of the server holding dir, or
// nil when no server answers there (a socket left by a crashed server is ignored).
func dialOperator(ctx context.Context, dir string) *apiClient {
	path := filepath.Join(dir, app.OperatorSocket)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	var d net.Dialer
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "unix", path) }
	probe, err := dial(ctx, "", "")
	if err != nil {
		return nil
	}
	probe.Close()
	tr := &http.Transport{DialContext: dial, MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second}
	return &apiClient{base: "http://localhost", http: &http.Client{Transport: tr},
		close: func() error { tr.CloseIdleConnections(); return nil }}
}

// remoteConfigured reports whether the command should talk to a server by URL.
func remoteConfigured(c *cli.Context) bool { return strings.TrimSpace(c.String("url")) != "" }

func newRemote(c *cli.Context) (*apiClient, error) {
	base := strings.TrimRight(strings.TrimSpace(c.String("url")), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("invalid --url %q: want http(s)://host[:port]", base)
	}
	key := strings.TrimSpace(c.String("key"))
	if key == "" {
		return nil, usagef("--url needs --key (or STEELENGINE_API_KEY)")
	}
	return &apiClient{base: base, key: key, http: &http.Client{}, close: func() error { return nil }}, nil
}

// apiError is an error answer of the API: its message, code and details. It exits 1;
// with --json it is written in the API's own error shape.
type apiError struct {
	status  int
	code    string
	msg     string
	details json.RawMessage
	body    []byte // the answer as sent (a failed run's result carries its trace)
}

func (e *apiError) Error() string {
	msg := e.msg
	if len(e.details) > 0 && !strings.Contains(msg, "\n") {
		msg += ": " + string(e.details) // an itemised message already names what is wrong
	}
	if e.code == "" {
		return fmt.Sprintf("%s (%d)", msg, e.status)
	}
	return fmt.Sprintf("%s (%d %s)", msg, e.status, e.code)
}

// request sends body (JSON-encoded unless it is an io.Reader or nil) and returns the
// answer; an answer outside 2xx becomes an *apiError.
func (cl *apiClient) request(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd, ctype = b, "application/json"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, ctype = bytes.NewReader(data), "application/json"
	}
	u := cl.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if cl.key != "" {
		req.Header.Set("X-API-Key", cl.key)
	}
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", cl.base, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return nil, decodeAPIError(resp.StatusCode, data)
}

func decodeAPIError(status int, data []byte) error {
	re := &apiError{status: status, body: data}
	var e struct {
		Error   any             `json:"error"`
		Code    string          `json:"code"`
		Details json.RawMessage `json:"details"`
	}
	if json.Unmarshal(data, &e) == nil {
		re.code = e.Code
		if d := bytes.TrimSpace(e.Details); len(d) > 0 && string(d) != "null" {
			re.details = d
		}
		switch v := e.Error.(type) {
		case string:
			re.msg = v
		case map[string]any: // v2 envelope
			re.msg, _ = v["message"].(string)
			if re.code == "" {
				re.code, _ = v["code"].(string)
			}
		}
	}
	if re.msg == "" {
		re.msg = strings.TrimSpace(string(data))
		if len(re.msg) > 300 {
			re.msg = re.msg[:300]
		}
	}
	return re
}

// do is request that decodes a JSON answer into out (when out is not nil).
func (cl *apiClient) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := cl.request(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// handlerTransport answers requests by calling an http.Handler in this process; the
// body streams through a pipe, so large answers (a backup) are not held in memory.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sreq := req.Clone(req.Context())
	sreq.RemoteAddr = "127.0.0.1:0"
	sreq.RequestURI = req.URL.RequestURI()
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	rw := &pipeResponse{header: http.Header{}, body: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				rw.WriteHeader(http.StatusInternalServerError)
				pw.CloseWithError(fmt.Errorf("handler aborted: %v", v))
				return
			}
			rw.WriteHeader(http.StatusOK)
			pw.Close()
		}()
		t.h.ServeHTTP(rw, sreq)
	}()
	<-rw.ready
	return &http.Response{
		Status: fmt.Sprintf("%d %s", rw.status, http.StatusText(rw.status)), StatusCode: rw.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rw.sent, Body: pr, ContentLength: -1, Request: req,
	}, nil
}

// pipeResponse is the handler's side of handlerTransport.
type pipeResponse struct {
	header http.Header
	sent   http.Header
	body   *io.PipeWriter
	status int
	once   sync.Once
	ready  chan struct{}
}

func (p *pipeResponse) Header() http.Header { return p.header }

func (p *pipeResponse) WriteHeader(code int) {
	p.once.Do(func() {
		p.status, p.sent = code, p.header.Clone()
		close(p.ready)
	})
}

func (p *pipeResponse) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return p.body.Write(b)
}

func (p *pipeResponse) Flush() {}

// withWorkspaceResource runs fn against the management API with base set to
// /api/workspaces/{id}/{resource}, the workspace named by --workspace (id or name).
func withWorkspaceResource(c *cli.Context, resource string, fn func(cl *apiClient, base string) error) error {
	return withAPI(c, func(cl *apiClient) error {
		id, err := cl.workspaceID(c.Context, c.String("workspace"))
		if err != nil {
			return err
		}
		return fn(cl, "/api/workspaces/"+url.PathEscape(id)+"/"+resource)
	})
}
