// Package app assembles the appliance: it opens the data directory, loads the secrets,
// and wires the store, the auth resolver, the use cases, the JavaScript sandbox, the
// outbound HTTP client and both front doors into one http.Handler. `steelengine serve`
// and the end-to-end tests run exactly this.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/embed"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/engine/netguard"
	"github.com/steelengine/steelengine/engine/sandbox"
	"github.com/steelengine/steelengine/httpapi"
	"github.com/steelengine/steelengine/mcp"
	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/bolt"
	"github.com/steelengine/steelengine/store/postgres"
)

// Config is everything the appliance can be told.
type Config struct {
	// DataDir holds the bbolt files, or with DatabaseURL only this replica's master key
	// file (when STEELENGINE_MASTER_KEY is not used) and its operator socket.
	DataDir string
	// DatabaseURL (postgres://…) puts the store on PostgreSQL, shared by every replica
	// given the same URL; empty → bbolt files in DataDir.
	DatabaseURL string
	// MasterKey is STEELENGINE_MASTER_KEY (base64, 32 bytes); empty → the key file in
	// the data directory, created on first start.
	MasterKey string
	Logger    *slog.Logger

	HTTP      httpapi.Config
	MCP       mcp.Config
	Dashboard embed.Config
	Core      core.Config
	Auth      auth.Options

	// InProcessSandbox runs JavaScript inside this process (no memory cap); the default
	// is a pool of worker processes of this binary (SandboxArgs, default "sandbox-worker").
	InProcessSandbox bool
	SandboxPath      string
	SandboxArgs      []string
	SandboxEnv       []string
	SandboxMemory    int64
	// SandboxWorkers and SandboxQueue size the worker pool and its wait queue; 0 →
	// sandbox.DefaultPoolSize and 8 per worker.
	SandboxWorkers int
	SandboxQueue   int

	// AllowNetworks lets api blocks reach these otherwise-blocked ranges; AllowLoopback
	// lets them reach 127.0.0.0/8 and ::1.
	AllowNetworks []netip.Prefix
	AllowLoopback bool

	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client
	// (see behindProxies); empty → the peer address is the client.
	TrustedProxies []netip.Prefix

	// Retention prunes each workspace's execution logs by age and/or count, in the
	// background every PruneInterval (default 1 h) once Start has run.
	Retention     store.Retention
	PruneInterval time.Duration
	// JobRescueAfter is how long the heartbeat of a running async job (PostgreSQL only)
	// may lapse before another replica runs the job again (default 30 s).
	JobRescueAfter time.Duration
	// ScheduleInterval is how often schedule triggers and due waits are checked (default
	// 5s): a fire runs at most this late. On PostgreSQL one replica checks per interval.
	ScheduleInterval time.Duration
	// ReplicaHeartbeat is how often a replica on PostgreSQL says it is alive and which
	// runs it holds (default 5s). One silent for three beats is counted out: rate limits
	// are shared among the others at once, and its sync runs and resumes are marked
	// interrupted by another replica within about six more.
	ReplicaHeartbeat time.Duration
}

// App is an open appliance.
type App struct {
	Store    store.Store
	Secrets  *auth.Secrets
	Auth     *auth.Authorizer
	Resolver *auth.Resolver
	Service  *core.Service
	API      *httpapi.API
	MCP      *mcp.Server
	// Dashboard is the web UI at /, /login and /dashboard (assets under /assets).
	Dashboard *embed.Dashboard

	log     *slog.Logger
	cfg     Config
	sandbox sandbox.Runner
	metrics *metrics
	handler http.Handler

	// jobs is the River queue of async runs when the store is PostgreSQL (nil on bbolt).
	jobs *postgres.Queue
	// replicaID names this replica in the replicas table; replicas is how many were
	// seen serving at the last heartbeat (PostgreSQL; rate limits are shared by them).
	replicaID string
	replicas  atomic.Int64

	stopBg context.CancelFunc // background tasks started by Start
	bg     sync.WaitGroup
	// stopBeat ends the replica heartbeat (PostgreSQL), after the runs have drained.
	stopBeat func()
}

