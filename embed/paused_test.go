package embed_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/engine"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// approvalForm is test/workflows/approval.json with a resume form of every field type.
func approvalForm(t *testing.T) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(testenv.Workflow(t, "approval.json"), &doc); err != nil {
		t.Fatal(err)
	}
	hitl := doc["state"].(map[string]any)["blocks"].(map[string]any)["approval"].(map[string]any)
	hitl["subBlocks"].(map[string]any)["inputFormat"].(map[string]any)["value"] = []any{
		map[string]any{"id": "a1", "name": "approved", "type": "boolean"},
		map[string]any{"id": "a2", "name": "comment", "type": "string", "label": "Your comment", "required": true},
		map[string]any{"id": "a3", "name": "limit", "type": "number", "value": 3},
		map[string]any{"id": "a4", "name": "meta", "type": "object"},
		map[string]any{"id": "a5", "name": "tags", "type": "array"},
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pausedRun deploys wf data in the test workspace and runs it through the API until it
// pauses at its approval; it returns the workflow and execution ids.
func pausedRun(t *testing.T, e *testenv.Env, def []byte) (wfID, execID string) {
	t.Helper()
	ctx, op := context.Background(), auth.Operator()
	wf, err := e.App.Service.ImportWorkflow(ctx, op, e.WS.ID, def)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Service.Deploy(ctx, op, wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", e.URL+"/api/workflows/"+wf.ID+"/execute", strings.NewReader(`{"amount": 5}`))
	req.Header.Set("X-API-Key", e.WSKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 || out["status"] != "paused" {
		t.Fatalf("execute: %d %v", resp.StatusCode, out)
	}
	return wf.ID, out["executionId"].(string)
}

func execStatus(t *testing.T, e *testenv.Env, execID string) string {
	t.Helper()
	ex, err := e.App.Store.Logs().Get(context.Background(), execID)
	if err != nil {
		t.Fatal(err)
	}
	return ex.Status
}

// A person reviews a paused run in the dashboard and answers its approval: the form is
// built from the block's inputFormat, values are typed, bad ones are refused before
// anything runs, readers and forged posts are refused, and a second answer is 409.
func TestResumeInDashboard(t *testing.T) {
	e := testenv.New(t)
	wfID, execID := pausedRun(t, e, approvalForm(t))
	wfPath := "/dashboard/workspaces/" + e.WS.ID + "/workflows/" + wfID
	pagePath := wfPath + "/paused/" + execID + "/approval"
	b := signIn(t, e, e.Member.Email, e.AdminPassword) // write on the workspace

	_, page := b.get(wfPath)
	if !strings.Contains(page, "1 run is paused") || !strings.Contains(page, `href="`+wfPath+`/paused"`) {
		t.Error("the workflow page does not point to its paused run")
	}
	code, page := b.get(wfPath + "/paused")
	if code != 200 || !strings.Contains(page, execID) || !strings.Contains(page, "Approval") || !strings.Contains(page, `href="`+pagePath+`"`) {
		t.Fatalf("paused runs = %d: %s", code, page)
	}

	if _, page := b.get("/dashboard/workspaces/" + e.WS.ID + "/logs/" + execID); !strings.Contains(page, `href="/dashboard/resume/`+wfID+`/`+execID+`"`) {
		t.Error("the paused run's log does not lead to its approval")
	}
	if _, page := b.get("/dashboard/workspaces/" + e.WS.ID + "/logs?status=paused"); !strings.Contains(page, execID) {
		t.Error("the logs' paused filter does not find the run")
	}
	code, page = b.get(pagePath)
	if code != 200 {
		t.Fatalf("resume page = %d: %s", code, page)
	}
	for _, want := range []string{
		"<dt>quote</dt><dd><code>10</code></dd>", // builderData <quote.result>, as rendered at pause time
		`type="checkbox" id="resume-field-0" name="in_approved" value="true"`,
		`name="in_comment" type="text" value="" required`, "Your comment",
		`name="in_limit" type="number" step="any" value="3"`,
		`<textarea id="resume-field-3" name="in_meta"`, `<textarea id="resume-field-4" name="in_tags"`,
		`action="` + pagePath + `"`, `name="csrf"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("resume page lacks %q", want)
		}
	}

	good := func() url.Values {
		return url.Values{"in_approved": {"true"}, "in_comment": {"go"}, "in_limit": {"7"}, "in_meta": {`{"a": 1}`}, "in_tags": {`["x", 2]`}}
	}
	t.Run("reader sees but cannot answer", func(t *testing.T) {
		reader := addUser(t, e, "reader@example.com")
		if err := e.App.Store.SetWorkspaceMember(context.Background(), e.WS.ID, reader.ID, store.LevelRead); err != nil {
			t.Fatal(err)
		}
		rb := signIn(t, e, reader.Email, e.AdminPassword)
		code, page := rb.get(pagePath)
		if code != 200 || !strings.Contains(page, "<dt>quote</dt>") || strings.Contains(page, `id="resume-form"`) || !strings.Contains(page, "needs write permission") {
			t.Errorf("resume page for a reader = %d", code)
		}
		if code, _ := rb.get(wfPath + "/paused"); code != 200 {
			t.Errorf("paused runs for a reader = %d", code)
		}
		if code, body, _ := rb.post(pagePath, good()); code != http.StatusForbidden || !strings.Contains(body, "do not have permission") {
			t.Errorf("reader answering = %d", code)
		}
		if s := execStatus(t, e, execID); s != store.StatusPaused {
			t.Fatalf("a refused answer moved the run to %s", s)
		}
	})
	t.Run("outsider does not see it", func(t *testing.T) {
		ob := signIn(t, e, e.Outsider.Email, e.AdminPassword)
		if code, _ := ob.get(pagePath); code != http.StatusNotFound {
			t.Errorf("outsider resume page = %d", code)
		}
		if code, _, _ := ob.post(pagePath, good()); code != http.StatusNotFound {
			t.Errorf("outsider answering = %d", code)
		}
	})

	refused := []struct {
		name   string
		change func(url.Values)
		status int
		want   string
	}{
		{"no csrf token", func(v url.Values) { v.Set("csrf", "") }, http.StatusForbidden, "did not come from this dashboard"},
		{"forged csrf token", func(v url.Values) { v.Set("csrf", "forged") }, http.StatusForbidden, "did not come from this dashboard"},
		{"object not JSON", func(v url.Values) { v.Set("in_meta", "{nope") }, http.StatusBadRequest, "meta must be JSON"},
		{"array not JSON", func(v url.Values) { v.Set("in_tags", "[1,") }, http.StatusBadRequest, "tags must be JSON"},
		{"number not a number", func(v url.Values) { v.Set("in_limit", "lots") }, http.StatusBadRequest, "limit must be a number"},
		{"required field empty", func(v url.Values) { v.Set("in_comment", " ") }, http.StatusBadRequest, "Your comment is required"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			form := good()
			tc.change(form)
			code, body, _ := b.post(pagePath, form)
			if code != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("= %d, want %d with %q", code, tc.status, tc.want)
			}
			if tc.status == http.StatusBadRequest && !strings.Contains(body, `[&#34;x&#34;, 2]</textarea>`) && tc.name != "array not JSON" {
				t.Error("the form lost what was typed")
			}
			if s := execStatus(t, e, execID); s != store.StatusPaused {
				t.Fatalf("a refused answer moved the run to %s", s)
			}
		})
	}

	code, body, _ := b.post(pagePath, good())
	if code != 200 || !strings.Contains(body, `<span class="badge ok">completed</span>`) || !strings.Contains(body, "approved 10: go") ||
		!strings.Contains(body, `href="/dashboard/workspaces/`+e.WS.ID+`/logs/`+execID+`"`) {
		t.Fatalf("answer = %d: %s", code, body)
	}
	ex, err := e.App.Store.Logs().Get(context.Background(), execID)
	if err != nil || ex.Status != store.StatusCompleted {
		t.Fatalf("logged run: %+v %v", ex, err)
	}
	var logs []engine.BlockLog
	json.Unmarshal(ex.BlockLogs, &logs)
	var got map[string]any
	for _, l := range logs {
		if l.BlockID == "approval" {
			got = l.Output["submission"].(map[string]any)
		}
	}
	want := map[string]any{"approved": true, "comment": "go", "limit": float64(7), "meta": map[string]any{"a": float64(1)}, "tags": []any{"x", float64(2)}}
	if gj, _ := json.Marshal(got); string(gj) != mustJSON(want) {
		t.Errorf("submission = %s, want %s", gj, mustJSON(want))
	}

	// The second answer: already answered, nothing runs again.
	code, body, _ = b.post(pagePath, good())
	if code != http.StatusConflict || !strings.Contains(body, "already answered") {
		t.Errorf("second answer = %d: %s", code, body)
	}
	if code, page := b.get(pagePath); code != 200 || !strings.Contains(page, "Already answered") {
		t.Errorf("resume page after the answer = %d", code)
	}
	if _, page := b.get(wfPath + "/paused"); !strings.Contains(page, "No paused runs") {
		t.Error("the answered run is still listed as paused")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The uiUrl a paused block hands out leads a browser to the approval page, through the
// login page and back; API clients get the JSON they always got.
func TestResumeLinkFromBrowser(t *testing.T) {
	e := testenv.New(t)
	wfID, execID := pausedRun(t, e, testenv.Workflow(t, "approval.json"))
	uiURL := "/api/resume/" + wfID + "/" + execID
	pagePath := "/dashboard/workspaces/" + e.WS.ID + "/workflows/" + wfID + "/paused/" + execID + "/approval"

	get := func(c *http.Client, path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	b := newBrowser(t, e)
	browserAccept := map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
	resp := get(b.c, uiURL, browserAccept)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/resume/"+wfID+"/"+execID {
		t.Fatalf("browser on uiUrl = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = get(b.c, resp.Header.Get("Location"), browserAccept)
	next := "/dashboard/resume/" + wfID + "/" + execID
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape(next) {
		t.Fatalf("signed out = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, login := b.get(resp.Header.Get("Location"))
	m := csrfRE.FindStringSubmatch(login)
	if m == nil || !strings.Contains(login, `value="`+next+`"`) {
		t.Fatalf("login page does not carry the way back: %s", login)
	}
	resp = b.do("POST", "/login", url.Values{"csrf": {m[1]}, "email": {e.Member.Email}, "password": {e.AdminPassword}, "next": {next}}, "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != next {
		t.Fatalf("login = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = get(b.c, next, browserAccept)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != pagePath {
		t.Fatalf("resume link = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, page := b.get(pagePath); code != 200 || !strings.Contains(page, `id="resume-form"`) {
		t.Fatalf("resume page = %d", code)
	}

	// Programs: with a key, or asking for JSON (or anything), the Sim-compatible detail.
	for name, hdr := range map[string]map[string]string{
		"key and JSON":         {"X-API-Key": e.WSKey, "Accept": "application/json"},
		"key, browser accept":  {"X-API-Key": e.WSKey, "Accept": browserAccept["Accept"]},
		"bearer, any":          {"Authorization": "Bearer " + e.WSKey, "Accept": "*/*"},
		"key, no accept":       {"X-API-Key": e.WSKey},
		"no key, JSON (401)":   {"Accept": "application/json"},
		"no key, any (401)":    {"Accept": "*/*"},
		"no key, json first":   {"Accept": "application/json, text/html"},
		"key, html after json": {"X-API-Key": e.WSKey, "Accept": "application/json;q=1, text/html"},
	} {
		req, _ := http.NewRequest("GET", e.URL+uiURL, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: not JSON: %d %s", name, resp.StatusCode, raw)
			continue
		}
		_, hasKey := hdr["X-API-Key"]
		_, hasBearer := hdr["Authorization"]
		switch {
		case hasKey || hasBearer:
			if resp.StatusCode != 200 || out["executionId"] != execID || out["pauseKind"] != "human" {
				t.Errorf("%s: %d %v", name, resp.StatusCode, out)
			}
		case resp.StatusCode != http.StatusUnauthorized:
			t.Errorf("%s: %d, want 401", name, resp.StatusCode)
		}
	}

	// Once answered, the link leads to the run's log.
	if code, _, _ := (&browser{t: t, e: e, c: b.c, csrf: csrfRE.FindStringSubmatch(mustGet(t, b, pagePath))[1]}).post(pagePath,
		url.Values{"in_approved": {"true"}, "in_comment": {"ok"}}); code != 200 {
		t.Fatalf("answer = %d", code)
	}
	resp = get(b.c, next, browserAccept)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/workspaces/"+e.WS.ID+"/logs/"+execID+"?done=already-resumed" {
		t.Errorf("answered link = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, page := b.get("/dashboard/workspaces/" + e.WS.ID + "/logs/" + execID + "?done=already-resumed"); !strings.Contains(page, "no longer waits for an answer") {
		t.Error("the log page does not say why it was shown")
	}
}

func mustGet(t *testing.T, b *browser, path string) string {
	t.Helper()
	code, page := b.get(path)
	if code != 200 {
		t.Fatalf("GET %s = %d", path, code)
	}
	return page
}

// Timed waits are listed with their resume time but have no approval page; the
// approval page shows secrets in the block's display data as logs do (redacted).
func TestPausedWaitsAndRedaction(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	if _, err := e.App.Service.SetEnv(ctx, auth.Operator(), core.EnvScope{WorkspaceID: e.WS.ID}, "TOKEN", "s3cr3t-value-42"); err != nil {
		t.Fatal(err)
	}
	def := strings.Replace(string(testenv.Workflow(t, "approval.json")),
		`{ "id": "r1", "name": "quote", "type": "number", "value": "<quote.result>" }`,
		`{ "id": "r1", "name": "quote", "type": "number", "value": "<quote.result>" }, { "id": "r2", "name": "token", "type": "string", "value": "{{TOKEN}}" }`, 1)
	if !strings.Contains(def, "{{TOKEN}}") {
		t.Fatal("fixture changed: builderData row not found")
	}
	wfID, execID := pausedRun(t, e, []byte(def))
	b := signIn(t, e, e.Member.Email, e.AdminPassword)
	code, page := b.get("/dashboard/workspaces/" + e.WS.ID + "/workflows/" + wfID + "/paused/" + execID + "/approval")
	if code != 200 || !strings.Contains(page, "<dt>token</dt><dd><code>[REDACTED]</code></dd>") || strings.Contains(page, "s3cr3t-value-42") {
		t.Errorf("display of a secret = %d: %s", code, page)
	}

	waitID, waitExec := pausedRun(t, e, testenv.Workflow(t, "long-wait.json"))
	waitPath := "/dashboard/workspaces/" + e.WS.ID + "/workflows/" + waitID + "/paused"
	code, page = b.get(waitPath)
	if code != 200 || !strings.Contains(page, waitExec) || !strings.Contains(page, `<span class="badge">wait</span> Nap`) || !strings.Contains(page, "resumes 20") || strings.Contains(page, "Review") {
		t.Errorf("paused waits = %d: %s", code, page)
	}
	if code, page := b.get(waitPath + "/" + waitExec + "/nap"); code != http.StatusBadRequest || !strings.Contains(page, "not answered by a person") {
		t.Errorf("approval page of a timed wait = %d", code)
	}
	if code, _ := b.get(waitPath + "/" + waitExec + "/nope"); code != http.StatusNotFound {
		t.Errorf("approval page of an unknown pause point = %d", code)
	}
	// Its uiUrl has no human pause point to lead to: the paused runs list.
	req, _ := http.NewRequest("GET", e.URL+"/dashboard/resume/"+waitID+"/"+waitExec, nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != waitPath {
		t.Errorf("resume link of a wait = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
