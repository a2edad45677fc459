package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

func serveFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", EnvVars: []string{"STEELENGINE_ADDR"}, Usage: "listen address (host:port; port 0 picks a free one)"},
		&cli.StringFlag{Name: "metrics-addr", EnvVars: []string{"STEELENGINE_METRICS_ADDR"}, Usage: "serve Prometheus /metrics on this separate address (host:port); default off"},
		&cli.StringFlag{Name: "admin-email", Value: "admin@localhost", EnvVars: []string{"STEELENGINE_ADMIN_EMAIL"}, Usage: "email of the admin user created on first start"},
		&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, EnvVars: []string{"STEELENGINE_SHUTDOWN_TIMEOUT"}, Usage: "deadline for the whole shutdown: in-flight runs still going near it are cancelled and recorded as cancelled"},
		&cli.IntFlag{Name: "max-connections", EnvVars: []string{"STEELENGINE_MAX_CONNECTIONS"}, Usage: "concurrent HTTP connections served (default 4096, less if the open-file limit is low); a few more are kept for health checks"},
		&cli.StringFlag{Name: "retention-age", EnvVars: []string{"STEELENGINE_RETENTION_AGE"}, Usage: "delete execution logs older than this (e.g. 30d, 12h); default keep forever"},
		&cli.IntFlag{Name: "retention-count", EnvVars: []string{"STEELENGINE_RETENTION_COUNT"}, Usage: "keep at most this many execution logs per workspace; default no limit"},
		&cli.StringFlag{Name: "public-url", EnvVars: []string{"STEELENGINE_PUBLIC_URL"}, Usage: "external base URL when behind a reverse proxy (status links, MCP Host/Origin checks)"},
		&cli.StringSliceFlag{Name: "allowed-origin", EnvVars: []string{"STEELENGINE_ALLOWED_ORIGINS"}, Usage: "browser origin allowed for CORS and MCP (repeatable; default none)"},
		&cli.DurationFlag{Name: "job-rescue-after", Value: 30 * time.Second, EnvVars: []string{"STEELENGINE_JOB_RESCUE_AFTER"}, Usage: "with --database-url: how long a running async job's heartbeat may lapse before another replica runs it again"},
		&cli.DurationFlag{Name: "replica-heartbeat", Value: 5 * time.Second, EnvVars: []string{"STEELENGINE_REPLICA_HEARTBEAT"}, Usage: "with --database-url: how often a replica says it is alive; one silent for three beats is counted out and the sync runs it held are marked interrupted by the others"},
		&cli.StringSliceFlag{Name: "trusted-proxy", EnvVars: []string{"STEELENGINE_TRUSTED_PROXIES"}, Usage: "CIDR of a reverse proxy whose X-Forwarded-For names the client (repeatable; default none)"},
	}
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:   "serve",
		Usage:  "run the HTTP API and MCP server (the default command)",
		Flags:  serveFlags(),
		Action: serveAction,
	}
}

