package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/steelengine/steelengine/store/bolt"
	"github.com/urfave/cli/v2"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check both data files for damage (server stopped); --reset-logs moves a damaged logs.db aside",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "reset-logs", Usage: "move logs.db aside so the next start has empty execution logs and keeps core.db (users, keys, workflows)"},
		},
		Action: checkAction,
	}
}

type checkReport struct {
	Files     []bolt.FileCheck `json:"files"`
	OK        bool             `json:"ok"`
	LogsMoved string           `json:"logsMovedTo,omitempty"`
}

func checkAction(c *cli.Context) error {
	if err := boltOnly(c, "check the database with PostgreSQL's tools (amcheck, pg_dump to a scratch file)"); err != nil {
		return err
	}
	dir := c.String("data-dir")
	files, err := bolt.Check(c.Context, dir)
	if err != nil {
		return err
	}
	rep := checkReport{Files: files, OK: true}
	var bad []string
	for _, f := range files {
		if !f.OK {
			rep.OK = false
			bad = append(bad, f.File)
		}
	}
	if c.Bool("reset-logs") {
		if rep.LogsMoved, err = bolt.ResetLogs(c.Context, dir); err != nil {
			return err
		}
	}
	if err := printOut(c, rep, func(w io.Writer) {
		for _, f := range files {
			if f.OK {
				row(w, f.File, "ok", fmt.Sprintf("%d bytes", f.Size))
				continue
			}
			row(w, f.File, "DAMAGED")
			for _, p := range f.Problems {
				row(w, "", p)
			}
		}
		if rep.LogsMoved != "" {
			row(w, "logs.db moved to", rep.LogsMoved)
			row(w, "next start", "creates an empty logs.db; core.db is kept")
		}
	}); err != nil {
		return err
	}
	if !rep.OK && rep.LogsMoved == "" {
		hint := "restore core.db from a backup"
		if len(bad) == 1 && strings.HasSuffix(bad[0], "logs.db") {
			hint = fmt.Sprintf("`steelengine check --data-dir %s --reset-logs` starts with empty execution logs and keeps core.db", dir)
		}
		return cli.Exit(fmt.Sprintf("damaged: %s; %s", strings.Join(bad, ", "), hint), 1)
	}
	return nil
}
