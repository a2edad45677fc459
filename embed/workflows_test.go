package embed_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestImportDeployRunAndLogs(t *testing.T) {
	e := testenv.New(t)
	b := signIn(t, e, e.Admin.Email, e.AdminPassword)
	wsPath := "/dashboard/workspaces/" + e.WS.ID

	// A broken file is reported, not imported.
	code, body, _ := b.upload(wsPath+"/workflows/import", "file", "bad.json", []byte(`{"state": {"blocks": 7}}`))
	if code != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) {
		t.Errorf("bad import = %d", code)
	}
	if code, _, _ := b.upload(wsPath+"/workflows/import", "file", "empty.json", nil); code != http.StatusBadRequest {
		t.Errorf("empty import = %d", code)
	}

	_, _, resp := b.upload(wsPath+"/workflows/import", "file", "greet.json", testenv.Workflow(t, "greet.json"))
	loc := resp.Header.Get("Location")
	m := regexp.MustCompile(`/workflows/([0-9a-z]+)\?done=imported$`).FindStringSubmatch(loc)
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("import = %d → %s", resp.StatusCode, loc)
	}
	wfID := m[1]
	wfPath := wsPath + "/workflows/" + wfID
	_, page := b.get(wfPath)
	if !strings.Contains(page, "not deployed") || strings.Contains(page, "run-button") {
		t.Error("an undeployed workflow offers a run form")
	}

	_, _, resp = b.post(wfPath+"/deploy", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deploy = %d", resp.StatusCode)
	}
	_, page = b.get(wfPath)
	for _, want := range []string{"deployed · v1", `name="in_name"`, `value="World"`, `name="in_n"`, `type="number"`,
		"curl -X POST " + e.URL + "/api/workflows/" + wfID + "/execute", `-H &#34;X-API-Key: YOUR_API_KEY&#34;`,
		"&#39;X-API-Key&#39;: process.env.STEELENGINE_API_KEY!", "os.environ[&#34;STEELENGINE_API_KEY&#34;]", e.URL + "/mcp"} {
		if !strings.Contains(page, want) {
			t.Errorf("workflow page lacks %q", want)
		}
	}
	_, list := b.get(wsPath + "/workflows")
	if !strings.Contains(list, "v1") {
		t.Error("list does not show the deployed version")
	}

	// Bad input type is refused before running.
	code, body, _ = b.post(wfPath+"/run", url.Values{"in_name": {"Ada"}, "in_n": {"lots"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "n must be a number") {
		t.Errorf("bad run input = %d", code)
	}
	code, body, _ = b.post(wfPath+"/run", url.Values{"in_name": {"Ada"}, "in_n": {"21"}})
	if code != 200 || !strings.Contains(body, "Hello Ada! 42") || !strings.Contains(body, `<span class="badge ok">completed</span>`) {
		t.Fatalf("run = %d: %s", code, body)
	}
	if !strings.Contains(body, "Double It") || !strings.Contains(body, "<svg viewBox=\"0 0 100 14\"") {
		t.Error("run result lacks the block trace")
	}
	exec := regexp.MustCompile(`/logs/([0-9a-z]+)"`).FindStringSubmatch(body)
	if exec == nil {
		t.Fatal("no link to the log")
	}

	// Deploying again makes v2; rolling back activates v1.
	b.post(wfPath+"/deploy", nil)
	_, _, resp = b.post(wfPath+"/activate", url.Values{"version": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("activate = %d", resp.StatusCode)
	}
	_, page = b.get(wfPath)
	if !strings.Contains(page, "deployed · v1") || !strings.Contains(page, "v2") {
		t.Error("rollback did not activate v1")
	}

	// Logs: the run is listed (filters applied), with the chart; the detail has the trace.
	code, page = b.get(wsPath + "/logs?trigger=manual&status=completed&workflow=" + wfID)
	if code != 200 || !strings.Contains(page, exec[1]) || !strings.Contains(page, `class="chart"`) || !strings.Contains(page, "<desc id=\"chart-desc\">1 executions") {
		t.Errorf("logs = %d", code)
	}
	if _, page = b.get(wsPath + "/logs?trigger=api"); strings.Contains(page, exec[1]) {
		t.Error("trigger filter ignored")
	}
	if code, _ := b.get(wsPath + "/logs?status=exploded"); code != http.StatusBadRequest {
		t.Errorf("bad status filter = %d", code)
	}
	code, page = b.get(wsPath + "/logs/" + exec[1])
	if code != 200 || !strings.Contains(page, "Block trace") || !strings.Contains(page, "Double It") || !strings.Contains(page, "Hello Ada! 42") || !strings.Contains(page, "<code>manual</code>") {
		t.Errorf("log detail = %d", code)
	}
}

func TestLogsPaging(t *testing.T) {
	e := testenv.New(t)
	for i := 0; i < 55; i++ {
		if c := apiStatusBody(t, e, e.URL+"/api/workflows/"+e.Echo.ID+"/execute", e.WSKey, `{"message":"m"}`); c != 200 {
			t.Fatalf("execute = %d", c)
		}
	}
	b := signIn(t, e, e.Member.Email, e.AdminPassword)
	_, page := b.get("/dashboard/workspaces/" + e.WS.ID + "/logs")
	next := regexp.MustCompile(`href="(\?[^"]+)" rel="next"`).FindStringSubmatch(page)
	if next == nil {
		t.Fatal("no next page link with 55 executions")
	}
	first := len(regexp.MustCompile(`/logs/[0-9a-z]+"`).FindAllString(page, -1))
	_, page2 := b.get("/dashboard/workspaces/" + e.WS.ID + "/logs" + strings.ReplaceAll(next[1], "&amp;", "&"))
	second := len(regexp.MustCompile(`/logs/[0-9a-z]+"`).FindAllString(page2, -1))
	if first != 50 || second != 5 {
		t.Errorf("pages hold %d and %d executions, want 50 and 5", first, second)
	}
	if !strings.Contains(page2, `href="?range=24h">Newest executions`) {
		t.Error("the second page has no link back to the first with the same filters")
	}
	if code, _ := b.get("/dashboard/workspaces/" + e.WS.ID + "/logs?cursor=garbage"); code != http.StatusBadRequest {
		t.Errorf("garbage cursor = %d", code)
	}
}

func apiStatusBody(t *testing.T, e *testenv.Env, url, key, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
