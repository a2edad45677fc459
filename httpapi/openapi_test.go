package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

// oaChecker validates JSON values against the subset of JSON Schema the document
// uses: $ref, type (string or list), required, properties, items, allOf, enum.
type oaChecker struct{ doc map[string]any }

func (c *oaChecker) resolve(s map[string]any) map[string]any {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		cur := any(c.doc)
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		s = cur.(map[string]any)
	}
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

func (c *oaChecker) check(path string, v any, s map[string]any) []string {
	s = c.resolve(s)
	var errs []string
	for _, sub := range asList(s["allOf"]) {
		errs = append(errs, c.check(path, v, sub.(map[string]any))...)
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch x := t.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, e := range x {
				types = append(types, e.(string))
			}
		}
		jt := jsonType(v)
		if !slices.Contains(types, jt) && !(jt == "integer" && slices.Contains(types, "number")) {
			return append(errs, fmt.Sprintf("%s: type %s, want %v", path, jt, types))
		}
	}
	if enum, ok := s["enum"].([]any); ok && v != nil && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v not in %v", path, v, enum))
	}
	if m, ok := v.(map[string]any); ok {
		for _, r := range asList(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: missing required %q", path, r))
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, pv := range m {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, c.check(path+"."+k, pv, ps)...)
			} else if s["additionalProperties"] == false {
				errs = append(errs, fmt.Sprintf("%s: unexpected property %q", path, k))
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if is, ok := s["items"].(map[string]any); ok {
			for i, e := range arr {
				errs = append(errs, c.check(path+"["+strconv.Itoa(i)+"]", e, is)...)
			}
		}
	}
	return errs
}

func asList(v any) []any { l, _ := v.([]any); return l }

// conform checks a real response against the document's schema for its operation.
func (c *oaChecker) conform(t *testing.T, method, template string, resp *http.Response, raw []byte) {
	t.Helper()
	op, ok := c.doc["paths"].(map[string]any)[template].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if !ok {
		t.Fatalf("no operation %s %s in the document", method, template)
	}
	r, ok := op["responses"].(map[string]any)[strconv.Itoa(resp.StatusCode)].(map[string]any)
	if !ok {
		t.Fatalf("%s %s: status %d not documented", method, template, resp.StatusCode)
	}
	r = c.resolve(r)
	ct := strings.Split(resp.Header.Get("Content-Type"), ";")[0]
	media, ok := r["content"].(map[string]any)[ct].(map[string]any)
	if !ok {
		t.Fatalf("%s %s %d: content type %q not documented", method, template, resp.StatusCode, ct)
	}
	if ct != "application/json" {
		return
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s %s: %v", method, template, err)
	}
	if errs := c.check("$", v, media["schema"].(map[string]any)); len(errs) > 0 {
		t.Fatalf("%s %s %d does not conform:\n%s\nbody: %s", method, template, resp.StatusCode, strings.Join(errs, "\n"), raw)
	}
}

