package core

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// planCache keeps one compiled plan per deployed version. Deployed versions are
// immutable, so an entry never goes stale; it is only dropped to bound memory.
//
// It also keeps each workflow's active version, stamped with the store's workflow epoch
// (bumped after every commit that changes a workflow or deployment), so an execute
// request reads neither bbolt nor JSON while nothing changed: one atomic load and two
// map lookups. An entry stamped with an older epoch is read again.
type planCache struct {
	mu     sync.RWMutex
	plans  map[planKey]*compiled
	active map[string]activeEntry // workflow id → its active version at epoch
}

// activeEntry is a workflow (without its draft) and its active deployed version.
type activeEntry struct {
	epoch uint64
	wf    *store.Workflow
	dep   *store.Deployment // nil: not deployed
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
	c.mu.RLock()
	p, ok := c.plans[k]
	c.mu.RUnlock()
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

// activeDeployment returns workflow wfID and its active deployed version (nil when it
// is not deployed). Both are shared: callers must not modify them; the workflow has no
// Draft.
func (s *Service) activeDeployment(ctx context.Context, wfID string) (*store.Workflow, *store.Deployment, error) {
	c := &s.plan
	// The epoch is read before the store: a change committing meanwhile bumps it after
	// its commit, so what is cached below is stale at the latest on the next request.
	epoch := s.st.WorkflowEpoch()
	c.mu.RLock()
	e, ok := c.active[wfID]
	c.mu.RUnlock()
	if ok && e.epoch == epoch {
		return e.wf, e.dep, nil
	}
	wf, dep, err := s.st.ActiveDeployment(ctx, wfID)
	if err != nil {
		return nil, nil, err
	}
	light := *wf
	light.Draft = nil
	e = activeEntry{epoch: epoch, wf: &light, dep: dep}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active == nil || len(c.active) >= maxCachedPlans {
		c.active = map[string]activeEntry{}
	}
	c.active[wfID] = e
	return e.wf, e.dep, nil
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
