package engine

import (
	"context"
	"net/http"
	"time"

	"github.com/steelengine/steelengine/engine/sandbox"
)

// ScriptRequest, ScriptResponse and ScriptRunner are the sandbox's types: function and
// condition blocks run JavaScript through a sandbox.Runner (in-process or worker pool).
type (
	ScriptRequest  = sandbox.Request
	ScriptResponse = sandbox.Response
	ScriptRunner   = sandbox.Runner
)

// Hooks receive block progress (SSE streaming, MCP progress). Calls are serialised by
// the engine, so a hook need not be safe for concurrent use, but it must be quick.
type Hooks struct {
	OnBlockStart func(BlockEvent)
	OnBlockEnd   func(BlockEvent)
	// StreamBlock says whether an agent block's reply should be streamed (Sim's stream +
	// selectedOutputs); it may be called from any block goroutine.
	StreamBlock func(blockID, blockName string) bool
	// OnChunk receives the text of a streamed agent reply as it arrives.
	OnChunk func(BlockChunk)
}

// MCPCaller calls tool on the workspace's external MCP server (id or name) and returns
// the result the model sees.
type MCPCaller func(ctx context.Context, server, tool string, args map[string]any) (any, error)

// MemoryStore keeps agent conversations (Sim's agent memory) by conversation id.
type MemoryStore interface {
	Load(ctx context.Context, conversationID string) ([]MemoryMessage, error)
	// Update replaces the conversation with fn's result in one step.
	Update(ctx context.Context, conversationID string, fn func([]MemoryMessage) []MemoryMessage) error
}

// MemoryMessage is one remembered message.
type MemoryMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// BlockChunk is a piece of a streamed agent reply.
type BlockChunk struct {
	BlockID string `json:"blockId"`
	Chunk   string `json:"chunk"`
}

// BlockEvent describes a block starting or ending.
type BlockEvent struct {
	BlockID        string         `json:"blockId"`
	BlockName      string         `json:"blockName"`
	BlockType      string         `json:"blockType"`
	Output         map[string]any `json:"output,omitempty"`
	Error          string         `json:"error,omitempty"`
	Duration       time.Duration  `json:"-"`
	DurationMs     int64          `json:"durationMs"`
	LoopID         string         `json:"loopId,omitempty"`
	ParallelID     string         `json:"parallelId,omitempty"`
	IterationIndex *int           `json:"iterationIndex,omitempty"`
}

// RunInput is everything one run needs besides the plan.
type RunInput struct {
	Input     map[string]any    // the caller's payload
	Env       map[string]string // workspace environment variables for {{NAME}}
	Variables map[string]any    // workflow variable overrides, by name or id
	Hooks     Hooks

	Concurrency       int           // blocks running at once; 0 → DefaultConcurrency
	Timeout           time.Duration // whole run; 0 → no limit beyond ctx
	MaxLoopIterations int           // per loop/parallel; 0 → DefaultMaxLoopIterations
	Limits            Limits        // whole-run budget; zero fields → defaults
	// Budget, when set, is a parent run's budget this (child) run draws from; Limits is
	// then ignored.
	Budget *Budget
	// Via is the chain of workflows leading to this run, itself last; api blocks send
	// it as X-SteelEngine-Via so that recursion through HTTP is bounded.
	Via []string
	// Tenant (the workspace) shares the sandbox's workers fairly with other tenants.
	Tenant string

	HTTPClient *http.Client // api blocks and agent HTTP tools; nil → netguard client with defaults
	// ModelHTTPClient calls model providers; nil → HTTPClient. Model calls run for
	// minutes, so it should bound requests by context rather than a client timeout.
	ModelHTTPClient *http.Client
	Sandbox         ScriptRunner // function/condition blocks; nil → those blocks fail
	// Models resolves agent, router and evaluator models to provider endpoints; nil →
	// those blocks fail with a message naming the missing configuration.
	Models ModelResolver
	// Prices extends cost reporting (USD per million tokens); nil → DefaultPrices.
	Prices map[string]Price
	// MCP calls tools of the workspace's external MCP servers (agent tools of type
	// "mcp"); nil → those tools fail.
	MCP MCPCaller
	// Memory keeps agent conversations of the run's workspace; nil → agents with memory fail.
	Memory MemoryStore
	// Children runs child workflows (workflow blocks, workflow tools); nil → those fail.
	Children ChildRunner
	// Deployed is true when the run executes a deployed version: children then run
	// their deployed version too, as in Sim.
	Deployed bool

	// Secrets are redacted from logged inputs and outputs in addition to Env values.
	Secrets []string

	// ExecutionID and WorkflowID name the run in the resume links a human_in_the_loop
	// block hands out (none when empty); BaseURL makes them absolute.
	ExecutionID, WorkflowID, BaseURL string
	// Now is the clock for pause times; nil → time.Now.
	Now func() time.Time
	// Resume continues a paused run (see PauseState) instead of starting afresh.
	Resume *Resume
}

