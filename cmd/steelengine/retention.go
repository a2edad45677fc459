package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/store"
)

// retentionFlags reads --retention-age and --retention-count.
func retentionFlags(c *cli.Context) (store.Retention, error) {
	var r store.Retention
	if s := c.String("retention-age"); s != "" {
		d, err := parseAge(s)
		if err != nil || d <= 0 {
			return r, usagef("invalid --retention-age %q: want a positive age such as 30d, 36h or 90m", s)
		}
		r.MaxAge = d
	}
	r.MaxCount = c.Int("retention-count")
	if r.MaxCount < 0 {
		return r, usagef("invalid --retention-count %d: must be positive", r.MaxCount)
	}
	return r, nil
}

// parseAge accepts Go durations plus whole days ("30d").
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func logsPruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "delete old execution logs now (server stopped; a running server prunes by itself with the same flags)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "retention-age", Usage: "delete execution logs older than this (e.g. 30d, 12h)"},
			&cli.IntFlag{Name: "retention-count", Usage: "keep at most this many execution logs per workspace"},
			&cli.StringFlag{Name: "workspace", Usage: "only this workspace (id or name)"},
		},
		Action: func(c *cli.Context) error {
			r, err := retentionFlags(c)
			if err != nil {
				return err
			}
			if r.MaxAge == 0 && r.MaxCount == 0 {
				return usagef("logs prune needs --retention-age and/or --retention-count")
			}
			return withStore(c, func(ctx context.Context, st store.Store) error {
				var n int
				if ref := c.String("workspace"); ref != "" {
					ws, err := findWorkspace(ctx, st, ref)
					if err != nil {
						return err
					}
					n, err = st.Logs().RetainWorkspace(ctx, ws.ID, r, time.Now())
					if err != nil {
						return err
					}
				} else if n, err = st.Logs().Retain(ctx, r, time.Now()); err != nil {
					return err
				}
				return printOut(c, map[string]int{"deleted": n}, func(w io.Writer) { row(w, "deleted executions", n) })
			})
		},
	}
}
