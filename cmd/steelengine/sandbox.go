package main

import "github.com/urfave/cli/v2"

// sandboxWorkerCommand documents the hidden command the JavaScript sandbox pool
// re-executes this binary with. main dispatches it before the CLI runs (its stdout is
// the worker protocol), so this entry only keeps it out of "unknown command" errors.
func sandboxWorkerCommand() *cli.Command {
	return &cli.Command{
		Name:   "sandbox-worker",
		Hidden: true,
		Usage:  "internal: JavaScript sandbox worker process",
		Action: func(c *cli.Context) error {
			return usagef("sandbox-worker must be the first argument")
		},
	}
}
