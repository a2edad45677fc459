package main

import (
	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/engine/sandbox"
)

// sandboxWorkerCommand is the hidden command the JavaScript sandbox pool re-executes
// this binary with: it sets its own resource limits and serves scripts on stdin/stdout.
func sandboxWorkerCommand() *cli.Command {
	return &cli.Command{
		Name:   "sandbox-worker",
		Hidden: true,
		Usage:  "internal: JavaScript sandbox worker process",
		Action: func(c *cli.Context) error {
			if code := sandbox.WorkerMain(); code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}
