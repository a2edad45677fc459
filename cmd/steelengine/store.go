package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
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

// withApp opens the whole appliance offline (store, secrets, use cases, sandbox) for
// commands that run use cases: keys, workflows.
func withApp(c *cli.Context, fn func(ctx context.Context, a *app.App) error) error {
	ctx := c.Context
	a, err := app.Open(ctx, appConfig(c))
	if err != nil {
		return err
	}
	ferr := fn(ctx, a)
	if cerr := a.Close(ctx); ferr == nil {
		ferr = cerr
	}
	return ferr
}

// operator is the principal of whoever runs the CLI on the data directory: they own the
// files, so the local operator may do anything.
func operator() *auth.Principal { return auth.Operator() }
