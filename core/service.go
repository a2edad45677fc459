// Package core holds the use cases that more than one front door needs: run a workflow
// as a principal and log it, read the logs and metrics a principal may see, import and
// deploy workflows, and list the workflows a principal may execute. httpapi, mcp and the
// CLI only translate their protocol to these calls and back; every access decision in
// here is delegated to auth.
package core

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/store"
)

// Config tunes the service.
type Config struct {
	// ExecutionTimeout bounds one run (default 5 minutes); a request may ask for less.
	ExecutionTimeout time.Duration
	// MaxExecutionTimeout caps what a request may ask for (default 1 hour).
	MaxExecutionTimeout time.Duration
	// Concurrency bounds blocks running at once within one run.
	Concurrency int
	// MaxLoopIterations caps each loop and parallel (default 1000).
	MaxLoopIterations int
	// Limits is each run's budget (block executions, retained bytes).
	Limits engine.Limits
	// MaxRunsPerWorkspace caps a workspace's runs in flight, sync and async (default
	// 32); beyond it Execute answers 429 with Retry-After.
	MaxRunsPerWorkspace int
	// MaxRuns caps runs in flight on the server (default 256); beyond it Execute
	// answers 503 with Retry-After.
	MaxRuns int
	// MaxInputBytesInFlight caps the inputs (JSON bytes) of all runs in flight
	// together (default 16 MiB); beyond it Execute answers 503 with Retry-After, except
	// to a run that would be alone.
	MaxInputBytesInFlight int64
	// MaxCallDepth caps how deeply workflows may call each other through api blocks
	// (the X-SteelEngine-Via chain, default 10).
	MaxCallDepth int
	// Sandbox runs function and condition blocks.
	Sandbox engine.ScriptRunner
	// HTTPClient makes api block and agent HTTP tool calls (an SSRF-guarded client).
	HTTPClient *http.Client
	// ModelHTTPClient calls model providers (SSRF-guarded, bounded by context rather
	// than a client timeout); nil → HTTPClient.
	ModelHTTPClient *http.Client
	// Prices extends the model price table used for cost (USD per million tokens).
	Prices map[string]engine.Price
	// OnFinish observes every recorded run (metrics); it must be quick.
	OnFinish func(*store.Execution)
	// Now is the schedules' clock (default time.Now); tests inject one.
	Now func() time.Time
	// Version is the appliance's version, recorded in backups.
	Version string
	// DataDir is the data directory (the master key check goes into backups).
	DataDir string
	// Jobs is the queue async runs go through when replicas share a database; nil runs
	// them in this process (see Jobs).
	Jobs store.Jobs
}

// Service runs the use cases over the store, the auth decision and the engine.
type Service struct {
	st   store.Store
	az   *auth.Authorizer
	sec  *auth.Secrets
	cfg  Config
	log  *slog.Logger
	plan planCache
	// owners caches billing owners (workspace id → billingOwner); bounded by the
	// number of workspaces.
	owners sync.Map
	trig   triggerIndex
	runs   runCache

	mu     sync.Mutex
	active map[string]*activeRun // execution id → run in flight
	perWS  map[string]int        // workspace id → runs in flight
	// inputBytes is the input size of the runs in flight (admission, see admitLocked).
	inputBytes int64
	runIDs     map[string]bool // workflowID/runID claimed by runs in flight
	// closing: the shutdown deadline passed; runs starting now are cancelled at once.
	closing bool
	// suspects are the runs the last shared settle found held by nobody (recoverShared).
	suspects map[string]bool

	wg sync.WaitGroup // async runs
}

// New returns a Service.
func New(st store.Store, az *auth.Authorizer, sec *auth.Secrets, cfg Config, log *slog.Logger) *Service {
	if cfg.ExecutionTimeout <= 0 {
		cfg.ExecutionTimeout = 5 * time.Minute
	}
	if cfg.MaxExecutionTimeout <= 0 {
		cfg.MaxExecutionTimeout = time.Hour
	}
	if cfg.MaxExecutionTimeout < cfg.ExecutionTimeout {
		cfg.MaxExecutionTimeout = cfg.ExecutionTimeout
	}
	if cfg.MaxRunsPerWorkspace <= 0 {
		cfg.MaxRunsPerWorkspace = DefaultMaxRunsPerWorkspace
	}
	if cfg.MaxRuns <= 0 {
		cfg.MaxRuns = DefaultMaxRuns
	}
	if cfg.MaxInputBytesInFlight <= 0 {
		cfg.MaxInputBytesInFlight = DefaultMaxInputBytesInFlight
	}
	if cfg.MaxCallDepth <= 0 {
		cfg.MaxCallDepth = DefaultMaxCallDepth
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{st: st, az: az, sec: sec, cfg: cfg, log: log,
		active: map[string]*activeRun{}, perWS: map[string]int{}, runIDs: map[string]bool{}}
}

// Ready reports whether the store serves reads and takes writes (readiness probes):
// an error wrapping store.ErrNoSpace when the disk is full.
func (s *Service) Ready(ctx context.Context) error { return s.st.Ping(ctx) }

// Store returns the underlying store (for front doors that list plain records).
func (s *Service) Store() store.Store { return s.st }

// Close waits for runs in flight (sync and async) to finish and be recorded, up to
// ctx's deadline; then it cancels the rest, which are recorded as cancelled, and runs
// that start later are cancelled at once. It returns when every async run is recorded.
// Calling it again is harmless.
func (s *Service) Close(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.activeRuns() > 0 {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.closing = true
			for _, r := range s.active {
				r.cancel(errShutdown)
			}
			s.mu.Unlock()
			s.wg.Wait()
			return nil
		case <-t.C:
		}
	}
	s.wg.Wait()
	return nil
}

func (s *Service) activeRuns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active)
}

var errShutdown = errors.New("server shutting down")