// Open opens the data directory and builds the appliance. Close releases it.
func Open(ctx context.Context, cfg Config) (_ *App, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &App{log: log, cfg: cfg, metrics: newMetrics()}
	defer func() {
		if err != nil {
			a.Close(context.Background())
		}
	}()
	st, err := OpenStore(ctx, cfg.DataDir, cfg.DatabaseURL, log)
	if err != nil {
		return nil, err
	}
	a.Store = st
	if a.Secrets, err = loadSecrets(ctx, cfg, st); err != nil {
		return nil, err
	}
	if cfg.InProcessSandbox {
		a.sandbox = sandbox.NewInProcess()
	} else {
		pool, err := sandbox.NewPool(sandbox.PoolOptions{Path: cfg.SandboxPath, Args: cfg.SandboxArgs, Env: cfg.SandboxEnv, MemoryLimitBytes: cfg.SandboxMemory,
			Size: cfg.SandboxWorkers, QueueSize: cfg.SandboxQueue})
		if err != nil {
			return nil, fmt.Errorf("start JavaScript sandbox: %w", err)
		}
		a.sandbox = pool
	}
	httpClient := netguard.NewClient(netguard.Options{AllowCIDRs: cfg.AllowNetworks, AllowLoopback: cfg.AllowLoopback})

	authOpts := cfg.Auth
	if _, ok := st.(*postgres.Store); ok && authOpts.Replicas == nil {
		authOpts.Replicas = func() int { return int(a.replicas.Load()) }
	}
	a.Auth, a.Resolver = newAuth(a.Store, a.Secrets, authOpts, log)

	cc := cfg.Core
	cc.DataDir = cfg.DataDir
	cc.Sandbox = a.sandbox
	cc.HTTPClient = httpClient
	// Model calls stream for minutes: bounded by the run's context, not a client timeout.
	cc.ModelHTTPClient = netguard.NewClient(netguard.Options{AllowCIDRs: cfg.AllowNetworks, AllowLoopback: cfg.AllowLoopback, Timeout: -1})
	cc.OnFinish = a.metrics.observeExecution
	if ps, ok := st.(*postgres.Store); ok {
		longest := cfg.Core.MaxExecutionTimeout
		if longest <= 0 {
			longest = time.Hour // core's default
		}
		qo := postgres.QueueOptions{Workers: cfg.Core.MaxRuns, RescueAfter: cfg.JobRescueAfter,
			LongestRun: max(longest, cfg.Core.ExecutionTimeout), ReplicaAlive: 3 * a.beat(), Logger: log}
		// One replica per interval fires the due schedules (each fire a job) and queues
		// the due waits' resumes (each a job).
		qo.Periodic = append(qo.Periodic, postgres.Periodic{Name: "due", Every: a.scheduleInterval(),
			Run: func(ctx context.Context) error { return a.Service.RunDue(ctx) }})
		if r := cfg.Retention; r.MaxAge > 0 || r.MaxCount > 0 {
			// One replica prunes per period, not every replica at once.
			qo.Periodic = append(qo.Periodic, postgres.Periodic{Name: "retention", Every: a.pruneInterval(),
				Run: func(ctx context.Context) error { a.retainOnce(ctx, r); return nil }})
		}
		if a.jobs, err = postgres.OpenQueue(ctx, ps, qo); err != nil {
			return nil, err
		}
		cc.Jobs = a.jobs
	}
	a.Service = core.New(a.Store, a.Auth, a.Secrets, cc, log)
	a.metrics.watch(a)

	a.API = httpapi.New(cfg.HTTP, httpapi.Deps{Service: a.Service, Resolver: a.Resolver, Logger: log})
	a.MCP = mcp.New(cfg.MCP, mcp.Deps{Service: a.Service, Resolver: a.Resolver, Secrets: a.Secrets, Logger: log})
	if a.Dashboard, err = embed.New(cfg.Dashboard, embed.Deps{Service: a.Service, Resolver: a.Resolver, Logger: log}); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	a.handler = behindProxies(cfg.TrustedProxies, a.routes())
	return a, nil
}

