package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/bolt"
)

// withStore opens the data directory's files for the few commands that work on them
// directly and so need the server stopped (logs prune); everything else goes through
// apiClient. A directory held by a running server fails fast with the lock message.
func withStore(c *cli.Context, fn func(ctx context.Context, st store.Store) error) error {
	ctx := c.Context
	if err := requireDataDir(c.String("data-dir")); err != nil {
		return err
	}
	st, err := bolt.Open(ctx, c.String("data-dir"), bolt.Options{})
	if err != nil {
		return err
	}
	ferr := fn(ctx, st)
	if cerr := st.Close(); ferr == nil {
		ferr = cerr
	}
	return ferr
}

// findWorkspace resolves a workspace by id or unique name.
func findWorkspace(ctx context.Context, st store.Store, ref string) (ws *store.Workspace, err error) {
	err = st.View(ctx, func(r store.Reader) error { ws, err = r.FindWorkspace(ref); return err })
	return ws, err
}
