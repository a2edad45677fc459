package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
)

// triggersCommand lists the schedule and webhook triggers of deployed workflows. They
// are managed by deploying: a deployed version's schedule and webhook blocks arm them,
// undeploy or a new version without them disarms them.
func triggersCommand() *cli.Command {
	return &cli.Command{
		Name:  "triggers",
		Usage: "schedule and webhook triggers of deployed workflows",
		Subcommands: []*cli.Command{{
			Name:  "list",
			Usage: "list schedules (next and last fire) and webhook paths",
			Flags: []cli.Flag{&cli.StringFlag{Name: "workspace", Usage: "workspace id or name (default: all)"}},
			Action: func(c *cli.Context) error {
				return withApp(c, func(ctx context.Context, a *app.App) error {
					wsID := ""
					if name := c.String("workspace"); name != "" {
						ws, err := findWorkspace(ctx, a.Store, name)
						if err != nil {
							return err
						}
						wsID = ws.ID
					}
					scheds, err := a.Service.Schedules(ctx, operator(), wsID)
					if err != nil {
						return err
					}
					hooks, err := a.Service.Webhooks(ctx, operator(), wsID)
					if err != nil {
						return err
					}
					out := map[string]any{"schedules": scheds, "webhooks": hooks}
					return printOut(c, out, func(w io.Writer) {
						row(w, "KIND", "WORKFLOW", "BLOCK", "WHEN / PATH", "NEXT", "LAST")
						for _, s := range scheds {
							last := "-"
							if s.LastRunAt != nil {
								last = s.LastRunAt.Format("2006-01-02T15:04:05Z")
							}
							row(w, "schedule", s.WorkflowID, s.BlockName, s.Cron+" "+s.Timezone, s.NextRunAt.Format("2006-01-02T15:04:05Z"), last)
						}
						for _, h := range hooks {
							row(w, "webhook", h.WorkflowID, h.BlockName, "/api/webhooks/trigger/"+h.Path, "-", "-")
						}
					})
				})
			},
		}},
	}
}