// OpenStore opens the store: PostgreSQL at databaseURL when one is given (several
// replicas may share it), else the bbolt files in dataDir.
func OpenStore(ctx context.Context, dataDir, databaseURL string, log *slog.Logger) (store.Store, error) {
	if databaseURL == "" {
		st, err := bolt.Open(ctx, dataDir, bolt.Options{Logger: log})
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return st, nil
	}
	// The data directory still holds this replica's master key file and operator socket.
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// Beyond the requests, River holds a listener connection and fetches and heartbeats jobs.
	st, err := postgres.OpenStore(ctx, databaseURL, postgres.Options{Logger: log, MaxConns: 24})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// loadSecrets loads the master key. A new one is created only for a store holding no
// secrets: keys sealed under an old one (a restored or copied directory whose master.key
// was left behind, a replica started without the shared key) would all fail.
func loadSecrets(ctx context.Context, cfg Config, st store.Store) (*auth.Secrets, error) {
	var has bool
	if !auth.HasMasterKey(cfg.DataDir, cfg.MasterKey) {
		var err error
		if has, err = st.HasKeys(ctx); err != nil {
			return nil, err
		}
	}
	if cs, ok := st.(auth.CheckStore); ok {
		// Replicas share the database, so the check value lives there, not in one
		// replica's data directory.
		return auth.LoadSharedSecrets(ctx, cfg.DataDir, cfg.MasterKey, cs, has)
	}
	if has {
		return nil, fmt.Errorf("data directory %s holds API keys but no master key (%s is missing and STEELENGINE_MASTER_KEY is not set): supply the master key they were sealed with; a new one would make every key fail",
			cfg.DataDir, auth.MasterKeyFile)
	}
	return auth.LoadSecrets(cfg.DataDir, cfg.MasterKey)
}

// routes puts the three front doors behind one handler: the dashboard's pages, the MCP
// endpoints, and the JSON API for everything else (it answers unknown paths in JSON).
// A paused run's resume link leads browsers to the dashboard (resumeLink).
func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	a.MCP.Mount(mux)
	a.Dashboard.Mount(mux)
	mux.Handle("GET /api/resume/{workflowId}/{executionId}", resumeLink(a.API))
	mux.Handle("/", a.API)
	return httpapi.AccessLog(a.log, httpapi.CloseUnauthenticated(a.metrics.instrument(mux)))
}

// DataDir is the data directory the app was opened on.
func (a *App) DataDir() string { return a.cfg.DataDir }

// Handler serves the HTTP API, the MCP endpoints and health checks.
func (a *App) Handler() http.Handler { return a.handler }

// MetricsHandler serves Prometheus text at /metrics. It is not part of Handler: request
// counts, run outcomes and process figures are for the operator, so `serve` exposes
// them only on a listener of their own (--metrics-addr).
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.handler())
	return mux
}

// Start readies a serving appliance: it settles the runs a previous process left
// unfinished (queued jobs run, interrupted ones are marked failed) and starts log
// retention. Offline commands open the appliance without starting it.
func (a *App) Start(ctx context.Context) error {
	rec, err := a.Service.Recover(ctx)
	if err != nil {
		return fmt.Errorf("recover unfinished executions: %w", err)
	}
	if rec.Resumed > 0 || rec.Interrupted > 0 || rec.Paused > 0 {
		a.log.Warn("settled executions left by the previous process", "resumed_jobs", rec.Resumed, "interrupted", rec.Interrupted,
			"paused_runs", rec.Paused)
	}
	bgCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stopBg = stop
	if ps, ok := a.Store.(*postgres.Store); ok {
		// Another replica asks this one to cancel a sync run or resume it holds.
		ps.OnCancel(func(id string) { a.Service.CancelHeld(id) })
		// Count the replicas before serving, so the first requests get the right share.
		a.replicaID = store.NewID()
		a.heartbeat(ctx, ps)
		// The heartbeat outlives the other background tasks: it lists the runs a
		// stopping replica still finishes, which the others must leave alone.
		beatCtx, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		a.stopBeat = func() { stopBeat(); <-done }
		go func() {
			defer close(done)
			t := time.NewTicker(a.beat())
			defer t.Stop()
			for {
				select {
				case <-beatCtx.Done():
					return
				case <-t.C:
					a.heartbeat(beatCtx, ps)
				}
			}
		}()
	}
	if a.jobs != nil {
		if err := a.jobs.Start(ctx, a.Service.RunJob); err != nil {
			return err
		}
		// Other replicas die too: what their death leaves that the queue cannot see is
		// settled here (see core.Service.Recover), further apart than the beats.
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			a.settle(bgCtx, 3*a.beat())
		}()
	} else {
		// One process: it checks the schedules and waits itself (on PostgreSQL this is a
		// periodic job of the shared queue).
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			a.Service.RunScheduler(bgCtx, a.scheduleInterval())
		}()
	}
	if r := a.cfg.Retention; (r.MaxAge > 0 || r.MaxCount > 0) && a.jobs == nil {
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			a.retain(bgCtx, r, a.pruneInterval())
		}()
	}
	return nil
}

func (a *App) pruneInterval() time.Duration {
	if a.cfg.PruneInterval > 0 {
		return a.cfg.PruneInterval
	}
	return time.Hour
}

