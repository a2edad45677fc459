package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
)

// loadPrices reads the operator's model price file ("" → none).
func loadPrices(path string) (map[string]engine.Price, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]engine.Price
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string]engine.Price, len(m))
	for k, v := range m {
		if v.Input < 0 || v.Output < 0 {
			return nil, fmt.Errorf("%s: price of %q is negative", path, k)
		}
		out[strings.ToLower(k)] = v
	}
	return out, nil
}

// runtimeFlags are the global flags that tune how workflows run; every command that
// opens the appliance (serve, offline runs) honours them.
func runtimeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "execution-timeout", Value: 5 * time.Minute, EnvVars: []string{"STEELENGINE_EXECUTION_TIMEOUT"}, Usage: "default per-run timeout"},
		&cli.IntFlag{Name: "max-loop-iterations", Value: 1000, EnvVars: []string{"STEELENGINE_MAX_LOOP_ITERATIONS"}, Usage: "iteration cap for each loop and parallel"},
		&cli.StringSliceFlag{Name: "allow-network", EnvVars: []string{"STEELENGINE_ALLOW_NETWORKS"}, Usage: "CIDR that api blocks may reach although private (repeatable)"},
		&cli.BoolFlag{Name: "allow-loopback", EnvVars: []string{"STEELENGINE_ALLOW_LOOPBACK"}, Usage: "let api blocks reach 127.0.0.0/8 and ::1"},
		&cli.IntFlag{Name: "rate-limit", Value: 600, EnvVars: []string{"STEELENGINE_RATE_LIMIT"}, Usage: "requests per minute for API keys without their own limit"},
		&cli.StringFlag{Name: "model-prices", EnvVars: []string{"STEELENGINE_MODEL_PRICES"}, Usage: "JSON file {\"model\": {\"input\": USD, \"output\": USD}} per million tokens, extending the built-in price table"},
		&cli.Int64Flag{Name: "sandbox-memory", Value: 256 << 20, EnvVars: []string{"STEELENGINE_SANDBOX_MEMORY"}, Usage: "memory cap in bytes for each JavaScript worker"},
		&cli.IntFlag{Name: "sandbox-workers", EnvVars: []string{"STEELENGINE_SANDBOX_WORKERS"}, Usage: "JavaScript worker processes (default: one per CPU, at most as many as fit in half the RAM at --sandbox-memory each)"},
		&cli.IntFlag{Name: "sandbox-queue", EnvVars: []string{"STEELENGINE_SANDBOX_QUEUE"}, Usage: "scripts that may wait for a busy worker before runs fail as overloaded (default: 8 per worker)"},
		&cli.IntFlag{Name: "max-block-executions", Value: engine.DefaultMaxBlockExecutions, EnvVars: []string{"STEELENGINE_MAX_BLOCK_EXECUTIONS"}, Usage: "block executions per run, across nested loops and parallels"},
		&cli.DurationFlag{Name: "function-timeout", Value: 5 * time.Minute, EnvVars: []string{"STEELENGINE_FUNCTION_TIMEOUT"}, Usage: "longest a function block may run (it gets the run's remaining time, up to this)"},
		&cli.Int64Flag{Name: "max-run-bytes", Value: engine.DefaultMaxRetainedBytes, EnvVars: []string{"STEELENGINE_MAX_RUN_BYTES"}, Usage: "bytes of block outputs a run may keep, and separately of its logs and trace spans"},
		&cli.IntFlag{Name: "max-runs-per-workspace", Value: core.DefaultMaxRunsPerWorkspace, EnvVars: []string{"STEELENGINE_MAX_RUNS_PER_WORKSPACE"}, Usage: "runs in flight per workspace (sync and async); beyond: 429"},
		&cli.IntFlag{Name: "max-runs", Value: core.DefaultMaxRuns, EnvVars: []string{"STEELENGINE_MAX_RUNS"}, Usage: "runs in flight on the server; beyond: 503"},
		&cli.Int64Flag{Name: "max-input-bytes-in-flight", Value: core.DefaultMaxInputBytesInFlight, EnvVars: []string{"STEELENGINE_MAX_INPUT_BYTES_IN_FLIGHT"}, Usage: "input bytes of all runs in flight together (a lone run is always admitted); beyond: 503"},
		&cli.IntFlag{Name: "max-call-depth", Value: core.DefaultMaxCallDepth, EnvVars: []string{"STEELENGINE_MAX_CALL_DEPTH"}, Usage: "workflows calling workflows through api blocks (X-SteelEngine-Via); beyond: 409"},
	}
}

