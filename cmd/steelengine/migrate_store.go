package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
)

// migrateStoreCommand moves a bbolt data directory up to PostgreSQL.
func migrateStoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate-store",
		Usage: "copy the data directory's bbolt store into an empty PostgreSQL database (server stopped)",
		Description: "Copies users, organizations, workspaces and members, workflows with every deployed version,\n" +
			"API keys and grants, environment variables, MCP servers, model providers, external MCP servers,\n" +
			"execution logs, pending invitations, paused runs, schedule fire state, the key audit trail,\n" +
			"agent conversation memory and MCP apps' OAuth clients, grants and tokens, keeping their ids,\n" +
			"so keys and OAuth tokens keep working with the same master key. Then it\n" +
			"counts each kind in the database and fails on any difference. Not copied: " + strings.Join(app.MigrateNotCopied, "; ") + ".\n" +
			"Afterwards start every replica with --database-url and the same master key.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Required: true, Usage: "postgres://… URL of an empty database"},
			&cli.BoolFlag{Name: "dry-run", Usage: "count what would be copied; write nothing (but the schema)"},
		},
		Action: func(c *cli.Context) error {
			to := c.String("to")
			if !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://") {
				return usagef("invalid --to %q: want a postgres:// URL", redactURL(to))
			}
			if c.String("database-url") != "" {
				return usagef("migrate-store reads the bbolt data directory: unset --database-url (STEELENGINE_DATABASE_URL) and name the target with --to")
			}
			dir := c.String("data-dir")
			if err := requireDataDir(dir); err != nil {
				return err
			}
			counts, err := app.MigrateStore(c.Context, dir, c.String("master-key"), to, c.Bool("dry-run"), newLogger(c))
			out := map[string]any{"dryRun": c.Bool("dry-run"), "counts": counts, "notCopied": app.MigrateNotCopied}
			if perr := printOut(c, out, func(w io.Writer) {
				for _, n := range counts {
					if c.Bool("dry-run") {
						row(w, n.Kind, fmt.Sprintf("%d to copy", n.Source))
					} else {
						row(w, n.Kind, fmt.Sprintf("%d copied, %d in the database", n.Copied, n.Target))
					}
				}
				if err == nil && !c.Bool("dry-run") {
					fmt.Fprintln(w, "done: start the replicas with --database-url and the same master key")
				}
			}); err == nil {
				err = perr
			}
			return err
		},
	}
}

// redactURL hides a password in a URL for messages.
func redactURL(s string) string {
	if at := strings.LastIndex(s, "@"); at > 0 {
		if i := strings.Index(s, "://"); i >= 0 && i < at {
			return s[:i+3] + "…" + s[at:]
		}
	}
	return s
}
