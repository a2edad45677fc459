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
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/httpapi"
	"github.com/steelengine/steelengine/store"
)

func serveFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", EnvVars: []string{"STEELENGINE_ADDR"}, Usage: "listen address (host:port; port 0 picks a free one)"},
		&cli.StringFlag{Name: "admin-email", Value: "admin@localhost", EnvVars: []string{"STEELENGINE_ADMIN_EMAIL"}, Usage: "email of the admin user created on first start"},
		&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, EnvVars: []string{"STEELENGINE_SHUTDOWN_TIMEOUT"}, Usage: "how long in-flight requests may take to finish on shutdown"},
	}
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:   "serve",
		Usage:  "run the HTTP API, MCP server and dashboard (the default command)",
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

	st, err := store.Open(ctx, c.String("data-dir"), store.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	if err := bootstrap(ctx, c, st); err != nil {
		return err
	}

	api := httpapi.New(httpapi.Config{}, httpapi.Deps{Store: st, Logger: log})
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      10 * time.Minute, // sync runs and SSE streams can be long
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log.Info("listening on http://" + ln.Addr().String())

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
func bootstrap(ctx context.Context, c *cli.Context, st *store.Store) error {
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
	fmt.Fprintf(c.App.Writer, "First start: created admin %s with password %s (shown once; change it after login)\n", admin.Email, password)
	fmt.Fprintf(c.App.Writer, "Default organization %s, default workspace %s\n", org.ID, ws.ID)
	return nil
}
