package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
)

// readWorkflow serves steelengine://workflows/{id}: read access, decided by auth via
// core; anything the caller may not read reads as not found.
func (e *endpoint) readWorkflow(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	p := principalFrom(ctx)
	if p == nil {
		return nil, errors.New(auth.InvalidKeyMessage)
	}
	id := templateArg(req, "id")
	if !e.inScope(id) {
		return nil, fmt.Errorf("%w: %s", server.ErrResourceNotFound, req.Params.URI)
	}
	sum, err := e.s.svc.DescribeWorkflow(ctx, p, id)
	if err != nil {
		return nil, resourceError(req.Params.URI, err)
	}
	wf := sum.Workflow
	doc := map[string]any{
		"id": wf.ID, "name": wf.Name, "description": wf.Description, "workspaceId": wf.WorkspaceID,
		"isDeployed": wf.IsDeployed(), "activeVersion": wf.ActiveVersion, "deployedAt": wf.DeployedAt,
		"createdAt": wf.CreatedAt, "updatedAt": wf.UpdatedAt,
	}
	if wf.IsDeployed() {
		doc["inputSchema"] = json.RawMessage(inputSchema(sum.Inputs))
		doc["openWorld"] = sum.Outbound
		if name := e.toolNameOf(wf.ID); name != "" {
			doc["toolName"] = name
		}
	}
	return jsonContents(req.Params.URI, doc)
}

// readExecution serves steelengine://executions/{id}: the log entry, read access.
func (e *endpoint) readExecution(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	p := principalFrom(ctx)
	if p == nil {
		return nil, errors.New(auth.InvalidKeyMessage)
	}
	exec, err := e.s.svc.GetLog(ctx, p, templateArg(req, "id"))
	if err != nil {
		return nil, resourceError(req.Params.URI, err)
	}
	if !e.inScope(exec.WorkflowID) {
		return nil, fmt.Errorf("%w: %s", server.ErrResourceNotFound, req.Params.URI)
	}
	return jsonContents(req.Params.URI, exec)
}

// inScope narrows a server object's endpoint to its own workflows; /mcp serves every
// workflow the key may read (auth decides that part).
func (e *endpoint) inScope(wfID string) bool {
	return e.serverID == "" || e.toolNameOf(wfID) != ""
}

func (e *endpoint) toolNameOf(wfID string) string {
	for name, id := range e.reg.Load().byName {
		if id == wfID {
			return name
		}
	}
	return ""
}

func templateArg(req mcp.ReadResourceRequest, name string) string {
	switch v := req.Params.Arguments[name].(type) {
	case string:
		return v
	case []string:
		if len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func jsonContents(uri string, v any) ([]mcp.ResourceContents, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "application/json", Text: string(b)}}, nil
}

// resourceError hides whether a resource exists outside the caller's reach.
func resourceError(uri string, err error) error {
	var ae *auth.Error
	var ce *core.Error
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		return errors.New(ae.Message)
	case errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound),
		errors.As(err, &ce) && (ce.Status == http.StatusForbidden || ce.Status == http.StatusNotFound):
		return fmt.Errorf("%w: %s", server.ErrResourceNotFound, uri)
	}
	return errors.New("internal error reading resource")
}
