package core

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// planCache keeps one compiled plan per deployed version. Deployed versions are
// immutable, so an entry never goes stale; it is only dropped to bound memory.
type planCache struct {
	mu    sync.Mutex
	plans map[planKey]*compiled
}

type planKey struct {
	workflowID string
	version    uint32
	start      string // trigger block of schedule and webhook runs; "" for the API start
}

// compiled is a deployed version ready to run, with what front doors show about it.
type compiled struct {
	plan     *engine.Plan
	wf       *engine.Workflow
	inputs   []engine.InputField
	outbound bool
}

const maxCachedPlans = 1024

func (c *planCache) get(dep *store.Deployment) (*compiled, error) { return c.getFrom(dep, "") }

// getFrom is get for runs that start at trigger block start ("" is the API start).
func (c *planCache) getFrom(dep *store.Deployment, start string) (*compiled, error) {
	k := planKey{dep.WorkflowID, dep.Version, start}
	c.mu.Lock()
	p, ok := c.plans[k]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := compileDefinitionFrom(dep.Definition, start)
	if err != nil {
		return nil, fmt.Errorf("compile workflow %s version %d: %w", dep.WorkflowID, dep.Version, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plans == nil || len(c.plans) >= maxCachedPlans {
		c.plans = map[planKey]*compiled{}
	}
	c.plans[k] = p
	return p, nil
}

func compileDefinition(def json.RawMessage) (*compiled, error) { return compileDefinitionFrom(def, "") }

func compileDefinitionFrom(def json.RawMessage, start string) (*compiled, error) {
	wf, err := engine.Import(def)
	if err != nil {
		return nil, err
	}
	plan, err := engine.Compile(wf, engine.CompileOptions{StartBlockID: start})
	if err != nil {
		return nil, err
	}
	return &compiled{plan: plan, wf: wf, inputs: engine.InputFormat(wf), outbound: engine.MakesOutboundCalls(wf)}, nil
}
