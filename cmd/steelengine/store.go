package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/store"
)

// withStore opens the store for the few commands that work on it directly and so need
// the server stopped (logs prune); everything else goes through apiClient. A directory
// held by a running server fails fast with the lock message. With --database-url the
// store is that PostgreSQL database, which running replicas may share.
func withStore(c *cli.Context, fn func(ctx context.Context, st store.Store) error) error {
	ctx := c.Context
	if err := requireDataDir(c.String("data-dir")); err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, c.String("data-dir"), c.String("database-url"), nil)
	if err != nil {
		return err
	}
	ferr := fn(ctx, st)
	if cerr := st.Close(); ferr == nil {
		ferr = cerr
	}
	return ferr
}

// boltOnly refuses a command that works on the bbolt files when the store is PostgreSQL:
// that database is maintained with its own tools.
func boltOnly(c *cli.Context, instead string) error {
	if c.String("database-url") != "" {
		return usagef("%s works on the bbolt files of a data directory; with --database-url (STEELENGINE_DATABASE_URL) %s", c.Command.Name, instead)
	}
	return nil
}

// findWorkspace resolves a workspace by id or unique name.
func findWorkspace(ctx context.Context, st store.Store, ref string) (ws *store.Workspace, err error) {
	err = st.View(ctx, func(r store.Reader) error { ws, err = r.FindWorkspace(ref); return err })
	return ws, err
}
