package core

import (
	"sync"

	"github.com/steelengine/steelengine/engine"
)

// runCache keeps what every run reads before it starts, the environment of its workspace
// and acting user and the model endpoints of its workspace (with the secrets both add),
// stamped with the store's config epoch, which every change to environment variables,
// model providers or external MCP servers moves (on any replica; on PostgreSQL the others
// within a second). A run on a warm cache reads none of them from the store: on
// PostgreSQL that is three round trips fewer per run. The values are shared by the runs
// that read them and never changed; the secret lists are capped so an append copies.
type runCache struct {
	mu     sync.Mutex
	epoch  uint64
	env    map[string]cachedEnv
	models map[string]cachedModels
}

type cachedEnv struct {
	env     map[string]string
	secrets []string
}

type cachedModels struct {
	resolve engine.ModelResolver
	keys    []string
}

// maxRunCache bounds the entries kept (workspaces × acting users): past it the cache
// starts over.
const maxRunCache = 4096

// cachedLoad returns the entry under key in the map pick selects, loading and keeping it
// when missing. epoch must be read before load runs, so what load reads is at least as
// new as epoch; an entry is kept only while the cache is still at that epoch.
func cachedLoad[V any](c *runCache, epoch uint64, pick func(*runCache) *map[string]V, key string, load func() (V, error)) (V, error) {
	c.mu.Lock()
	if epoch > c.epoch || len(c.env)+len(c.models) >= maxRunCache {
		c.epoch, c.env, c.models = epoch, nil, nil
	}
	if epoch == c.epoch {
		if v, ok := (*pick(c))[key]; ok {
			c.mu.Unlock()
			return v, nil
		}
	}
	c.mu.Unlock()
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if epoch == c.epoch {
		m := pick(c)
		if *m == nil {
			*m = make(map[string]V)
		}
		(*m)[key] = v
	}
	c.mu.Unlock()
	return v, nil
}
