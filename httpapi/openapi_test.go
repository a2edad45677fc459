package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
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

// oaLoad fetches the served (merged) document.
func oaLoad(t *testing.T, e *testenv.Env) *oaChecker {
	t.Helper()
	resp, raw := xraw(t, e, "GET", "/api/openapi.json", "", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("openapi: %d", resp.StatusCode)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return &oaChecker{doc: doc}
}

// call sends a request as cl, asserts the status and checks the response against the
// document's operation for template; it returns the decoded body.
func (c *oaChecker) call(t *testing.T, cl *mgClient, status int, method, template, path string, body any) map[string]any {
	t.Helper()
	resp := cl.raw(method, path, body)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, status, raw)
	}
	c.conform(t, method, template, resp, raw)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

func oaStr(m map[string]any, fields ...string) string {
	for _, f := range fields[:len(fields)-1] {
		m = mgObj(m, f)
	}
	s, _ := m[fields[len(fields)-1]].(string)
	return s
}

// TestOpenAPIManagementConformance checks real responses of the management endpoints
// (successes and errors, through API keys and sessions) against the document.
func TestOpenAPIManagementConformance(t *testing.T) {
	e := testenv.New(t)
	c := oaLoad(t, e)
	anon := &mgClient{t: t, e: e}
	adminKey := mgKey(t, e, e.AdminKey)

	// Sessions.
	login := "/api/auth/login"
	c.call(t, anon, 200, "POST", login, login, map[string]any{"email": e.Admin.Email, "password": e.AdminPassword})
	c.call(t, anon, 401, "POST", login, login, map[string]any{"email": e.Admin.Email, "password": "wrong"})
	c.call(t, anon, 400, "POST", login, login, map[string]any{"password": "x"})
	c.call(t, anon, 400, "POST", login, login, []byte("{"))
	admin := mgLogin(t, e, e.Admin.Email, e.AdminPassword)
	c.call(t, admin, 200, "GET", "/api/auth/session", "/api/auth/session", nil)
	c.call(t, anon, 401, "GET", "/api/auth/session", "/api/auth/session", nil)
	noCSRF := *admin
	noCSRF.noCSRF = true
	c.call(t, &noCSRF, 403, "POST", "/api/users/me/password", "/api/users/me/password", map[string]any{"currentPassword": "x", "newPassword": "y"})
	c.call(t, &noCSRF, 403, "POST", "/api/workspaces", "/api/workspaces", map[string]any{"name": "x"})
	member := mgLogin(t, e, e.Member.Email, e.AdminPassword)
	c.call(t, member, 200, "POST", "/api/users/me/password", "/api/users/me/password",
		map[string]any{"currentPassword": e.AdminPassword, "newPassword": "another long passphrase"})
	c.call(t, member, 200, "POST", "/api/auth/logout", "/api/auth/logout", nil)
	c.call(t, anon, 401, "POST", "/api/auth/logout", "/api/auth/logout", nil)

	// Instance users.
	au := "/api/admin/users"
	c.call(t, admin, 200, "GET", au, au, nil)
	c.call(t, mgKey(t, e, e.MemberKey), 403, "GET", au, au, nil)
	u := c.call(t, admin, 201, "POST", au, au, map[string]any{"email": "new@example.com", "name": "New", "password": "a long enough password"})
	c.call(t, admin, 409, "POST", au, au, map[string]any{"email": "new@example.com", "password": "a long enough password"})
	c.call(t, admin, 400, "POST", au, au, map[string]any{"name": "no email"})
	c.call(t, admin, 200, "PATCH", au+"/{id}", au+"/"+oaStr(u, "user", "id"), map[string]any{"name": "Renamed", "disabled": true})
	c.call(t, admin, 404, "PATCH", au+"/{id}", au+"/nope", map[string]any{"name": "x"})

	// Personal keys: the plaintext only in create and rotate.
	pk := "/api/users/me/api-keys"
	c.call(t, adminKey, 200, "GET", pk, pk, nil)
	c.call(t, admin, 200, "GET", pk, pk, nil)
	k := c.call(t, admin, 201, "POST", pk, pk, map[string]any{"name": "laptop", "expiresIn": 3600})
	kid := oaStr(k, "key", "id")
	c.call(t, admin, 409, "POST", pk, pk, map[string]any{"name": "laptop"})
	c.call(t, admin, 400, "POST", pk, pk, map[string]any{"name": "x", "level": "read"})
	c.call(t, anon, 401, "GET", pk, pk, nil)
	c.call(t, mgKey(t, e, e.WSKey), 403, "GET", pk, pk, nil)
	r := c.call(t, admin, 200, "POST", pk+"/{id}/rotate", pk+"/"+kid+"/rotate", map[string]any{"graceSeconds": 60})
	c.call(t, admin, 200, "GET", pk, pk, nil) // now with a key in its grace period
	c.call(t, admin, 404, "POST", pk+"/{id}/rotate", pk+"/nope/rotate", nil)
	c.call(t, admin, 200, "DELETE", pk+"/{id}", pk+"/"+oaStr(r, "key", "id"), nil)
	c.call(t, admin, 404, "DELETE", pk+"/{id}", pk+"/nope", nil)

	// Workspaces and members.
	ws := "/api/workspaces"
	wsp := ws + "/" + e.WS.ID
	c.call(t, adminKey, 200, "GET", ws, ws, nil)
	c.call(t, mgKey(t, e, e.OrgKey), 200, "GET", ws, ws, nil)
	c.call(t, anon, 401, "GET", ws, ws, nil)
	c.call(t, admin, 200, "GET", ws+"/{id}", wsp, nil)
	c.call(t, mgKey(t, e, e.OutsiderKey), 403, "GET", ws+"/{id}", wsp, nil)
	c.call(t, admin, 404, "GET", ws+"/{id}", ws+"/nope", nil)
	nw := c.call(t, admin, 201, "POST", ws, ws, map[string]any{"name": "Fresh", "organizationId": e.Org.ID})
	c.call(t, admin, 400, "POST", ws, ws, map[string]any{})
	c.call(t, admin, 200, "PATCH", ws+"/{id}", ws+"/"+oaStr(nw, "workspace", "id"), map[string]any{"organizationId": nil, "allowPersonalApiKeys": false})
	c.call(t, mgKey(t, e, e.MemberKey), 403, "PATCH", ws+"/{id}", wsp, map[string]any{"name": "x"})
	c.call(t, adminKey, 200, "GET", ws+"/{id}/members", wsp+"/members", nil)
	inv := c.call(t, admin, 202, "POST", ws+"/{id}/members", wsp+"/members", map[string]any{"email": e.Outsider.Email, "permission": "read"})
	c.call(t, admin, 400, "POST", ws+"/{id}/members", wsp+"/members", map[string]any{"email": e.Outsider.Email, "permission": "owner"})
	c.call(t, mgKey(t, e, e.AdminKey), 403, "POST", ws+"/{id}/members", wsp+"/members", map[string]any{"email": e.Outsider.Email, "permission": "read"})
	c.call(t, admin, 200, "GET", ws+"/{id}/invitations", wsp+"/invitations", nil)
	fresh := c.call(t, admin, 202, "POST", ws+"/{id}/invitations", wsp+"/invitations", map[string]any{"email": "new@example.com", "permission": "write"})
	c.call(t, admin, 200, "DELETE", ws+"/{id}/invitations/{invitationId}", wsp+"/invitations/"+oaStr(fresh, "invitation", "id"), nil)
	c.call(t, admin, 404, "DELETE", ws+"/{id}/invitations/{invitationId}", wsp+"/invitations/"+oaStr(fresh, "invitation", "id"), nil)
	outsider := mgLogin(t, e, e.Outsider.Email, e.AdminPassword)
	c.call(t, outsider, 200, "GET", "/api/users/me/invitations", "/api/users/me/invitations", nil)
	c.call(t, outsider, 404, "POST", "/api/invitations/{id}/accept", "/api/invitations/nope/accept", nil)
	c.call(t, outsider, 200, "POST", "/api/invitations/{id}/accept", "/api/invitations/"+oaStr(inv, "invitation", "id")+"/accept", nil)
	c.call(t, admin, 200, "PATCH", ws+"/{id}/members/{userId}", wsp+"/members/"+e.Outsider.ID, map[string]any{"permission": "write"})
	c.call(t, admin, 200, "DELETE", ws+"/{id}/members/{userId}", wsp+"/members/"+e.Outsider.ID, nil)
	c.call(t, mgKey(t, e, e.OutsiderKey), 403, "GET", ws+"/{id}/members", wsp+"/members", nil)

	// Workspace keys and the organization keys reaching the workspace.
	wk := ws + "/{id}/api-keys"
	c.call(t, admin, 200, "GET", wk, wsp+"/api-keys", nil)
	k = c.call(t, admin, 201, "POST", wk, wsp+"/api-keys", map[string]any{"name": "ci", "level": "read", "workflowIds": []string{e.Echo.ID}, "allowedCidrs": []string{"127.0.0.0/8"}, "rateLimit": 100})
	kid = oaStr(k, "key", "id")
	c.call(t, admin, 409, "POST", wk, wsp+"/api-keys", map[string]any{"name": "ci"})
	c.call(t, admin, 400, "POST", wk, wsp+"/api-keys", map[string]any{"name": "bad", "level": "owner"})
	c.call(t, mgKey(t, e, e.WSKey), 403, "GET", wk, wsp+"/api-keys", nil)
	c.call(t, admin, 200, "GET", wk, wsp+"/api-keys", nil)
	c.call(t, admin, 200, "PUT", wk+"/{keyId}", wsp+"/api-keys/"+kid, map[string]any{"name": "ci2", "rateLimit": 50})
	c.call(t, admin, 404, "PUT", wk+"/{keyId}", wsp+"/api-keys/nope", map[string]any{"name": "x"})
	r = c.call(t, admin, 200, "POST", wk+"/{keyId}/rotate", wsp+"/api-keys/"+kid+"/rotate", map[string]any{"graceHours": 1})
	c.call(t, admin, 200, "DELETE", wk+"/{keyId}", wsp+"/api-keys/"+oaStr(r, "key", "id"), nil)
	c.call(t, admin, 200, "GET", ws+"/{id}/organization-api-keys", wsp+"/organization-api-keys", nil)
	c.call(t, mgKey(t, e, e.MemberKey), 403, "GET", ws+"/{id}/organization-api-keys", wsp+"/organization-api-keys", nil)

	// Organizations, their members and keys.
	og := "/api/organizations"
	ogp := og + "/" + e.Org.ID
	c.call(t, admin, 200, "GET", og, og, nil)
	no := c.call(t, admin, 201, "POST", og, og, map[string]any{"name": "Beta"})
	c.call(t, admin, 400, "POST", og, og, map[string]any{})
	c.call(t, admin, 200, "GET", og+"/{id}", ogp, nil)
	c.call(t, mgKey(t, e, e.OutsiderKey), 403, "GET", og+"/{id}", ogp, nil)
	c.call(t, admin, 404, "GET", og+"/{id}", og+"/nope", nil)
	c.call(t, admin, 200, "PATCH", og+"/{id}", og+"/"+oaStr(no, "organization", "id"), map[string]any{"name": "Beta 2", "maxKeyLifetimeSeconds": 86400})
	c.call(t, admin, 200, "GET", og+"/{id}/members", ogp+"/members", nil)
	oinv := c.call(t, admin, 202, "POST", og+"/{id}/members", ogp+"/members", map[string]any{"email": e.Member.Email})
	c.call(t, admin, 400, "POST", og+"/{id}/members", ogp+"/members", map[string]any{"email": e.Member.Email, "role": "boss"})
	c.call(t, admin, 200, "GET", og+"/{id}/invitations", ogp+"/invitations", nil)
	dinv := c.call(t, admin, 202, "POST", og+"/{id}/invitations", ogp+"/invitations", map[string]any{"email": e.Outsider.Email, "role": "admin"})
	c.call(t, outsider, 200, "POST", "/api/invitations/{id}/decline", "/api/invitations/"+oaStr(dinv, "invitation", "id")+"/decline", nil)
	c.call(t, admin, 404, "DELETE", og+"/{id}/invitations/{invitationId}", ogp+"/invitations/"+oaStr(dinv, "invitation", "id"), nil)
	c.call(t, mgLogin(t, e, e.Member.Email, "another long passphrase"), 200, "POST", "/api/invitations/{id}/accept", "/api/invitations/"+oaStr(oinv, "invitation", "id")+"/accept", nil)
	c.call(t, admin, 200, "PATCH", og+"/{id}/members/{userId}", ogp+"/members/"+e.Member.ID, map[string]any{"role": "admin"})
	c.call(t, admin, 200, "DELETE", og+"/{id}/members/{userId}", ogp+"/members/"+e.Member.ID, nil)
	ok := og + "/{id}/api-keys"
	c.call(t, admin, 200, "GET", ok, ogp+"/api-keys", nil)
	k = c.call(t, admin, 201, "POST", ok, ogp+"/api-keys", map[string]any{"name": "reporting",
		"grants": []any{map[string]any{"workflowId": e.Greet.ID, "level": "read"}, map[string]any{"workspaceId": e.WS.ID, "level": "write"}}})
	kid = oaStr(k, "key", "id")
	c.call(t, admin, 200, "GET", ok, ogp+"/api-keys", nil)
	c.call(t, admin, 409, "POST", ok, ogp+"/api-keys", map[string]any{"name": "reporting", "grants": []any{map[string]any{"workspaceId": e.WS.ID, "level": "read"}}})
	c.call(t, admin, 400, "POST", ok, ogp+"/api-keys", map[string]any{"name": "no grants"})
	c.call(t, mgKey(t, e, e.OrgKey), 403, "GET", ok, ogp+"/api-keys", nil)
	r = c.call(t, admin, 200, "POST", ok+"/{keyId}/rotate", ogp+"/api-keys/"+kid+"/rotate", nil)
	c.call(t, admin, 200, "DELETE", ok+"/{keyId}", ogp+"/api-keys/"+oaStr(r, "key", "id"), nil)
	c.call(t, admin, 404, "DELETE", ok+"/{keyId}", ogp+"/api-keys/nope", nil)

	// Environment variables: names only, never values.
	we := ws + "/{id}/environment"
	c.call(t, adminKey, 200, "PUT", we+"/{name}", wsp+"/environment/API_TOKEN", map[string]any{"value": "v"})
	c.call(t, admin, 200, "PUT", we+"/{name}", wsp+"/environment/OTHER", map[string]any{"value": ""})
	c.call(t, adminKey, 400, "PUT", we+"/{name}", wsp+"/environment/not-valid", map[string]any{"value": "v"})
	c.call(t, adminKey, 400, "PUT", we+"/{name}", wsp+"/environment/X", map[string]any{})
	c.call(t, mgKey(t, e, e.MemberKey), 403, "PUT", we+"/{name}", wsp+"/environment/X", map[string]any{"value": "v"})
	c.call(t, adminKey, 404, "PUT", we+"/{name}", ws+"/nope/environment/X", map[string]any{"value": "v"})
	c.call(t, mgKey(t, e, e.MemberKey), 200, "GET", we, wsp+"/environment", nil)
	c.call(t, mgKey(t, e, e.OutsiderKey), 403, "GET", we, wsp+"/environment", nil)
	c.call(t, anon, 401, "GET", we, wsp+"/environment", nil)
	c.call(t, adminKey, 200, "DELETE", we+"/{name}", wsp+"/environment/OTHER", nil)
	c.call(t, adminKey, 404, "DELETE", we+"/{name}", wsp+"/environment/OTHER", nil)
	c.call(t, mgKey(t, e, e.MemberKey), 403, "DELETE", we+"/{name}", wsp+"/environment/API_TOKEN", nil)
	me := "/api/users/me/environment"
	c.call(t, admin, 200, "PUT", me+"/{name}", me+"/API_TOKEN", map[string]any{"value": "mine"})
	c.call(t, mgKey(t, e, e.MemberKey), 200, "PUT", me+"/{name}", me+"/MINE", map[string]any{"value": "x"})
	c.call(t, mgKey(t, e, e.WSKey), 403, "PUT", me+"/{name}", me+"/MINE", map[string]any{"value": "x"})
	c.call(t, admin, 200, "GET", me, me, nil)
	c.call(t, mgKey(t, e, e.WSKey), 403, "GET", me, me, nil)
	c.call(t, admin, 200, "DELETE", me+"/{name}", me+"/API_TOKEN", nil)
	c.call(t, admin, 404, "DELETE", me+"/{name}", me+"/API_TOKEN", nil)

	// v1 workflows.
	wf := "/api/v1/workflows"
	c.call(t, adminKey, 200, "GET", wf, wf, nil)
	c.call(t, mgKey(t, e, e.WSNarrowKey), 200, "GET", wf, wf+"?workspaceId="+e.WS.ID, nil)
	c.call(t, anon, 401, "GET", wf, wf, nil)
	c.call(t, adminKey, 200, "GET", wf+"/{id}", wf+"/"+e.Greet.ID, nil)
	c.call(t, adminKey, 404, "GET", wf+"/{id}", wf+"/nope", nil)
	c.call(t, mgKey(t, e, e.OutsiderKey), 403, "GET", wf+"/{id}", wf+"/"+e.Greet.ID, nil)
	c.call(t, adminKey, 200, "GET", wf+"/{id}/export", wf+"/"+e.Greet.ID+"/export", nil)
	c.call(t, adminKey, 404, "GET", wf+"/{id}/export", wf+"/nope/export", nil)
	sim := testenv.Workflow(t, "greet.json")
	imp := c.call(t, adminKey, 201, "POST", wf+"/import", wf+"/import?workspaceId="+e.WS.ID, sim)
	c.call(t, admin, 201, "POST", wf+"/import", wf+"/import", map[string]any{"workspaceId": e.WS.ID, "workflow": string(sim)})
	c.call(t, adminKey, 400, "POST", wf+"/import", wf+"/import", sim)
	c.call(t, adminKey, 400, "POST", wf+"/import", wf+"/import?workspaceId="+e.WS.ID, map[string]any{"state": map[string]any{"blocks": map[string]any{}}})
	c.call(t, mgKey(t, e, e.MemberKey), 403, "POST", wf+"/import", wf+"/import?workspaceId="+e.WS.ID, sim)
	impID := oaStr(imp, "data", "id")
	c.call(t, adminKey, 200, "POST", wf+"/{id}/deploy", wf+"/"+impID+"/deploy", nil)
	c.call(t, adminKey, 200, "GET", wf+"/{id}", wf+"/"+impID, nil)
	c.call(t, mgKey(t, e, e.WSKey), 403, "POST", wf+"/{id}/deploy", wf+"/"+impID+"/deploy", nil)
	c.call(t, adminKey, 404, "POST", wf+"/{id}/deploy", wf+"/nope/deploy", nil)
	c.call(t, adminKey, 200, "PUT", wf+"/{id}", wf+"/"+impID, sim)
	c.call(t, adminKey, 400, "PUT", wf+"/{id}", wf+"/"+impID, map[string]any{"state": map[string]any{"blocks": map[string]any{}}})
	c.call(t, mgKey(t, e, e.MemberKey), 403, "PUT", wf+"/{id}", wf+"/"+impID, sim)
	c.call(t, adminKey, 404, "PUT", wf+"/{id}", wf+"/nope", sim)
	c.call(t, adminKey, 200, "POST", wf+"/{id}/deploy", wf+"/"+impID+"/deploy", map[string]any{"note": "second"})
	c.call(t, adminKey, 200, "POST", wf+"/{id}/deploy", wf+"/"+impID+"/deploy", map[string]any{"version": 1})
	c.call(t, adminKey, 404, "POST", wf+"/{id}/deploy", wf+"/"+impID+"/deploy", map[string]any{"version": 99})
	c.call(t, adminKey, 400, "POST", wf+"/{id}/deploy", wf+"/"+impID+"/deploy", map[string]any{"version": 0})
	c.call(t, adminKey, 200, "GET", wf+"/{id}/versions", wf+"/"+impID+"/versions", nil)
	c.call(t, mgKey(t, e, e.OutsiderKey), 403, "GET", wf+"/{id}/versions", wf+"/"+impID+"/versions", nil)
	c.call(t, adminKey, 404, "GET", wf+"/{id}/versions", wf+"/nope/versions", nil)
	c.call(t, adminKey, 200, "GET", wf+"/{id}/export", wf+"/"+impID+"/export?version=2", nil)
	c.call(t, adminKey, 404, "GET", wf+"/{id}/export", wf+"/"+impID+"/export?version=9", nil)
	c.call(t, adminKey, 400, "GET", wf+"/{id}/export", wf+"/"+impID+"/export?version=x", nil)
	c.call(t, admin, 200, "DELETE", wf+"/{id}/deploy", wf+"/"+impID+"/deploy", nil)
	c.call(t, admin, 200, "DELETE", wf+"/{id}", wf+"/"+impID, nil)
	c.call(t, admin, 404, "DELETE", wf+"/{id}", wf+"/"+impID, nil)

	// MCP server objects.
	ms := ws + "/{id}/mcp-servers"
	srv := c.call(t, adminKey, 201, "POST", ms, wsp+"/mcp-servers", map[string]any{"name": "tools", "description": "Greeting tools", "workflowIds": []string{e.Greet.ID}})
	c.call(t, admin, 201, "POST", ms, wsp+"/mcp-servers", map[string]any{"name": "empty"})
	c.call(t, adminKey, 400, "POST", ms, wsp+"/mcp-servers", map[string]any{"name": ""})
	c.call(t, mgKey(t, e, e.MemberKey), 403, "POST", ms, wsp+"/mcp-servers", map[string]any{"name": "x"})
	c.call(t, mgKey(t, e, e.WSReadKey), 200, "GET", ms, wsp+"/mcp-servers", nil)
	c.call(t, mgKey(t, e, e.OutsiderKey), 403, "GET", ms, wsp+"/mcp-servers", nil)
	sp := "/api/mcp-servers/" + oaStr(srv, "server", "id")
	c.call(t, adminKey, 200, "GET", "/api/mcp-servers/{id}", sp, nil)
	c.call(t, adminKey, 404, "GET", "/api/mcp-servers/{id}", "/api/mcp-servers/nope", nil)
	c.call(t, adminKey, 200, "PATCH", "/api/mcp-servers/{id}", sp, map[string]any{"workflowIds": []string{e.Greet.ID, e.Echo.ID}})
	c.call(t, adminKey, 400, "PATCH", "/api/mcp-servers/{id}", sp, map[string]any{"name": " "})
	c.call(t, adminKey, 200, "DELETE", "/api/mcp-servers/{id}", sp, nil)
	c.call(t, adminKey, 404, "DELETE", "/api/mcp-servers/{id}", sp, nil)

	// Model providers: the key is write-only.
	mp := ws + "/{id}/model-providers"
	c.call(t, adminKey, 201, "POST", mp, wsp+"/model-providers", map[string]any{"name": "openai", "kind": "openai", "apiKey": "sk-x-123456", "models": []string{"gpt-*"}})
	c.call(t, adminKey, 409, "POST", mp, wsp+"/model-providers", map[string]any{"name": "openai", "kind": "openai"})
	c.call(t, adminKey, 400, "POST", mp, wsp+"/model-providers", map[string]any{"name": "x", "kind": "nope"})
	c.call(t, mgKey(t, e, e.MemberKey), 403, "POST", mp, wsp+"/model-providers", map[string]any{"name": "y", "kind": "openai"})
	c.call(t, mgKey(t, e, e.WSReadKey), 200, "GET", mp, wsp+"/model-providers", nil)
	c.call(t, adminKey, 400, "POST", mp+"/{providerId}/test", wsp+"/model-providers/openai/test", map[string]any{})
	c.call(t, adminKey, 404, "POST", mp+"/{providerId}/test", wsp+"/model-providers/nope/test", nil)
	c.call(t, adminKey, 200, "DELETE", mp+"/{providerId}", wsp+"/model-providers/openai", nil)
	c.call(t, adminKey, 404, "DELETE", mp+"/{providerId}", wsp+"/model-providers/openai", nil)

	// External MCP servers: header values are write-only.
	xm := ws + "/{id}/external-mcp-servers"
	c.call(t, adminKey, 201, "POST", xm, wsp+"/external-mcp-servers", map[string]any{"name": "tools", "url": "https://mcp.example.com/mcp", "headers": map[string]string{"Authorization": "Bearer x"}})
	c.call(t, adminKey, 409, "POST", xm, wsp+"/external-mcp-servers", map[string]any{"name": "tools", "url": "https://mcp.example.com/mcp"})
	c.call(t, adminKey, 400, "POST", xm, wsp+"/external-mcp-servers", map[string]any{"name": "x", "url": "ftp://x"})
	c.call(t, mgKey(t, e, e.MemberKey), 403, "POST", xm, wsp+"/external-mcp-servers", map[string]any{"name": "y", "url": "https://x"})
	c.call(t, mgKey(t, e, e.WSReadKey), 200, "GET", xm, wsp+"/external-mcp-servers", nil)
	c.call(t, adminKey, 200, "DELETE", xm+"/{serverId}", wsp+"/external-mcp-servers/tools", nil)
	c.call(t, adminKey, 404, "DELETE", xm+"/{serverId}", wsp+"/external-mcp-servers/tools", nil)

	// Connected apps (OAuth grants to MCP clients).
	now := time.Now().UTC()
	cl := &store.OAuthClient{ID: "seoc_test", Name: "Test App", RedirectURIs: []string{"https://app.example/cb"}, CreatedAt: now, LastUsedAt: now}
	if err := e.App.Store.CreateOAuthClient(t.Context(), cl, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	g := &store.OAuthGrant{ID: store.NewID(), ClientID: cl.ID, ClientName: cl.Name, RedirectHost: "app.example", UserID: e.Admin.ID,
		WorkspaceID: e.WS.ID, Workflows: []string{e.Echo.ID}, Level: store.LevelWrite, Resource: e.URL + "/mcp", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.App.Store.CreateOAuthGrant(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	ca := "/api/users/me/connected-apps"
	c.call(t, admin, 200, "GET", ca, ca, nil)
	c.call(t, adminKey, 200, "GET", ca, ca, nil)
	c.call(t, mgKey(t, e, e.WSKey), 403, "GET", ca, ca, nil)
	c.call(t, anon, 401, "GET", ca, ca, nil)
	c.call(t, admin, 200, "GET", ws+"/{id}/connected-apps", wsp+"/connected-apps", nil)
	c.call(t, mgKey(t, e, e.MemberKey), 403, "GET", ws+"/{id}/connected-apps", wsp+"/connected-apps", nil)
	c.call(t, admin, 404, "GET", ws+"/{id}/connected-apps", ws+"/nope/connected-apps", nil)
	c.call(t, adminKey, 403, "DELETE", ca+"/{id}", ca+"/"+g.ID, nil)
	c.call(t, admin, 200, "DELETE", ca+"/{id}", ca+"/"+g.ID, nil)
	c.call(t, admin, 404, "DELETE", ca+"/{id}", ca+"/"+g.ID, nil)

	// Probes.
	c.call(t, anon, 200, "GET", "/healthz", "/healthz", nil)
	c.call(t, anon, 200, "GET", "/readyz", "/readyz", nil)
}

// TestOpenAPIDocumentsEveryRoute reads the routes registered on the mux from this
// package's sources (a.handle / a.mux.HandleFunc patterns) and asserts each is in the
// served document, and that the document names no route that is not registered.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\.(?:handle|HandleFunc)\("([A-Z]+) (/[^"]*)"`)
	registered := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			registered[m[1]+" "+m[2]] = true
		}
	}
	// A floor, so that a change in how routes are registered cannot make this vacuous.
	if len(registered) < 60 {
		t.Fatalf("found only %d registered routes; has the registration pattern changed?", len(registered))
	}
	c := oaLoad(t, testenv.New(t))
	documented := map[string]bool{}
	for path, item := range c.doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if _, isOp := op.(map[string]any)["responses"]; isOp {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	var missing, stale []string
	for r := range registered {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !registered[r] {
			stale = append(stale, r)
		}
	}
	slices.Sort(missing)
	slices.Sort(stale)
	if len(missing) > 0 {
		t.Errorf("registered but not in the OpenAPI document:\n%s", strings.Join(missing, "\n"))
	}
	if len(stale) > 0 {
		t.Errorf("in the OpenAPI document but not registered:\n%s", strings.Join(stale, "\n"))
	}
	// Every operation documents its security (an empty list: public) and its responses
	// name only statuses with a description.
	for path, item := range c.doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			o := op.(map[string]any)
			if _, ok := o["operationId"].(string); !ok {
				t.Errorf("%s %s: no operationId", method, path)
			}
			for status, r := range o["responses"].(map[string]any) {
				if _, ok := c.resolve(r.(map[string]any))["description"].(string); !ok {
					t.Errorf("%s %s %s: response without description", method, path, status)
				}
			}
		}
	}
}