// Defaults.
const (
	DefaultConcurrency       = 16
	DefaultMaxLoopIterations = 1000
)

// Error codes in Result.ErrorCode.
const (
	CodeTimeout    = "timeout"
	CodeCancelled  = "cancelled"
	CodeBlockError = "block_error"
	CodeNoStart    = "no_start_block"
	// CodeOverloaded: the sandbox refused work (ErrOverloaded); retry later.
	CodeOverloaded = "overloaded"
)

// ViaHeader carries the chain of workflows that called a run through api blocks
// (comma-separated workflow ids, the caller last); the execute front doors read it and
// refuse chains deeper than their maximum.
const ViaHeader = "X-SteelEngine-Via"

// ErrOverloaded is the sandbox's answer when every worker is busy and the queue is full.
var ErrOverloaded = sandbox.ErrPoolBusy

// ResponseSpec is what a Response block asked the HTTP front door to send.
type ResponseSpec struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    any               `json:"data"`
}

// BlockLog is one block execution.
type BlockLog struct {
	BlockID        string         `json:"blockId"`
	BlockName      string         `json:"blockName"`
	BlockType      string         `json:"blockType"`
	StartedAt      time.Time      `json:"startedAt"`
	EndedAt        time.Time      `json:"endedAt"`
	DurationMs     int64          `json:"durationMs"`
	Success        bool           `json:"success"`
	Input          map[string]any `json:"input,omitempty"`
	Output         map[string]any `json:"output,omitempty"`
	Error          string         `json:"error,omitempty"`
	ErrorHandled   bool           `json:"errorHandled,omitempty"`
	Tries          int            `json:"tries,omitempty"`
	LoopID         string         `json:"loopId,omitempty"`
	ParallelID     string         `json:"parallelId,omitempty"`
	IterationIndex *int           `json:"iterationIndex,omitempty"`
	ExecutionOrder int            `json:"executionOrder"`
}

// TraceSpan is a node of the nested trace, in Sim's shape (see trace.go): a root
// "Workflow Execution" span over block spans; loops/parallels hold one span per
// iteration/branch, agents one per tool call, workflow blocks the child's spans.
type TraceSpan struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Type            string          `json:"type"`
	Duration        int64           `json:"duration"` // ms
	StartTime       time.Time       `json:"startTime"`
	EndTime         time.Time       `json:"endTime"`
	Children        []TraceSpan     `json:"children,omitempty"`
	Status          string          `json:"status"` // success | error
	ErrorHandled    bool            `json:"errorHandled,omitempty"`
	Tries           int             `json:"tries,omitempty"`
	Tokens          *TokenUsage     `json:"tokens,omitempty"`
	RelativeStartMs *int64          `json:"relativeStartMs,omitempty"`
	BlockID         string          `json:"blockId,omitempty"`
	ExecutionOrder  int             `json:"executionOrder,omitempty"`
	Input           map[string]any  `json:"input,omitempty"`
	Output          map[string]any  `json:"output,omitempty"`
	ChildWorkflowID string          `json:"childWorkflowId,omitempty"`
	Model           string          `json:"model,omitempty"`
	Cost            *SpanCost       `json:"cost,omitempty"`
	ProviderTiming  *ProviderTiming `json:"providerTiming,omitempty"`
	LoopID          string          `json:"loopId,omitempty"`
	ParallelID      string          `json:"parallelId,omitempty"`
	IterationIndex  *int            `json:"iterationIndex,omitempty"`
	// Model and tool child spans of a model block (Sim's span-factory.ts).
	ModelToolCalls []any  `json:"modelToolCalls,omitempty"`
	ToolCallID     string `json:"toolCallId,omitempty"`
	Provider       string `json:"provider,omitempty"`
	// Error is the span's error message; Sim keeps it in output.error, which is where
	// it is serialised.
	Error string `json:"-"`
}

// Result is a finished run.
type Result struct {
	Success      bool                      `json:"success"`
	Output       map[string]any            `json:"output"`
	Error        string                    `json:"error,omitempty"`
	ErrorCode    string                    `json:"errorCode,omitempty"`
	ErrorBlockID string                    `json:"errorBlockId,omitempty"`
	Response     *ResponseSpec             `json:"response,omitempty"`
	BlockLogs    []BlockLog                `json:"logs"`
	TraceSpans   []TraceSpan               `json:"traceSpans"`
	StartedAt    time.Time                 `json:"startTime"`
	EndedAt      time.Time                 `json:"endTime"`
	Duration     time.Duration             `json:"-"`
	DurationMs   int64                     `json:"totalDuration"`
	BlockOutputs map[string]map[string]any `json:"blockOutputs,omitempty"`
	// Paused is set when the run suspended at human_in_the_loop blocks or async waits
	// (Success is true, Output is what the pause blocks show, as Sim's paused result).
	Paused *PauseState `json:"-"`
}
