package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// ExternalMCPServerInfo is an external MCP server as front doors show it: header names,
// never their values.
type ExternalMCPServerInfo struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspaceId"`
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	HeaderNames []string  `json:"headerNames"`
	CreatedAt   time.Time `json:"createdAt"`
}

func externalMCPInfo(m *store.ExternalMCPServer) *ExternalMCPServerInfo {
	names := m.HeaderNames
	if names == nil {
		names = []string{}
	}
	return &ExternalMCPServerInfo{ID: m.ID, WorkspaceID: m.WorkspaceID, Name: m.Name, URL: m.URL, HeaderNames: names, CreatedAt: m.CreatedAt}
}

const (
	externalMCPTimeout  = 2 * time.Minute
	maxExternalMCPBytes = 8 << 10
)

// AddExternalMCPServer stores an MCP server (streamable HTTP) whose tools wsID's agents
// may call; admin on the workspace. Header values (tokens) are sealed and never
// returned.
func (s *Service) AddExternalMCPServer(ctx context.Context, p *auth.Principal, wsID, name, rawURL string, headers map[string]string) (*ExternalMCPServerInfo, error) {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelAdmin); err != nil {
		return nil, err
	}
	m := &store.ExternalMCPServer{ID: store.NewID(), WorkspaceID: wsID, Name: strings.TrimSpace(name), URL: strings.TrimSpace(rawURL), CreatedBy: p.UserID}
	if !providerName.MatchString(m.Name) {
		return nil, newError(http.StatusBadRequest, "invalid_mcp_server", "Name must be 1-64 characters of letters, digits, '.', '_' or '-'")
	}
	if u, err := url.Parse(m.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// Credentials go in the sealed headers: a URL is shown to readers and stored in the clear.
		return nil, newError(http.StatusBadRequest, "invalid_mcp_server", "URL must be an http(s) URL without credentials, query or fragment; put tokens in headers")
	}
	if len(headers) > 0 {
		raw, _ := json.Marshal(headers)
		if len(raw) > maxExternalMCPBytes {
			return nil, newError(http.StatusBadRequest, "invalid_mcp_server", "Headers are larger than %d bytes", maxExternalMCPBytes)
		}
		for k := range headers {
			if strings.TrimSpace(k) == "" || strings.ContainsAny(k, ": \r\n") {
				return nil, newError(http.StatusBadRequest, "invalid_mcp_server", "Header name %q is not valid", k)
			}
			m.HeaderNames = append(m.HeaderNames, k)
		}
		slices.Sort(m.HeaderNames)
		ct, err := s.sec.SealMCPHeaders(wsID, m.ID, raw)
		if err != nil {
			return nil, fmt.Errorf("seal MCP headers: %w", err)
		}
		m.HeadersSealed = ct
	}
	if err := s.st.PutExternalMCPServer(ctx, m); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, newError(http.StatusConflict, "conflict", "An external MCP server named %q already exists in this workspace", m.Name)
		}
		return nil, mapStoreErr(err, "Workspace not found")
	}
	return externalMCPInfo(m), nil
}

// ListExternalMCPServers lists wsID's external MCP servers; read on the workspace.
func (s *Service) ListExternalMCPServers(ctx context.Context, p *auth.Principal, wsID string) ([]*ExternalMCPServerInfo, error) {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelRead); err != nil {
		return nil, err
	}
	ms, err := s.st.ExternalMCPServers(ctx, wsID)
	if err != nil {
		return nil, err
	}
	out := make([]*ExternalMCPServerInfo, 0, len(ms))
	for _, m := range ms {
		out = append(out, externalMCPInfo(m))
	}
	return out, nil
}

// RemoveExternalMCPServer deletes one (by id or name); admin on the workspace.
func (s *Service) RemoveExternalMCPServer(ctx context.Context, p *auth.Principal, wsID, ref string) error {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelAdmin); err != nil {
		return err
	}
	m, err := s.findExternalMCP(ctx, wsID, ref)
	if err != nil {
		return err
	}
	return mapStoreErr(s.st.DeleteExternalMCPServer(ctx, wsID, m.ID), "External MCP server not found")
}

