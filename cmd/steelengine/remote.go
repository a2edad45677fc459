package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// Remote mode: with --url (STEELENGINE_URL) and --key (STEELENGINE_API_KEY) the run
// and logs commands call a running server's HTTP API instead of opening the data
// directory.

func remoteFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "url", EnvVars: []string{"STEELENGINE_URL"}, Usage: "call this running server instead of opening the data directory"},
		&cli.StringFlag{Name: "key", EnvVars: []string{"STEELENGINE_API_KEY"}, Usage: "API key for --url"},
	}
}

// remoteConfigured reports whether the command should talk to a server.
func remoteConfigured(c *cli.Context) bool { return strings.TrimSpace(c.String("url")) != "" }

// remoteClient calls one server with one key.
type remoteClient struct {
	base string
	key  string
	http *http.Client
}

func newRemote(c *cli.Context) (*remoteClient, error) {
	base := strings.TrimRight(strings.TrimSpace(c.String("url")), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("invalid --url %q: want http(s)://host[:port]", base)
	}
	key := strings.TrimSpace(c.String("key"))
	if key == "" {
		return nil, usagef("--url needs --key (or STEELENGINE_API_KEY)")
	}
	return &remoteClient{base: base, key: key, http: &http.Client{Timeout: 70 * time.Minute}}, nil
}

// remoteError is an HTTP error answer: its message, status and code; it exits 1.
type remoteError struct {
	status int
	code   string
	msg    string
}

func (e *remoteError) Error() string {
	s := fmt.Sprintf("server answered %d", e.status)
	if e.code != "" {
		s += " " + e.code
	}
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

func (e *remoteError) ExitCode() int { return 1 }

// do sends body (JSON-encoded unless nil) and decodes a 2xx JSON answer into out.
func (rc *remoteClient) do(c *cli.Context, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := rc.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(c.Context, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", rc.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := rc.http.Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", rc.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("read answer from %s: %w", rc.base, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		re := &remoteError{status: resp.StatusCode}
		var e struct {
			Error any    `json:"error"`
			Code  string `json:"code"`
		}
		if json.Unmarshal(data, &e) == nil {
			re.code = e.Code
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
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode answer from %s: %w", rc.base, err)
	}
	return nil
}

// remoteRun executes the deployed workflow id on the server (POST
// /api/workflows/{id}/execute) and prints the result like an offline run.
func remoteRun(c *cli.Context, id string, input map[string]any) error {
	rc, err := newRemote(c)
	if err != nil {
		return err
	}
	if input == nil {
		input = map[string]any{}
	}
	var res map[string]any
	if err := rc.do(c, http.MethodPost, "/api/workflows/"+url.PathEscape(id)+"/execute", nil, map[string]any{"input": input}, &res); err != nil {
		return err
	}
	success, _ := res["success"].(bool)
	if err := printOut(c, res, func(w io.Writer) {
		var execID, dur any
		if md, ok := res["metadata"].(map[string]any); ok {
			execID, dur = md["executionId"], md["duration"]
		}
		if dur == nil {
			dur = res["totalDuration"]
		}
		status := "completed"
		if !success {
			status = fmt.Sprintf("failed: %v", res["error"])
		}
		fmt.Fprintf(w, "execution %v %s in %v ms\n", orDash(execID), status, orDash(dur))
		outJSON, _ := json.MarshalIndent(res["output"], "", "  ")
		fmt.Fprintf(w, "output: %s\n", outJSON)
		if logs, ok := res["logs"].([]any); ok && len(logs) > 0 {
			fmt.Fprintln(w, "trace:")
			row(w, "  #", "BLOCK", "TYPE", "MS", "STATUS")
			for i, l := range logs {
				m, _ := l.(map[string]any)
				st := "ok"
				if ok, _ := m["success"].(bool); !ok {
					st = fmt.Sprintf("error: %v", m["error"])
				}
				order := m["executionOrder"]
				if order == nil {
					order = i + 1
				}
				row(w, fmt.Sprintf("  %v", order), orDash(m["blockName"]), orDash(m["blockType"]), orDash(m["durationMs"]), st)
			}
		}
	}); err != nil {
		return err
	}
	if !success {
		return cli.Exit("", 1)
	}
	return nil
}

func orDash(v any) any {
	if v == nil || v == "" {
		return "-"
	}
	return v
}