// appConfig turns flags and environment into the appliance's configuration.
func appConfig(c *cli.Context) app.Config {
	cfg := app.Config{
		DataDir:        c.String("data-dir"),
		DatabaseURL:    c.String("database-url"),
		MasterKey:      c.String("master-key"),
		Logger:         newLogger(c),
		AllowLoopback:  c.Bool("allow-loopback"),
		SandboxMemory:  c.Int64("sandbox-memory"),
		SandboxWorkers: c.Int("sandbox-workers"),
		SandboxQueue:   c.Int("sandbox-queue"),
	}
	cfg.Core.ExecutionTimeout = c.Duration("execution-timeout")
	cfg.Core.MaxLoopIterations = c.Int("max-loop-iterations")
	cfg.Core.Limits = engine.Limits{MaxBlockExecutions: c.Int("max-block-executions"), MaxRetainedBytes: c.Int64("max-run-bytes"),
		MaxFunctionTimeout: c.Duration("function-timeout")}
	cfg.Core.MaxRunsPerWorkspace = c.Int("max-runs-per-workspace")
	cfg.Core.MaxRuns = c.Int("max-runs")
	cfg.Core.MaxCallDepth = c.Int("max-call-depth")
	cfg.Core.Version = version()
	cfg.Core.MaxInputBytesInFlight = c.Int64("max-input-bytes-in-flight")
	cfg.Auth.DefaultRateLimit = c.Int("rate-limit")
	cfg.Core.Prices, _ = loadPrices(c.String("model-prices")) // checked by checkRuntimeFlags
	for _, s := range c.StringSlice("allow-network") {
		if p, err := netip.ParsePrefix(s); err == nil {
			cfg.AllowNetworks = append(cfg.AllowNetworks, p)
		}
	}
	return cfg
}

// checkRuntimeFlags validates runtime flags up front so bad values exit 2.
func checkRuntimeFlags(c *cli.Context) error {
	for _, s := range c.StringSlice("allow-network") {
		if _, err := netip.ParsePrefix(s); err != nil {
			return usagef("invalid --allow-network %q: want a CIDR such as 10.0.0.0/8", s)
		}
	}
	if c.Duration("execution-timeout") <= 0 {
		return usagef("invalid --execution-timeout %s: must be positive", c.Duration("execution-timeout"))
	}
	if n := c.Int("max-loop-iterations"); n < 1 {
		return usagef("invalid --max-loop-iterations %d: must be at least 1", n)
	}
	if n := c.Int("rate-limit"); n < 1 {
		return usagef("invalid --rate-limit %d: must be at least 1 request per minute", n)
	}
	if _, err := loadPrices(c.String("model-prices")); err != nil {
		return usagef("invalid --model-prices: %v", err)
	}
	if m := c.Int64("sandbox-memory"); m < 32<<20 {
		return usagef("invalid --sandbox-memory %d: must be at least %d (32 MiB)", m, 32<<20)
	}
	for _, name := range []string{"sandbox-workers", "sandbox-queue"} {
		if n := c.Int(name); n < 0 {
			return usagef("invalid --%s %d: must not be negative (0 picks the default)", name, n)
		}
	}
	for _, name := range []string{"max-block-executions", "max-runs-per-workspace", "max-runs", "max-call-depth"} {
		if n := c.Int(name); n < 1 {
			return usagef("invalid --%s %d: must be at least 1", name, n)
		}
	}
	if n := c.Int64("max-input-bytes-in-flight"); n < 1<<20 {
		return usagef("invalid --max-input-bytes-in-flight %d: must be at least %d (1 MiB)", n, 1<<20)
	}
	if d := c.Duration("function-timeout"); d < time.Second {
		return usagef("invalid --function-timeout %s: must be at least 1s", d)
	}
	if n := c.Int64("max-run-bytes"); n < 64<<10 {
		return usagef("invalid --max-run-bytes %d: must be at least %d (64 KiB)", n, 64<<10)
	}
	return nil
}