func (s *Service) findExternalMCP(ctx context.Context, wsID, ref string) (*store.ExternalMCPServer, error) {
	ms, err := s.st.ExternalMCPServers(ctx, wsID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.ID == ref || strings.EqualFold(m.Name, ref) {
			return m, nil
		}
	}
	return nil, newError(http.StatusNotFound, "not_found", "External MCP server not found")
}

// mcpCaller calls tools of wsID's external MCP servers over streamable HTTP through
// the SSRF-guarded client: one session per call (initialize, call, close).
func (s *Service) mcpCaller(wsID string) engine.MCPCaller {
	return func(ctx context.Context, ref, tool string, args map[string]any) (any, error) {
		m, err := s.findExternalMCP(ctx, wsID, ref)
		if err != nil {
			return nil, fmt.Errorf("external MCP server %q is not configured in this workspace", ref)
		}
		headers := map[string]string{}
		if raw, err := s.sec.OpenMCPHeaders(m); err != nil {
			return nil, fmt.Errorf("open headers of MCP server %s: %w", m.Name, err)
		} else if raw != nil {
			if err := json.Unmarshal(raw, &headers); err != nil {
				return nil, fmt.Errorf("headers of MCP server %s: %w", m.Name, err)
			}
		}
		ctx, cancel := context.WithTimeout(ctx, externalMCPTimeout)
		defer cancel()
		opts := []transport.StreamableHTTPCOption{transport.WithHTTPHeaders(headers)}
		if hc := s.modelClient(); hc != nil {
			opts = append(opts, transport.WithHTTPBasicClient(hc))
		}
		c, err := client.NewStreamableHttpClient(m.URL, opts...)
		if err != nil {
			return nil, fmt.Errorf("MCP server %s: %w", m.Name, err)
		}
		defer c.Close()
		if err := c.Start(ctx); err != nil {
			return nil, fmt.Errorf("MCP server %s: %w", m.Name, err)
		}
		init := mcp.InitializeRequest{}
		init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
		init.Params.ClientInfo = mcp.Implementation{Name: "steelengine", Version: "1"}
		if _, err := c.Initialize(ctx, init); err != nil {
			return nil, fmt.Errorf("MCP server %s: initialize: %w", m.Name, err)
		}
		req := mcp.CallToolRequest{}
		req.Params.Name = tool
		req.Params.Arguments = args
		res, err := c.CallTool(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("MCP server %s: call %s: %w", m.Name, tool, err)
		}
		var text []string
		for _, ct := range res.Content {
			if tc, ok := mcp.AsTextContent(ct); ok {
				text = append(text, tc.Text)
			}
		}
		if res.IsError {
			return nil, fmt.Errorf("MCP tool %s failed: %s", tool, strings.Join(text, "\n"))
		}
		if res.StructuredContent != nil {
			return res.StructuredContent, nil
		}
		return strings.Join(text, "\n"), nil
	}
}

// mcpHeaderSecrets opens wsID's external MCP server headers at run start: their values
// are secrets redacted from the run's logs, spans and errors.
func (s *Service) mcpHeaderSecrets(ctx context.Context, wsID string) ([]string, error) {
	ms, err := s.st.ExternalMCPServers(ctx, wsID)
	if err != nil {
		return nil, fmt.Errorf("load external MCP servers: %w", err)
	}
	var out []string
	for _, m := range ms {
		raw, err := s.sec.OpenMCPHeaders(m)
		if err != nil || raw == nil {
			continue // a header that does not open fails the call that needs it, with its own error
		}
		var h map[string]string
		if json.Unmarshal(raw, &h) == nil {
			for _, v := range h {
				out = append(out, v)
				if _, tok, ok := strings.Cut(v, " "); ok {
					out = append(out, tok) // "Bearer <token>": the token alone too
				}
			}
		}
	}
	return out, nil
}
