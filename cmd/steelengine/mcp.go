package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
)

// mcpCommand serves MCP over stdin/stdout for a local client (Claude Desktop, an
// IDE): the tools are the deployed workflows the key may execute, exactly as at
// /mcp, or those of one MCP server object with --server. With a server running (on
// the data directory's operator socket, or at --url) it bridges stdio to that server's
// MCP endpoint; otherwise it opens the data directory itself.
func mcpCommand() *cli.Command {
	return &cli.Command{
		Name:  "mcp",
		Usage: "serve the deployed workflows a key may run as MCP tools over stdio",
		Description: "Speaks MCP (JSON-RPC, one message per line) on stdin/stdout; logs go to stderr.\n" +
			"Access is that of the API key (--key or STEELENGINE_API_KEY), checked on every request like the HTTP endpoints.\n" +
			"While a server holds the data directory (or with --url) the messages go to that server's MCP endpoint.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Usage: "serve only the workflows of this MCP server object (id)"},
		},
		Action: func(c *cli.Context) error {
			key := strings.TrimSpace(c.String("key"))
			if key == "" {
				return usagef("mcp needs --key (or STEELENGINE_API_KEY)")
			}
			cl, err := connect(c)
			if err != nil {
				return err
			}
			defer cl.close()
			if cl.app != nil {
				return cl.app.MCP.ServeStdio(c.Context, key, c.String("server"), os.Stdin, os.Stdout)
			}
			path := "/mcp"
			if id := c.String("server"); id != "" {
				path = "/api/mcp/serve/" + url.PathEscape(id)
			}
			b := &mcpBridge{http: cl.http, url: cl.base + path, key: key, out: os.Stdout}
			return b.run(c.Context, os.Stdin)
		},
	}
}

// mcpBridge relays JSON-RPC messages from stdio to a streamable-HTTP MCP endpoint and
// its answers (JSON or server-sent events) back. Server-initiated requests outside a
// response stream are not relayed: SteelEngine's tools make none.
type mcpBridge struct {
	http *http.Client
	url  string
	key  string

	outMu sync.Mutex
	out   io.Writer

	mu      sync.Mutex
	session string
	proto   string
}

func (b *mcpBridge) run(ctx context.Context, in io.Reader) error {
	if err := b.checkKey(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		msg := append([]byte(nil), line...)
		var head struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if err := json.Unmarshal(msg, &head); err != nil {
			b.write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`))
			continue
		}
		// initialize opens the session every later message names, so it is answered
		// before the next message is read; the rest run concurrently, as over stdio.
		if head.Method == "initialize" {
			b.forward(ctx, msg, head.ID)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.forward(ctx, msg, head.ID)
		}()
	}
	wg.Wait()
	b.closeSession()
	return sc.Err()
}

// checkKey fails fast, like the stdio server, when the key (or the --server object)
// is refused: the endpoint resolves the key before it reads the message.
func (b *mcpBridge) checkKey(ctx context.Context) error {
	resp, err := b.post(ctx, []byte(`{"jsonrpc":"2.0","id":"steelengine-key-check","method":"ping"}`))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
		return decodeAPIError(resp.StatusCode, data)
	case http.StatusNotFound:
		// The --server object is unknown (a JSON error); a sessionless ping's 404 is not.
		var e struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(data, &e) == nil && e.Code != "" {
			return decodeAPIError(resp.StatusCode, data)
		}
	}
	return nil
}

func (b *mcpBridge) post(ctx context.Context, msg []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(msg))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("X-API-Key", b.key)
	b.mu.Lock()
	if b.session != "" {
		req.Header.Set("Mcp-Session-Id", b.session)
	}
	if b.proto != "" {
		req.Header.Set("Mcp-Protocol-Version", b.proto)
	}
	b.mu.Unlock()
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("MCP endpoint: %w", err)
	}
	return resp, nil
}

// forward posts one message and writes whatever answers it; an HTTP error becomes a
// JSON-RPC error for requests (notifications get none).
func (b *mcpBridge) forward(ctx context.Context, msg []byte, id json.RawMessage) {
	isRequest := len(id) > 0 && string(id) != "null"
	resp, err := b.post(ctx, msg)
	if err != nil {
		if isRequest {
			b.writeError(id, -32603, err.Error())
		}
		return
	}
	defer resp.Body.Close()
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		b.mu.Lock()
		b.session = sid
		b.mu.Unlock()
	}
	ctype := resp.Header.Get("Content-Type")
	switch {
	case resp.StatusCode >= 300:
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if isRequest {
			b.writeError(id, -32001, decodeAPIError(resp.StatusCode, data).Error())
		}
	case strings.HasPrefix(ctype, "text/event-stream"):
		b.relayEvents(resp.Body)
	case strings.HasPrefix(ctype, "application/json"):
		data, err := io.ReadAll(resp.Body)
		if err == nil && len(bytes.TrimSpace(data)) > 0 {
			b.noteProtocol(data)
			b.write(data)
		}
	}
}

// relayEvents writes each event's data, one JSON-RPC message per line.
func (b *mcpBridge) relayEvents(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if len(data) > 0 {
				b.noteProtocol(data)
				b.write(data)
				data = nil
			}
		case bytes.HasPrefix(line, []byte("data:")):
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		}
	}
	if len(data) > 0 {
		b.write(data)
	}
}

// noteProtocol remembers the protocol version an initialize answer agreed on, which
// later requests must name.
func (b *mcpBridge) noteProtocol(data []byte) {
	var res struct {
		Result struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"result"`
	}
	if json.Unmarshal(data, &res) == nil && res.Result.ProtocolVersion != "" {
		b.mu.Lock()
		b.proto = res.Result.ProtocolVersion
		b.mu.Unlock()
	}
}

func (b *mcpBridge) write(msg []byte) {
	var buf bytes.Buffer
	if json.Compact(&buf, msg) != nil {
		buf.Reset()
		buf.Write(msg)
	}
	buf.WriteByte('\n')
	b.outMu.Lock()
	defer b.outMu.Unlock()
	b.out.Write(buf.Bytes())
}

func (b *mcpBridge) writeError(id json.RawMessage, code int, msg string) {
	out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": code, "message": msg}})
	b.write(out)
}

// closeSession ends the server-side session when stdin closes.
func (b *mcpBridge) closeSession() {
	b.mu.Lock()
	sid := b.session
	b.mu.Unlock()
	if sid == "" {
		return
	}
	req, err := http.NewRequest(http.MethodDelete, b.url, nil)
	if err != nil {
		return
	}
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("X-API-Key", b.key)
	if resp, err := b.http.Do(req); err == nil {
		resp.Body.Close()
	}
}
