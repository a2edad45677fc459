package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/store"
)

// withStore opens the data directory for an offline command. A directory held by a
// running server fails fast with the store's lock message.
func withStore(c *cli.Context, fn func(ctx context.Context, st *store.Store) error) error {
	ctx := c.Context
	st, err := store.Open(ctx, c.String("data-dir"), store.Options{})
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
func findWorkspace(ctx context.Context, st *store.Store, ref string) (ws *store.Workspace, err error) {
	err = st.View(ctx, func(r *store.Reader) error { ws, err = r.FindWorkspace(ref); return err })
	return ws, err
}

// findOrg resolves an organization by id or unique name.
func findOrg(ctx context.Context, st *store.Store, ref string) (o *store.Org, err error) {
	err = st.View(ctx, func(r *store.Reader) error { o, err = r.FindOrg(ref); return err })
	return o, err
}
