package main

import (
	"fmt"
	"io"

	"github.com/steelengine/steelengine/store/bolt"
	"github.com/urfave/cli/v2"
)

func compactCommand() *cli.Command {
	return &cli.Command{
		Name:  "compact",
		Usage: "rewrite core.db and logs.db without free space (server stopped; atomic: fsync then rename)",
		Action: func(c *cli.Context) error {
			if err := boltOnly(c, "PostgreSQL reclaims space itself (autovacuum; VACUUM FULL to shrink files)"); err != nil {
				return err
			}
			res, err := bolt.Compact(c.Context, c.String("data-dir"))
			if err != nil {
				return err
			}
			return printOut(c, map[string]any{"files": res}, func(w io.Writer) {
				for _, r := range res {
					row(w, r.File, fmt.Sprintf("%d → %d bytes", r.Before, r.After))
				}
			})
		},
	}
}
