package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
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
		&cli.StringFlag{Name: "admin-email", Value: "admin@localhost", EnvVars: []string{"STEELENGINE_ADMIN_EMAIL"}, Usage: "email of the admin user created on first start"},
		&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, EnvVars: []string{"STEELENGINE_SHUTDOWN_TIMEOUT"}, Usage: "how long in-flight requests may take to finish on shutdown"},
		&cli.StringFlag{Name: "public-url", EnvVars: []string{"STEELENGINE_PUBLIC_URL"}, Usage: "external base URL when behind a reverse proxy (status links, MCP Host/Origin checks)"},
		&cli.StringSliceFlag{Name: "allowed-origin", EnvVars: []string{"STEELENGINE_ALLOWED_ORIGINS"}, Usage: "browser origin allowed for CORS and MCP (repeatable; default none)"},
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
	addr := c.String("addr")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usagef("invalid --addr %q: want host:port, e.g. 127.0.0.1:8080 or :0", addr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := appConfig(c)
	cfg.HTTP.PublicURL = c.String("public-url")
	cfg.HTTP.AllowedOrigins = c.StringSlice("allowed-origin")
	cfg.MCP.PublicURL = c.String("public-url")
	cfg.MCP.AllowedOrigins = c.StringSlice("allowed-origin")
	cfg.Dashboard.PublicURL = c.String("public-url")
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
		defer cancel()
		if err := a.Close(closeCtx); err != nil {
			log.Error("close", "err", err)
		}
	}()
	if err := bootstrap(ctx, c, a); err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// A sync run or stream may take up to the execution timeout; a client that reads
		// slower than that is cut off.
		WriteTimeout:   cfg.Core.ExecutionTimeout + time.Minute,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log.Info("listening on http://" + ln.Addr().String())
	dashboardURL := "http://" + ln.Addr().String() + "/"
	if pu := c.String("public-url"); pu != "" {
		dashboardURL = strings.TrimRight(pu, "/") + "/"
	}
	fmt.Fprintf(c.App.Writer, "Dashboard: %s\n", dashboardURL)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
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
	if err := st.CreateUser(ctx, admin); err != nil {
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
	fmt.Fprintf(c.App.Writer, "First start: created admin %s with password %s (shown once; change it after login)\n", admin.Email, password)
	fmt.Fprintf(c.App.Writer, "Admin API key (shown once): %s\n", key)
	fmt.Fprintf(c.App.Writer, "Default organization %s, default workspace %s\n", org.ID, ws.ID)
	return nil
}