func (a *App) scheduleInterval() time.Duration {
	if a.cfg.ScheduleInterval > 0 {
		return a.cfg.ScheduleInterval
	}
	return 5 * time.Second
}

// beat is how often a replica on PostgreSQL says it serves; one silent for three beats
// is counted out.
func (a *App) beat() time.Duration {
	if a.cfg.ReplicaHeartbeat > 0 {
		return a.cfg.ReplicaHeartbeat
	}
	return 5 * time.Second
}

func (a *App) heartbeat(ctx context.Context, ps *postgres.Store) {
	n, cancels, err := ps.Heartbeat(ctx, a.replicaID, a.Service.Held(), 3*a.beat())
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("replica heartbeat", "err", err)
		}
		return // keep the last count
	}
	for _, id := range cancels { // asked while the notification connection was down
		a.Service.CancelHeld(id)
	}
	if old := a.replicas.Swap(int64(n)); old != int64(n) {
		a.log.Info("replicas serving", "count", n)
	}
}

// settle runs Recover every interval until ctx ends.
func (a *App) settle(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rec, err := a.Service.Recover(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("settle unfinished executions", "err", err)
		}
		if rec.Interrupted > 0 {
			a.metrics.settled.Add(float64(rec.Interrupted))
			a.log.Warn("settled runs left by a stopped replica", "interrupted", rec.Interrupted)
		}
	}
}

// Drain stops taking async jobs from the shared queue (PostgreSQL) and finishes the runs
// in flight up to ctx's deadline, then cancels the rest, which are recorded as cancelled
// (core.Service.Close). Close drains too; serve calls it first, while its listeners shut.
func (a *App) Drain(ctx context.Context) error {
	var errs []error
	if a.jobs != nil {
		errs = append(errs, a.jobs.Stop(ctx))
	}
	if a.Service != nil {
		errs = append(errs, a.Service.Close(ctx))
	}
	return errors.Join(errs...)
}

// retain prunes execution logs now and then every interval (bbolt; on PostgreSQL one
// replica per interval does, as a periodic job of the shared queue).
func (a *App) retain(ctx context.Context, r store.Retention, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		a.retainOnce(ctx, r)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// retainOnce prunes execution logs (and agent memory as old) by r.
func (a *App) retainOnce(ctx context.Context, r store.Retention) {
	n, err := a.Store.Logs().Retain(ctx, r, time.Now())
	switch {
	case err != nil && ctx.Err() == nil:
		a.log.Warn("prune execution logs", "err", err, "deleted", n)
	case n > 0:
		a.log.Info("pruned execution logs", "deleted", n, "max_age", r.MaxAge.String(), "max_count", r.MaxCount)
	}
	if r.MaxAge > 0 {
		// Agent conversations follow the log age: memory idle longer than that goes.
		n, err := a.Store.PruneConversations(ctx, time.Now().Add(-r.MaxAge))
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("prune agent memory", "err", err)
		case n > 0:
			a.log.Info("pruned agent memory", "conversations", n, "max_age", r.MaxAge.String())
		}
	}
}

// Close finishes async runs (up to ctx's deadline, then cancels them and records them
// as cancelled), flushes last-used times, audit events and pending log writes, stops
// the sandbox and closes the store.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	if a.stopBg != nil {
		a.stopBg()
		a.bg.Wait()
	}
	if a.MCP != nil {
		a.MCP.Close()
	}
	errs = append(errs, a.Drain(ctx))
	if a.stopBeat != nil {
		a.stopBeat()
	}
	if ps, ok := a.Store.(*postgres.Store); ok && a.replicaID != "" {
		// The others count this replica out at their next heartbeat, not three beats later.
		errs = append(errs, ps.Leave(context.WithoutCancel(ctx), a.replicaID))
	}
	if a.Resolver != nil {
		// The flush is one short transaction; it runs even when the shutdown deadline
		// has passed, or last-used times and audit events would be lost.
		errs = append(errs, a.Resolver.Close(context.WithoutCancel(ctx)))
	}
	if c, ok := a.sandbox.(interface{ Close() error }); ok {
		errs = append(errs, c.Close())
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	return errors.Join(errs...)
}

var _ engine.ScriptRunner = sandbox.NewInProcess()

func newAuth(st store.Store, sec *auth.Secrets, opts auth.Options, log *slog.Logger) (*auth.Authorizer, *auth.Resolver) {
	az := auth.NewAuthorizer(st)
	return az, auth.NewResolver(st, sec, az, opts, log)
}