func TestOpenAPIConformance(t *testing.T) {
	e := testenv.New(t)
	resp, raw := xraw(t, e, "GET", "/api/openapi.json", "", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("openapi: %d", resp.StatusCode)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("version %v", doc["openapi"])
	}
	// Every $ref resolves.
	for _, m := range regexp.MustCompile(`"\$ref":\s*"#/([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		cur := any(doc)
		for _, part := range strings.Split(m[1], "/") {
			mm, _ := cur.(map[string]any)
			if cur = mm[part]; cur == nil {
				t.Fatalf("dangling $ref %s", m[1])
			}
		}
	}
	c := &oaChecker{doc: doc}
	fail := xdeploy(t, e, "fail.json")
	slow := xdeploy(t, e, "wait.json")
	do := func(method, template, path, key string, body any, hdr map[string]string) map[string]any {
		t.Helper()
		resp, raw := xraw(t, e, method, path, key, body, hdr)
		c.conform(t, method, template, resp, raw)
		var m map[string]any
		json.Unmarshal(raw, &m)
		return m
	}
	wx := "/api/workflows/{id}/execute"
	m := do("POST", wx, execPath(e.Echo.ID), e.WSKey, map[string]any{"message": "o"}, nil)
	exID := m["executionId"].(string)
	do("POST", wx, execPath(fail.ID), e.WSKey, map[string]any{}, nil)
	do("POST", wx, execPath(slow.ID), e.WSKey, map[string]any{}, map[string]string{"X-Execution-Timeout-Seconds": "1"})
	do("POST", wx, execPath(e.Echo.ID), e.WSKey, map[string]any{"stream": true}, nil)
	a := do("POST", wx, execPath(e.Echo.ID), e.WSKey, map[string]any{}, map[string]string{"X-Execution-Mode": "async"})
	for _, k := range []string{"", e.OutsiderKey} {
		do("POST", wx, execPath(e.Echo.ID), k, map[string]any{}, nil)
	}
	do("POST", wx, execPath(e.Undeployed.ID), e.WSKey, map[string]any{}, nil)
	do("POST", wx, execPath("missing"), e.WSKey, map[string]any{}, nil)
	do("POST", wx, execPath(e.Echo.ID), e.WSKey, "{", nil)
	do("GET", "/api/workflows/{id}/status", "/api/workflows/"+e.Greet.ID+"/status", e.WSKey, nil, nil)
	do("GET", "/api/workflows/{id}/status", "/api/workflows/"+e.Undeployed.ID+"/status", e.WSKey, nil, nil)
	jobID := a["jobId"].(string)
	xpoll(t, e, "/api/jobs/"+jobID, e.WSKey, func(m map[string]any) bool { return m["status"] == "completed" })
	do("GET", "/api/jobs/{jobId}", "/api/jobs/"+jobID, e.WSKey, nil, nil)
	do("GET", "/api/jobs/{jobId}", "/api/jobs/none", e.WSKey, nil, nil)
	ep := "/api/workflows/" + e.Echo.ID + "/executions/" + exID
	do("GET", "/api/workflows/{id}/executions/{executionId}", ep+"?includeOutput=true", e.WSKey, nil, nil)
	do("POST", "/api/workflows/{id}/executions/{executionId}/cancel", ep+"/cancel", e.WSKey, nil, nil)

	v2 := "/api/v2/workflows/{id}/execute"
	r := do("POST", v2, v2Exec(e.Echo.ID), e.WSKey, map[string]any{"input": map[string]any{}}, nil)
	runID := xobj(t, r, "data")["runId"].(string)
	do("POST", v2, v2Exec(fail.ID), e.WSKey, map[string]any{}, nil)
	do("POST", v2, v2Exec(e.Echo.ID), e.WSKey, map[string]any{"async": true}, nil)
	do("POST", v2, v2Exec(e.Echo.ID), e.WSKey, map[string]any{"nope": 1}, nil)
	do("POST", v2, v2Exec(e.Echo.ID), "", map[string]any{}, nil)
	do("GET", "/api/v2/workflows/{id}/runs", "/api/v2/workflows/"+e.Echo.ID+"/runs?limit=1", e.WSKey, nil, nil)
	do("GET", "/api/v2/workflows/{id}/runs/{runId}", "/api/v2/workflows/"+e.Echo.ID+"/runs/"+runID, e.WSKey, nil, nil)
	do("POST", "/api/v2/workflows/{id}/runs/{runId}/cancel", "/api/v2/workflows/"+e.Echo.ID+"/runs/"+runID+"/cancel", e.WSKey, nil, nil)

	ws := "?workspaceId=" + e.WS.ID
	do("GET", "/api/v1/logs", "/api/v1/logs"+ws+"&limit=2", e.WSKey, nil, nil)
	do("GET", "/api/v1/logs", "/api/v1/logs"+ws+"&details=full&includeFinalOutput=true&includeTraceSpans=true", e.WSKey, nil, nil)
	do("GET", "/api/v1/logs", "/api/v1/logs", e.WSKey, nil, nil)
	do("GET", "/api/v1/logs/{id}", "/api/v1/logs/"+exID, e.WSKey, nil, nil)
	do("GET", "/api/v1/logs/{id}", "/api/v1/logs/none", e.WSKey, nil, nil)
	do("GET", "/api/v1/logs/executions/{executionId}", "/api/v1/logs/executions/"+exID, e.WSKey, nil, nil)
	do("GET", "/api/v1/logs/metrics", "/api/v1/logs/metrics"+ws+"&groupBy=workflow", e.WSKey, nil, nil)
	do("GET", "/api/v2/logs", "/api/v2/logs"+ws, e.WSKey, nil, nil)
	do("GET", "/api/v2/logs/{runId}", "/api/v2/logs/"+exID, e.WSKey, nil, nil)
	do("GET", "/api/users/me/usage-limits", "/api/users/me/usage-limits", e.WSKey, nil, nil)
	do("GET", "/api/users/me/usage-limits", "/api/users/me/usage-limits", "", nil, nil)
}
