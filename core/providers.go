package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// ModelProviderInput is what a caller sets on a workspace's model provider.
type ModelProviderInput struct {
	Name         string
	Kind         string // openai | anthropic
	BaseURL      string // empty → the kind's public API
	APIKey       string
	DefaultModel string
	Models       []string // glob patterns routed to this provider, e.g. claude-*
	IsDefault    bool
	Timeout      time.Duration
}

// ModelProviderInfo is a provider as front doors show it: never the key, only whether
// one is set.
type ModelProviderInfo struct {
	ID           string    `json:"id"`
	WorkspaceID  string    `json:"workspaceId"`
	Name         string    `json:"name"`
	Kind         string    `json:"kind"`
	BaseURL      string    `json:"baseUrl"`
	DefaultModel string    `json:"defaultModel,omitempty"`
	Models       []string  `json:"models"`
	IsDefault    bool      `json:"isDefault"`
	TimeoutMs    int64     `json:"timeoutMs,omitempty"`
	HasAPIKey    bool      `json:"hasApiKey"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// ModelProviderTest is the result of a test call to a provider.
type ModelProviderTest struct {
	OK        bool   `json:"ok"`
	Model     string `json:"model,omitempty"`
	LatencyMs int64  `json:"latencyMs"`
	Error     string `json:"error,omitempty"`
}

var providerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

const (
	maxProviderTimeout = 30 * time.Minute
	maxProviderPattern = 32
	maxProviderKey     = 4096
)

var defaultBaseURL = map[string]string{
	engine.ProviderOpenAI:    "https://api.openai.com/v1",
	engine.ProviderAnthropic: "https://api.anthropic.com",
}

func providerInfo(p *store.ModelProvider) *ModelProviderInfo {
	models := p.Models
	if models == nil {
		models = []string{}
	}
	return &ModelProviderInfo{ID: p.ID, WorkspaceID: p.WorkspaceID, Name: p.Name, Kind: p.Kind, BaseURL: p.BaseURL,
		DefaultModel: p.DefaultModel, Models: models, IsDefault: p.IsDefault, TimeoutMs: p.TimeoutMs,
		HasAPIKey: len(p.KeySealed) > 0, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func badProvider(format string, args ...any) error {
	return newError(http.StatusBadRequest, "invalid_provider", format, args...)
}

// AddModelProvider stores a model provider for wsID; admin on the workspace. The key is
// sealed with the master key and never returned.
func (s *Service) AddModelProvider(ctx context.Context, p *auth.Principal, wsID string, in ModelProviderInput) (*ModelProviderInfo, error) {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelAdmin); err != nil {
		return nil, err
	}
	rec := &store.ModelProvider{ID: store.NewID(), WorkspaceID: wsID, Name: strings.TrimSpace(in.Name),
		Kind: strings.ToLower(strings.TrimSpace(in.Kind)), BaseURL: strings.TrimRight(strings.TrimSpace(in.BaseURL), "/"),
		DefaultModel: strings.TrimSpace(in.DefaultModel), IsDefault: in.IsDefault, TimeoutMs: in.Timeout.Milliseconds(), CreatedBy: p.UserID}
	if !providerName.MatchString(rec.Name) {
		return nil, badProvider("Provider name must be 1-64 characters of letters, digits, '.', '_' or '-' (it is the model prefix, as in %s/model)", "name")
	}
	if _, ok := defaultBaseURL[rec.Kind]; !ok {
		return nil, badProvider("Provider kind must be %q (OpenAI-compatible chat completions) or %q (Anthropic Messages API)", engine.ProviderOpenAI, engine.ProviderAnthropic)
	}
	if rec.BaseURL == "" {
		rec.BaseURL = defaultBaseURL[rec.Kind]
	}
	if u, err := url.Parse(rec.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, badProvider("Base URL must be an http(s) URL without credentials or query, e.g. %s", defaultBaseURL[rec.Kind])
	}
	if in.Timeout < 0 || in.Timeout > maxProviderTimeout {
		return nil, badProvider("Timeout must be between 0 (default) and %s", maxProviderTimeout)
	}
	if len(in.Models) > maxProviderPattern {
		return nil, badProvider("At most %d model patterns", maxProviderPattern)
	}
	for _, m := range in.Models {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if _, err := path.Match(m, ""); err != nil || len(m) > 128 {
			return nil, badProvider("Model pattern %q is not a valid glob", m)
		}
		rec.Models = append(rec.Models, m)
	}
	if len(in.APIKey) > maxProviderKey {
		return nil, badProvider("API key is longer than %d bytes", maxProviderKey)
	}
	if k := strings.TrimSpace(in.APIKey); k != "" {
		ct, err := s.sec.SealProviderKey(wsID, rec.ID, k)
		if err != nil {
			return nil, fmt.Errorf("seal provider key: %w", err)
		}
		rec.KeySealed = ct
	}
	if err := s.st.PutModelProvider(ctx, rec); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, newError(http.StatusConflict, "conflict", "A model provider named %q already exists in this workspace", rec.Name)
		}
		return nil, mapStoreErr(err, "Workspace not found")
	}
	return providerInfo(rec), nil
}

// ListModelProviders lists wsID's providers; read on the workspace.
func (s *Service) ListModelProviders(ctx context.Context, p *auth.Principal, wsID string) ([]*ModelProviderInfo, error) {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelRead); err != nil {
		return nil, err
	}
	ps, err := s.st.ModelProviders(ctx, wsID)
	if err != nil {
		return nil, err
	}
	out := make([]*ModelProviderInfo, 0, len(ps))
	for _, mp := range ps {
		out = append(out, providerInfo(mp))
	}
	return out, nil
}

// RemoveModelProvider deletes a provider of wsID; admin on the workspace. ref is the
// provider's id or name.
func (s *Service) RemoveModelProvider(ctx context.Context, p *auth.Principal, wsID, ref string) error {
	mp, err := s.providerAt(ctx, p, wsID, ref, store.LevelAdmin)
	if err != nil {
		return err
	}
	return mapStoreErr(s.st.DeleteModelProvider(ctx, wsID, mp.ID), "Model provider not found")
}

// TestModelProvider sends a one-line request to the provider (model, else its default
// model) and reports whether it answered; admin on the workspace, since it spends the
// workspace's key.
func (s *Service) TestModelProvider(ctx context.Context, p *auth.Principal, wsID, ref, model string) (*ModelProviderTest, error) {
	mp, err := s.providerAt(ctx, p, wsID, ref, store.LevelAdmin)
	if err != nil {
		return nil, err
	}
	ep, err := s.endpointFor(mp, strings.TrimSpace(model))
	if err != nil {
		return nil, err
	}
	if ep.Model == "" {
		return nil, badProvider("Provider %s has no default model: name one to test", mp.Name)
	}
	start := time.Now()
	got, err := engine.TestModel(ctx, s.modelClient(), ep)
	res := &ModelProviderTest{OK: err == nil, Model: got, LatencyMs: time.Since(start).Milliseconds()}
	if err != nil {
		res.Error = err.Error()
	}
	return res, nil
}

func (s *Service) providerAt(ctx context.Context, p *auth.Principal, wsID, ref string, need store.Level) (*store.ModelProvider, error) {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), need); err != nil {
		return nil, err
	}
	ps, err := s.st.ModelProviders(ctx, wsID)
	if err != nil {
		return nil, err
	}
	for _, mp := range ps {
		if mp.ID == ref || strings.EqualFold(mp.Name, ref) {
			return mp, nil
		}
	}
	return nil, newError(http.StatusNotFound, "not_found", "Model provider not found")
}

func (s *Service) modelClient() *http.Client {
	if s.cfg.ModelHTTPClient != nil {
		return s.cfg.ModelHTTPClient
	}
	return s.cfg.HTTPClient
}

func (s *Service) endpointFor(mp *store.ModelProvider, model string) (*engine.ModelEndpoint, error) {
	key, err := s.sec.OpenProviderKey(mp)
	if err != nil {
		return nil, fmt.Errorf("open key of model provider %s: %w", mp.Name, err)
	}
	if model == "" {
		model = mp.DefaultModel
	}
	return &engine.ModelEndpoint{Provider: mp.Name, Kind: mp.Kind, BaseURL: mp.BaseURL, APIKey: key, Model: model,
		Timeout: time.Duration(mp.TimeoutMs) * time.Millisecond}, nil
}

// routeModel picks the provider for a block's model: an explicit "<provider>/" prefix,
// else the first provider whose patterns match, else the workspace default (or the only
// provider). It returns the model name to send (prefix removed).
func routeModel(ps []*store.ModelProvider, model string) (*store.ModelProvider, string, error) {
	if len(ps) == 0 {
		return nil, "", fmt.Errorf("no model provider is configured for this workspace (model %q): add one with `steelengine providers add`", model)
	}
	if i := strings.Index(model, "/"); i > 0 {
		for _, mp := range ps {
			if strings.EqualFold(mp.Name, model[:i]) {
				return mp, model[i+1:], nil
			}
		}
	}
	if model != "" {
		lm := strings.ToLower(model)
		for _, mp := range ps {
			for _, pat := range mp.Models {
				if ok, _ := path.Match(strings.ToLower(pat), lm); ok {
					return mp, model, nil
				}
			}
		}
	}
	for _, mp := range ps {
		if mp.IsDefault {
			return mp, model, nil
		}
	}
	if len(ps) == 1 {
		return ps[0], model, nil
	}
	return nil, "", fmt.Errorf("no model provider matches model %q: give a provider a matching pattern or make one the default", model)
}

// modelResolver loads wsID's providers (once per config epoch: runCache) and opens their keys, which
// (with the external MCP servers' header values) become secrets redacted from the
// run's logs.
func (s *Service) modelResolver(ctx context.Context, wsID string) (engine.ModelResolver, []string, error) {
	m, err := cachedLoad(&s.runs, s.st.ConfigEpoch(), func(c *runCache) *map[string]cachedModels { return &c.models }, wsID,
		func() (cachedModels, error) {
			resolve, keys, err := s.loadModels(ctx, wsID)
			return cachedModels{resolve: resolve, keys: keys[:len(keys):len(keys)]}, err
		})
	return m.resolve, m.keys, err
}

// loadModels reads the providers and external MCP servers modelResolver caches.
func (s *Service) loadModels(ctx context.Context, wsID string) (engine.ModelResolver, []string, error) {
	ps, err := s.st.ModelProviders(ctx, wsID)
	if err != nil {
		return nil, nil, fmt.Errorf("load model providers: %w", err)
	}
	eps := make(map[string]*engine.ModelEndpoint, len(ps))
	var keys []string
	for _, mp := range ps {
		ep, err := s.endpointFor(mp, "")
		if err != nil {
			return nil, nil, err
		}
		eps[mp.ID] = ep
		if ep.APIKey != "" {
			keys = append(keys, ep.APIKey)
		}
	}
	mcpSecrets, err := s.mcpHeaderSecrets(ctx, wsID)
	if err != nil {
		return nil, nil, err
	}
	keys = append(keys, mcpSecrets...)
	return func(_ context.Context, model string) (*engine.ModelEndpoint, error) {
		mp, name, err := routeModel(ps, model)
		if err != nil {
			return nil, err
		}
		ep := *eps[mp.ID]
		if name != "" {
			ep.Model = name
		}
		return &ep, nil
	}, keys, nil
}