func serveAction(c *cli.Context) error {
	log := newLogger(c)
	tuneGC()
	addr := c.String("addr")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usagef("invalid --addr %q: want host:port, e.g. 127.0.0.1:8080 or :0", addr)
	}
	metricsAddr := c.String("metrics-addr")
	if metricsAddr != "" {
		if _, _, err := net.SplitHostPort(metricsAddr); err != nil {
			return usagef("invalid --metrics-addr %q: want host:port, e.g. 127.0.0.1:9090", metricsAddr)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := appConfig(c)
	cfg.HTTP.PublicURL = c.String("public-url")
	cfg.HTTP.AllowedOrigins = c.StringSlice("allowed-origin")
	cfg.MCP.PublicURL = c.String("public-url")
	cfg.MCP.AllowedOrigins = c.StringSlice("allowed-origin")
	cfg.Dashboard.PublicURL = c.String("public-url")
	for _, v := range c.StringSlice("trusted-proxy") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return usagef("invalid --trusted-proxy %q: want an address or CIDR such as 127.0.0.1/32", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	retention, err := retentionFlags(c)
	if err != nil {
		return err
	}
	cfg.Retention = retention
	if cfg.JobRescueAfter = c.Duration("job-rescue-after"); cfg.JobRescueAfter < time.Second {
		return usagef("invalid --job-rescue-after %s: must be at least 1s", cfg.JobRescueAfter)
	}
	if cfg.ReplicaHeartbeat = c.Duration("replica-heartbeat"); cfg.ReplicaHeartbeat < 100*time.Millisecond {
		return usagef("invalid --replica-heartbeat %s: must be at least 100ms", cfg.ReplicaHeartbeat)
	}
	maxConns := c.Int("max-connections")
	if maxConns < 0 {
		return usagef("invalid --max-connections %d: must be positive", maxConns)
	}
	if maxConns == 0 {
		maxConns = app.DefaultMaxConnections()
	}
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			a.Close(context.Background())
		}
	}()
	// Bind first: a first start whose port is taken must fail before it creates (and
	// prints) admin credentials that the next start would not print again.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	defer ln.Close()
	if err := bootstrap(ctx, c, a); err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		return err
	}
	// Admin commands on this machine reach the running server here.
	stopOperator, err := a.ServeOperator()
	if err != nil {
		log.Warn("no operator socket: admin commands need --url/--key while this server runs", "err", err)
		stopOperator = func(context.Context) error { return nil }
	}
	defer func() {
		if !closed {
			stopOperator(context.Background())
		}
	}()

	limit := app.NewConnLimit(maxConns)
	srv := &http.Server{
		Handler:           limit.Handler(a.Handler()),
		ConnContext:       limit.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// A sync run or stream may take up to the execution timeout; a client that reads
		// slower than that is cut off.
		WriteTimeout:   cfg.Core.ExecutionTimeout + time.Minute,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening on http://"+ln.Addr().String(), "max_connections", maxConns)
	dashboardURL := "http://" + ln.Addr().String() + "/"
	if pu := c.String("public-url"); pu != "" {
		dashboardURL = strings.TrimRight(pu, "/") + "/"
	}
	fmt.Fprintf(c.App.Writer, "Dashboard: %s\n", dashboardURL)

	errc := make(chan error, 2)
	if metricsAddr != "" {
		msrv, err := serveMetrics(log, a, metricsAddr, errc)
		if err != nil {
			ln.Close()
			return err
		}
		defer msrv.Close()
	}
	go func() { errc <- srv.Serve(limit.Listener(ln)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	closed = true
	stop() // a second signal during the shutdown gets the default action: exit now
	return shutdown(log, []func(context.Context) error{srv.Shutdown, stopOperator}, srv.Close, a, c.Duration("shutdown-timeout"))
}

// serveMetrics serves the Prometheus endpoint on its own listener, so it can stay on a
// private interface while the API is public.
// tuneGC sets the server's garbage collector unless GOGC or GOMEMLIMIT say otherwise.
// The live heap of a serving instance is a few MB while each run allocates tens of KB,
// so at the default GOGC=100 a busy server collects every few milliseconds: in the
// execute benchmark GC was a quarter of the CPU. GOGC=400 collects a fifth as often for
// a heap of a few tens of MB; the soft limit makes collection eager again long before
// a heap that really grows (many large runs in flight) could reach it.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(gcSoftLimit)
	}
}

// gcSoftLimit is the server's default GOMEMLIMIT.
const gcSoftLimit = 1 << 30

func serveMetrics(log *slog.Logger, a *app.App, addr string, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on --metrics-addr %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           a.MetricsHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("metrics on http://" + ln.Addr().String() + "/metrics")
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("metrics: %w", err)
		}
	}()
	return srv, nil
}

