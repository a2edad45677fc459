package main

import (
	"io"
	"net/http"
	"net/url"

	"github.com/urfave/cli/v2"
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
				return withAPI(c, func(cl *apiClient) error {
					q := url.Values{}
					if err := setID(c.Context, q, "workspaceId", c.String("workspace"), cl.workspaceID); err != nil {
						return err
					}
					var res obj
					if err := cl.do(c.Context, http.MethodGet, "/api/v1/triggers", q, nil, &res); err != nil {
						return err
					}
					data, _ := res["data"].(obj)
					scheds, hooks := objs(data, "schedules"), objs(data, "webhooks")
					out := obj{"schedules": scheds, "webhooks": hooks}
					return printOut(c, out, func(w io.Writer) {
						row(w, "KIND", "WORKFLOW", "BLOCK", "WHEN / PATH", "NEXT", "LAST")
						for _, s := range scheds {
							row(w, "schedule", s["workflowId"], orDash(s["blockName"]), str(s, "cron")+" "+str(s, "timezone"), s["nextRunAt"], orDash(s["lastRunAt"]))
						}
						for _, h := range hooks {
							row(w, "webhook", h["workflowId"], orDash(h["blockName"]), "/api/webhooks/trigger/"+str(h, "path"), "-", "-")
						}
					})
				})
			},
		}},
	}
}
