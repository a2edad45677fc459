package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// MaxWorkflowDepth bounds the nesting of child workflows (workflow blocks and workflow
// tools): a run whose RunInput.Via is this long may not start another child. core's
// configured call depth (X-SteelEngine-Via) applies as well.
const MaxWorkflowDepth = 10

// ChildRequest asks the runner for one child workflow run.
type ChildRequest struct {
	WorkflowID string
	Input      map[string]any
	Via        []string // the parent's chain of workflows (RunInput.Via)
	Deployed   bool     // run the child's active deployed version (else its draft)
	Budget     *Budget  // the parent's: pass to the child's RunInput.Budget
}

// ChildRun is a finished child workflow.
type ChildRun struct {
	Name   string
	Result *Result
}

// ChildRunner runs a child workflow as the parent run's principal. core provides it:
// access, deployment state and the child's environment are its decisions.
type ChildRunner func(ctx context.Context, req ChildRequest) (*ChildRun, error)

var workflowType = &blockType{run: runWorkflowBlock}

// outputError is a block error that still carries output fields (Sim's child workflow
// failure keeps childWorkflowName etc. next to error).
type outputError struct {
	err error
	out map[string]any
}

func (e *outputError) Error() string { return e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

// runWorkflowBlock runs another workflow with the mapped input. Output is Sim's
// {success, childWorkflowName, childWorkflowId, result}; the child's trace spans are
// nested under this block's span.
func runWorkflowBlock(ctx context.Context, x *execCtx) (map[string]any, error) {
	wfID := strings.TrimSpace(x.str("workflowId"))
	if wfID == "" {
		return nil, errors.New("No workflow selected for execution")
	}
	var input map[string]any
	if m, ok := parseMaybeJSON(x.input["inputMapping"]).(map[string]any); ok {
		input = m
	} else if m, ok := parseMaybeJSON(x.input["input"]).(map[string]any); ok {
		input = m
	}
	return x.runChild(ctx, wfID, input)
}

// runChild runs workflow wfID and returns the block output; on failure the output
// (success false, names, error) travels in an *outputError.
func (x *execCtx) runChild(ctx context.Context, wfID string, input map[string]any) (map[string]any, error) {
	if x.r.in.Children == nil {
		return nil, errors.New("child workflows cannot run here")
	}
	if len(x.r.in.Via) >= MaxWorkflowDepth {
		return nil, fmt.Errorf("Maximum workflow nesting depth (%d) exceeded", MaxWorkflowDepth)
	}
	if input == nil {
		input = map[string]any{}
	}
	cr, err := x.r.in.Children(ctx, ChildRequest{WorkflowID: wfID, Input: input, Via: append([]string(nil), x.r.in.Via...), Deployed: x.r.in.Deployed, Budget: x.r.bud})
	if err != nil {
		return nil, err
	}
	res := cr.Result
	x.addChildSpans(cr.Name, res)
	if res.ErrorCode == CodeBudgetExceeded {
		// The shared budget ran out inside the child: the whole run fails with it.
		return nil, &BudgetError{Msg: res.Error}
	}
	out := map[string]any{"success": res.Success, "childWorkflowName": cr.Name, "childWorkflowId": wfID, "result": res.Output}
	if res.Paused != nil {
		// The child's pause state would be lost inside the parent's: refuse plainly.
		return nil, &outputError{err: fmt.Errorf("%q paused at a human_in_the_loop or async wait block; a child workflow cannot pause", cr.Name), out: out}
	}
	if !res.Success {
		msg := res.Error
		if msg == "" {
			msg = "Child workflow execution failed"
		}
		return nil, &outputError{err: fmt.Errorf("%q failed: %s", cr.Name, msg), out: out}
	}
	return out, nil
}

// addChildSpans nests the child's trace under this block's span: the child's block
// spans become the span's children, its root span dropped (Sim's
// attachChildWorkflowSpans / flattenWorkflowChildren).
func (x *execCtx) addChildSpans(_ string, res *Result) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.childSpans = append(x.childSpans, flattenWorkflowSpans(res.TraceSpans)...)
}