// shutdown stops the server within one deadline. Requests and runs get until shortly
// before it to finish; then runs still going are cancelled and recorded as cancelled,
// their requests answer, buffered last-used times and audit events are flushed and
// the files closed. It fails only if something could not be recorded.
// stops are the listeners' graceful shutdowns (TCP, operator socket); closeNow cuts the
// TCP connections still open at the deadline.
func shutdown(log *slog.Logger, stops []func(context.Context) error, closeNow func() error, a *app.App, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	// The reserve is the time left, after cancelling, to record the cancelled runs and
	// flush; recording is one group commit, so a fraction of the timeout is plenty.
	reserve := min(timeout/5, 2*time.Second)
	log.Info("shutting down", "deadline", deadline.Format(time.RFC3339))
	runsCtx, cancelRuns := context.WithDeadline(context.Background(), deadline.Add(-reserve))
	defer cancelRuns()
	shutCtx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	runsDone := make(chan struct{})
	go func() {
		defer close(runsDone)
		a.Drain(runsCtx) // cancels whatever still runs at the runs deadline
	}()
	for _, stop := range stops {
		if err := stop(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// Connections that are not runs (slow uploads, idle streams) are cut.
			log.Warn("shutdown deadline reached; closing remaining connections", "err", err)
			closeNow()
		}
	}
	<-runsDone
	if err := a.Close(shutCtx); err != nil {
		log.Error("shutdown", "err", err)
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// bootstrap creates, on the very first start, an instance admin with a random password,
// a default organization and a default workspace, and prints the password once.
func bootstrap(ctx context.Context, c *cli.Context, a *app.App) error {
	st := a.Store
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return nil
	}
	password, err := auth.RandomPassword()
	if err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	admin := &store.User{Email: c.String("admin-email"), Name: "Admin", PasswordHash: hash, InstanceAdmin: true}
	if err := st.CreateUser(ctx, admin); errors.Is(err, store.ErrConflict) {
		// Replicas starting together on an empty database: another one is bootstrapping.
		return nil
	} else if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	org := &store.Org{Name: "Default"}
	if err := st.CreateOrg(ctx, org, admin.ID); err != nil {
		return fmt.Errorf("bootstrap organization: %w", err)
	}
	ws := store.NewWorkspace("Default", admin.ID, org.ID)
	if err := st.CreateWorkspace(ctx, ws); err != nil {
		return fmt.Errorf("bootstrap workspace: %w", err)
	}
	key, _, err := a.Resolver.CreateKey(ctx, auth.Operator(), auth.CreateKeyRequest{Type: store.KeyPersonal, UserID: admin.ID, Name: "bootstrap admin key"})
	if err != nil {
		return fmt.Errorf("bootstrap admin key: %w", err)
	}
	credsPath := filepath.Join(c.String("data-dir"), initialAdminFile)
	creds := fmt.Sprintf("SteelEngine first start, %s\n\nadmin email:    %s\nadmin password: %s\nadmin API key:  %s\n\n"+
		"default organization %s, default workspace %s\n\nStore these somewhere safe, then delete this file.\n",
		time.Now().UTC().Format(time.RFC3339), admin.Email, password, key, org.ID, ws.ID)
	if err := writeSecretFile(credsPath, []byte(creds)); err != nil {
		return fmt.Errorf("write first-start credentials: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "First start: created admin %s with password %s (shown once; change it after login)\n", admin.Email, password)
	fmt.Fprintf(c.App.Writer, "Admin API key (shown once): %s\n", key)
	fmt.Fprintf(c.App.Writer, "Default organization %s, default workspace %s\n", org.ID, ws.ID)
	fmt.Fprintf(c.App.Writer, "These credentials are also in %s (mode 0600): delete it once stored\n", credsPath)
	return nil
}

// initialAdminFile holds the first start's admin credentials in the data directory, so
// a start whose output was lost (a service's journal, a closed terminal) loses nothing.
const initialAdminFile = "initial-admin.txt"

// writeSecretFile writes path (0600) through a temporary file renamed into place.
func writeSecretFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// initCommand prepares a data directory without serving: the first start's admin,
// organization, workspace and key (printed and written to initial-admin.txt), so an
// installation can be set up (and admin commands used) before the first serve.
func initCommand() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create the data directory and the first admin without serving (serve does this on its first start)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "admin-email", Value: "admin@localhost", EnvVars: []string{"STEELENGINE_ADMIN_EMAIL"}, Usage: "email of the admin user"},
		},
		Action: func(c *cli.Context) error {
			a, err := app.Open(c.Context, appConfig(c))
			if err != nil {
				return err
			}
			users, berr := a.Store.ListUsers(c.Context)
			if berr == nil && len(users) > 0 {
				fmt.Fprintf(c.App.Writer, "%s is already initialized (%d users)\n", c.String("data-dir"), len(users))
			} else if berr == nil {
				berr = bootstrap(c.Context, c, a)
			}
			if cerr := a.Close(context.Background()); berr == nil {
				berr = cerr
			}
			return berr
		},
	}
}
