package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/steelengine/steelengine/httpapi"
)

// OperatorSocket is the operator socket's name in the data directory. While a server
// holds the data directory, the command line reaches it here instead of opening the
// files (which the server has locked).
const OperatorSocket = "operator.sock"

// maxSocketPath is the longest unix socket path Linux accepts (sun_path less its NUL).
const maxSocketPath = 107

// ServeOperator serves the whole handler on the operator socket, with requests that
// carry no credentials acting as the local operator. Who may connect is decided by the
// file system — the data directory is 0700 and the socket 0600 — and, where the kernel
// tells, by the peer's uid (this process's user or root). stop closes the socket.
func (a *App) ServeOperator() (stop func(ctx context.Context) error, err error) {
	path := filepath.Join(a.cfg.DataDir, OperatorSocket)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("operator socket path %s is longer than %d bytes; use a shorter --data-dir", path, maxSocketPath)
	}
	// This process holds the data directory's lock, so a socket file left there is
	// from a process that is gone.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove stale operator socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on operator socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("operator socket: %w", err)
	}
	srv := &http.Server{
		Handler:           httpapi.Operator(a.handler),
		ReadHeaderTimeout: 10 * time.Second,
		// No write timeout: a backup streams for as long as the files take.
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	go srv.Serve(&peerListener{Listener: ln, log: a.log})
	a.log.Debug("operator socket", "path", path)
	return func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		os.Remove(path)
		return err
	}, nil
}

// peerListener drops connections from other users (root is allowed: it could read the
// data directory anyway).
type peerListener struct {
	net.Listener
	log *slog.Logger
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, known := peerUID(c)
		if known && (uid == os.Getuid() || uid == 0) {
			return c, nil
		}
		l.log.Warn("operator socket: refused a connection from another user", "uid", uid)
		c.Close()
	}
}
