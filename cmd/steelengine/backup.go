package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/store"
)

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "write consistent copies of core.db and logs.db into a directory",
		Flags: []cli.Flag{&cli.StringFlag{Name: "out", Required: true, Usage: "backup directory"}},
		Action: func(c *cli.Context) error {
			return withStore(c, func(ctx context.Context, st *store.Store) error {
				if err := st.Backup(ctx, c.String("out")); err != nil {
					return err
				}
				return printOut(c, map[string]string{"backup": c.String("out")}, func(w io.Writer) { row(w, "backup written to", c.String("out")) })
			})
		},
	}
}

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "restore",
		Usage: "replace the data directory's files with a backup (the server must be stopped)",
		Flags: []cli.Flag{&cli.StringFlag{Name: "from", Required: true, Usage: "backup directory"}},
		Action: func(c *cli.Context) error {
			if err := store.Restore(c.Context, c.String("from"), c.String("data-dir")); err != nil {
				return err
			}
			return printOut(c, map[string]string{"restored": c.String("from")}, func(w io.Writer) { row(w, "restored from", c.String("from")) })
		},
	}
}
