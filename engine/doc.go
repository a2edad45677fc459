// Package engine imports, validates, exports and runs workflows in Sim's format
// (simstudioai/sim; see shared/reference/sim-workflows.md).
//
// # Use
//
//	w, err := engine.Import(data)          // *ValidationError lists every problem
//	plan, err := engine.Compile(w, engine.CompileOptions{})
//	res := plan.Run(ctx, engine.RunInput{Input: in, Env: env, Sandbox: sb, HTTPClient: hc})
//
// A Plan is immutable and safe for concurrent runs: it holds the reachable blocks, the
// scopes of loops and parallels, edges already classified by handle, every string
// param with references pre-parsed, and function/condition code already rewritten so
// that references become identifiers bound through the sandbox's globals. A run only
// walks the plan; per-run state lives in frames (one per scope instance: the root, a
// loop iteration, a parallel branch).
//
// # Executor model
//
// Sim builds one flat DAG with sentinel nodes for loops and parallels and resets loop
// bodies between iterations. The engine runs each container scope recursively
// instead: a loop or parallel is one node in its parent scope, and running it runs its
// body scope once per iteration/branch in a fresh frame. The observable behaviour is
// Sim's: edges by handle, deactivation cascading down untaken branches, join nodes
// waiting for all live inputs, error edges, {results} outputs, <loop.*>/<parallel.*>,
// Response ending the run.
//
// # Deliberate differences from Sim
//
//   - Block, edge and loop ids are kept on import (Sim regenerates them). Stable ids
//     keep deployments, logs and references to versions comparable.
//   - Every block type imports; a block is kept exactly as read and exported back
//     byte for byte (unless a secret has to be dropped), so integration blocks (Slack,
//     Gmail, …) survive import → edit → export. Disabled blocks and blocks no trigger
//     reaches never run. Deploy is refused while Unsupported lists reachable, enabled
//     blocks the engine cannot run (integration blocks and triggers, python/shell
//     functions, and what other RegisterDeployCheck checks refuse), each with a hint;
//     BlockTypes lists
//     what runs.
//   - Triggers: start blocks for API, MCP and manual runs; schedule and generic_webhook
//     blocks for schedule and webhook runs (triggers.go; Compile with StartBlockID).
//     Sim's weekly schedule turns Sunday into Monday (`DAY_MAP[d] || 1`); here Sunday
//     stays Sunday.
//   - Start inputs are coerced with Sim's coerceValue: a value that does not convert
//     passes through unchanged instead of failing the run.
//   - Not runnable (deploy refused through Unsupported): human_in_the_loop blocks and
//     async waits inside a loop or parallel (pause.go: runs pause at the top level
//     only), human_in_the_loop notification tools; agent tools other than custom tools, api (http_request), workflow tools and mcp
//     tools of the workspace's external MCP servers (the agent's deploy check names
//     block and tool).
//   - Function blocks run JavaScript only; python and shell fail with "not supported".
//     Every reference in code, including scalar <variable.x>, <loop.x> and {{ENV}}, is
//     bound as a value (Sim inlines some of them as literals). Inside a quoted string or a
//     template literal a reference is spliced as JSON.stringify(value), as Sim does, and
//     the literal is parenthesised so that '…<x>…'.length applies to the whole string.
//     A function runs for the run's remaining time, capped by Limits.MaxFunctionTimeout.
//   - Condition expressions are evaluated in one sandboxed script like Sim, but
//     references are bound as values instead of inlined as JS literals; {{ENV}} values
//     in conditions are bound as number/boolean/null when they parse as such, else as
//     strings (Sim leaves non-scalar env values unsubstituted).
//   - {{ENV}} is resolved only in the authored text. A value produced by a reference
//     (for example caller input) is never re-scanned for {{…}}, so input cannot pull
//     workspace secrets out of the environment. Only {{NAME}} with NAME a letter or _
//     then letters, digits, _ is an env reference (other {{…}} text is literal). A
//     reference to a variable the run does not have fails the block with
//     *EnvNotSetError naming it; Sim would send the literal text on.
//   - forEach/parallel collections that are objects iterate their [key, value] pairs in
//     the object's own order when it is written in the workflow or is JSON text (as Sim);
//     an object that arrives as a decoded value (a block output) iterates in sorted key
//     order, because Go's maps do not keep insertion order.
//   - Every loop type and parallels are capped at RunInput.MaxLoopIterations (default
//     1000) iterations/branches; exceeding it fails the container (handled by its error
//     edge if any). Sim has no while cap except the run timeout.
//   - Ready blocks run concurrently bounded by RunInput.Concurrency (default 16); Sim has
//     no cap. Containers do not hold a slot, so a limit of 1 cannot deadlock.
//   - Block logs use the plain block id plus loopId/parallelId/iterationIndex; Sim's
//     node ids carry a ₍i₎ branch suffix.
//   - After a loop or parallel, <bodyBlock.x> reads the last iteration (for a parallel,
//     the highest branch index), which Sim leaves unspecified.
//   - The api block treats HTTP status ≥ 400 as a block error (so error edges work);
//     the full response is not in the output in that case, only the status and up to
//     500 bytes of the body in the message. 5xx, 429 and network errors are retryable.
//   - The wait block waits at most 10 minutes in-process (Sim: 5); async waits pause
//     the run (pause.go) for up to 30 days, as in Sim. A child workflow that pauses fails
//     its workflow block.
//   - Models are reached through RunInput.Models (core resolves the workspace's model
//     providers: OpenAI-compatible chat completions or Anthropic's Messages API). Sim's
//     OpenAI provider uses the Responses API; the observable output is the same.
//   - An agent whose reply does not parse as the responseFormat's JSON object fails
//     with a block error; Sim falls back to content plus _responseFormatWarning.
//   - Anthropic structured output is requested by schema instructions in the system
//     prompt (works with every Anthropic-compatible server) rather than output_config.
//   - Agent tool calls of one model turn run one after another (Sim: concurrently).
//   - Cost comes from a price table (DefaultPrices, extended by RunInput.Prices);
//     unknown models cost 0.
//   - Child workflows nest at most MaxWorkflowDepth (10) deep (Sim: call chain 25).
//   - Agent memory (RunInput.Memory) is written only when the block succeeds (Sim
//     stores the user turn before calling the model); sliding_window_tokens counts
//     about four bytes a token instead of a model tokenizer; "conversation" sends the
//     whole stored history (Sim trims it to the model's context window).
//   - Logged block inputs/outputs, trace spans and block error messages go through
//     Redact (redact.go): env values and RunInput.Secrets (≥ 4 bytes), credential-named
//     headers, params and fields, URL userinfo and query values become "[REDACTED]".
//     Result.Output and Result.BlockOutputs are not redacted: they are the run's data.
//   - Response blocks inside loops or parallels also end the run.
package engine
