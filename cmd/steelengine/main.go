// Command steelengine is the SteelEngine appliance: one binary that stores, runs and
// serves workflows over HTTP and MCP.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/engine/sandbox"
)

func main() {
	// The sandbox worker speaks its protocol on stdout from the first byte, so it is
	// dispatched before the CLI parses anything or may print.
	if len(os.Args) > 1 && os.Args[1] == "sandbox-worker" {
		os.Exit(sandbox.WorkerMain())
	}
	os.Exit(run(os.Args))
}

// run executes the CLI and maps errors to exit codes: 2 for usage errors (bad flags or
// values), 1 for everything else.
func run(args []string) int {
	app := newApp()
	if err := app.Run(hoistFlags(app, args)); err != nil {
		var ue usageError
		var ec cli.ExitCoder
		switch {
		case errors.As(err, &ue):
			fmt.Fprintln(os.Stderr, "steelengine:", ue.msg)
			return 2
		case errors.As(err, &ec):
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, "steelengine:", msg)
			}
			return ec.ExitCode()
		case jsonRequested(args):
			writeJSONError(os.Stderr, err)
			return 1
		default:
			fmt.Fprintln(os.Stderr, "steelengine:", err)
			return 1
		}
	}
	return 0
}

// usageError is a bad flag or value; it exits with code 2 and writes nothing.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func newApp() *cli.App {
	return &cli.App{
		Name:                 "steelengine",
		Usage:                "self-hosted workflow appliance: HTTP execute/logs API and MCP server in one binary",
		Version:              version(),
		EnableBashCompletion: true,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data-dir", Value: "./steelengine-data", EnvVars: []string{"STEELENGINE_DATA_DIR"}, Usage: "data directory (core.db, logs.db, master key)"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable JSON output"},
			&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"STEELENGINE_LOG_FORMAT"}, Usage: "log format: text or json"},
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"STEELENGINE_LOG_LEVEL"}, Usage: "log level: debug, info, warn, error"},
			&cli.StringFlag{Name: "database-url", EnvVars: []string{"STEELENGINE_DATABASE_URL"}, Usage: "postgres://… URL: keep everything in this PostgreSQL database, shared by every replica given it (default: bbolt files in the data directory)"},
			&cli.StringFlag{Name: "master-key", EnvVars: []string{"STEELENGINE_MASTER_KEY"}, Usage: "base64 32-byte master key (default: the key file in the data directory)"},
			&cli.StringFlag{Name: "url", EnvVars: []string{"STEELENGINE_URL"}, Usage: "call the server at this URL instead of the data directory (with --key)"},
			&cli.StringFlag{Name: "key", EnvVars: []string{"STEELENGINE_API_KEY"}, Usage: "API key for --url and for mcp"},
		}, runtimeFlags()...),
		Before: func(c *cli.Context) error {
			if f := c.String("log-format"); f != "text" && f != "json" {
				return usagef("invalid --log-format %q: allowed values are text, json", f)
			}
			if _, err := parseLevel(c.String("log-level")); err != nil {
				return err
			}
			return checkRuntimeFlags(c)
		},
		OnUsageError: func(c *cli.Context, err error, isSub bool) error {
			return usageError{err.Error()}
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("unknown command %q; run 'steelengine help'", c.Args().First())
			}
			return serveAction(c)
		},
		Commands: commands(),
	}
}

// commands lists every subcommand; each file of this package adds its own.
func commands() []*cli.Command {
	cmds := []*cli.Command{
		serveCommand(),
		initCommand(),
		usersCommand(),
		orgsCommand(),
		workspacesCommand(),
		versionCommand(),
		healthCommand(),
		sandboxWorkerCommand(),
		keysCommand(),
		workflowsCommand(),
		backupCommand(),
		restoreCommand(),
		logsCommand(),
		checkCommand(),
		compactCommand(),
		migrateStoreCommand(),
		mcpServersCommand(),
		envCommand(),
		providersCommand(),
		externalMCPCommand(),
		mcpCommand(),
		blocksCommand(),
		triggersCommand(),
	}
	for _, c := range cmds {
		setUsageErrors(c)
	}
	return cmds
}

// setUsageErrors makes every (sub)command report bad flags as usage errors (exit 2).
func setUsageErrors(c *cli.Command) {
	c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err.Error()} }
	for _, sub := range c.Subcommands {
		setUsageErrors(sub)
	}
}
