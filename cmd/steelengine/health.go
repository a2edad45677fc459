package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// healthCommand asks a server whether it is ready (GET /readyz), so container and
// service health checks need nothing but this binary.
func healthCommand() *cli.Command {
	return &cli.Command{
		Name:  "health",
		Usage: "exit 0 when the server at --url answers ready (GET /readyz), 1 otherwise",
		Flags: []cli.Flag{&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second, Usage: "give up after this long"}},
		Action: func(c *cli.Context) error {
			base := strings.TrimRight(strings.TrimSpace(c.String("url")), "/")
			if base == "" {
				base = "http://127.0.0.1:8080"
			}
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
			if err != nil {
				return usagef("invalid --url %q: %v", base, err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return cli.Exit(fmt.Sprintf("not healthy: %v", err), 1)
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return cli.Exit(fmt.Sprintf("not ready: %d %s", resp.StatusCode, strings.TrimSpace(string(body))), 1)
			}
			return printOut(c, obj{"url": base, "ready": true}, func(w io.Writer) { row(w, base, "ready") })
		},
	}
}
