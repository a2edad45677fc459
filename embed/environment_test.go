package embed_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestEnvironmentVariablesAreWriteOnly(t *testing.T) {
	e := testenv.New(t)
	admin := signIn(t, e, e.Admin.Email, e.AdminPassword)
	env := "/dashboard/workspaces/" + e.WS.ID + "/settings/environment"
	const secret = "s3cr3t-value-never-shown"

	if code, body, _ := admin.post(env, url.Values{"scope": {"workspace"}, "name": {"1BAD-NAME"}, "value": {"x"}}); code != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) {
		t.Errorf("bad name = %d", code)
	}
	if _, _, resp := admin.post(env, url.Values{"scope": {"workspace"}, "name": {"GREETING"}, "value": {secret}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set = %d", resp.StatusCode)
	}
	_, page := admin.get(env)
	if !strings.Contains(page, "<code>GREETING</code>") || strings.Contains(page, secret) || !strings.Contains(page, e.Admin.Email) {
		t.Error("the variable is not listed by name only")
	}

	// A write member sees the names, cannot set workspace variables, keeps their own.
	member := signIn(t, e, e.Member.Email, e.AdminPassword)
	if _, page := member.get(env); !strings.Contains(page, "GREETING") || strings.Contains(page, secret) || strings.Contains(page, `aria-label="Delete GREETING"`) {
		t.Error("member's view of workspace variables")
	}
	if code, _, _ := member.post(env, url.Values{"scope": {"workspace"}, "name": {"GREETING"}, "value": {"mine"}}); code != http.StatusForbidden {
		t.Errorf("member setting a workspace variable = %d", code)
	}
	if code, _, _ := member.post(env+"/unset", url.Values{"scope": {"workspace"}, "name": {"GREETING"}}); code != http.StatusForbidden {
		t.Errorf("member deleting a workspace variable = %d", code)
	}
	if _, _, resp := member.post(env, url.Values{"scope": {"personal"}, "name": {"MY_TOKEN"}, "value": {"personal-secret"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("member setting a personal variable = %d", resp.StatusCode)
	}
	if _, page := member.get(env); !strings.Contains(page, "MY_TOKEN") || strings.Contains(page, "personal-secret") {
		t.Error("personal variable not listed by name only")
	}
	if _, page := admin.get(env); strings.Contains(page, "MY_TOKEN") {
		t.Error("another user's personal variable is listed")
	}

	// A deploy warns about references without a variable; the run uses the value and
	// the page and the log never show it.
	wf := strings.Replace(string(testenv.Workflow(t, "greet.json")), `return <start.n> * 2`, `return '{{GREETING}}{{MISSING_ONE}}'.length * 0 + <start.n> * 2`, 1)
	_, _, resp := admin.upload("/dashboard/workspaces/"+e.WS.ID+"/workflows/import", "file", "env.json", []byte(wf))
	wfPath := strings.Split(resp.Header.Get("Location"), "?")[0]
	code, body, _ := admin.post(wfPath+"/deploy", url.Values{"note": {"first cut"}})
	warn := regexp.MustCompile(`(?s)id="deploy-warnings">.*?</div>`).FindString(body)
	if code != 200 || !strings.Contains(warn, "MISSING_ONE") || strings.Contains(warn, "GREETING") || !strings.Contains(body, "Deployed as v1") {
		t.Fatalf("deploy with a missing variable = %d: %s", code, regexp.MustCompile(`(?s)<main.*?Versions`).FindString(body))
	}
	if !strings.Contains(body, "first cut") {
		t.Error("the deploy note is not listed with the version")
	}
	admin.post(env, url.Values{"scope": {"workspace"}, "name": {"MISSING_ONE"}, "value": {"another-secret-value"}})
	_, body, _ = admin.post(wfPath+"/run", url.Values{"in_name": {"Env"}, "in_n": {"1"}})
	if !strings.Contains(body, "Hello Env! 2") || strings.Contains(body, secret) || strings.Contains(body, "another-secret-value") {
		t.Errorf("run with variables: ok=%v, leaks=%v", strings.Contains(body, "Hello Env! 2"), strings.Contains(body, secret))
	}

	// Delete.
	if _, _, resp := admin.post(env+"/unset", url.Values{"scope": {"workspace"}, "name": {"GREETING"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("unset = %d", resp.StatusCode)
	}
	if _, page := admin.get(env); strings.Contains(page, "<code>GREETING</code>") {
		t.Error("deleted variable still listed")
	}
	if code, _, _ := admin.post(env+"/unset", url.Values{"scope": {"workspace"}, "name": {"GREETING"}}); code != http.StatusNotFound {
		t.Errorf("unset twice = %d", code)
	}
}

func TestWorkflowUpdateVersionsAndExport(t *testing.T) {
	e := testenv.New(t)
	admin := signIn(t, e, e.Admin.Email, e.AdminPassword)
	wfPath := "/dashboard/workspaces/" + e.WS.ID + "/workflows/" + e.Greet.ID

	// Replace Greet's draft with Echo's file, in place; deploy it as v2 with a note.
	_, _, resp := admin.upload(wfPath+"/update", "file", "echo.json", testenv.Workflow(t, "echo.json"))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "done=updated") {
		t.Fatalf("update = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page := admin.get(wfPath)
	if !strings.Contains(page, "draft has undeployed changes") {
		t.Error("update did not mark the draft as changed")
	}
	if code, _, _ := admin.upload(wfPath+"/update", "file", "bad.json", []byte(`{"state":{"blocks":7}}`)); code != http.StatusBadRequest {
		t.Errorf("update with a broken file = %d", code)
	}
	if _, _, resp = admin.post(wfPath+"/deploy", url.Values{"note": {"switch to echo"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deploy = %d", resp.StatusCode)
	}
	_, page = admin.get(wfPath)
	for _, want := range []string{"deployed · v2", "switch to echo", "Roll back to v1", e.Admin.Email, `name="in_message"`} {
		if !strings.Contains(page, want) {
			t.Errorf("workflow page lacks %q", want)
		}
	}
	// The WSNarrowKey is narrowed to Echo, not Greet: the id kept its keys.
	if c := apiStatus(t, e, "GET", "/api/workflows/"+e.Greet.ID+"/status", e.OrgKey); c != 200 {
		t.Errorf("org key after update = %d", c)
	}

	// Export the draft and v1.
	resp = admin.do("GET", wfPath+"/export", nil, "")
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("export draft = %d %v", resp.StatusCode, resp.Header)
	}
	code, v1 := admin.get(wfPath + "/export?version=1")
	if code != 200 || !strings.Contains(v1, "Double It") {
		t.Errorf("export v1 = %d", code)
	}
	if code, _ := admin.get(wfPath + "/export?version=99"); code != http.StatusNotFound {
		t.Errorf("export v99 = %d", code)
	}

	// Roll back to v1.
	if _, _, resp = admin.post(wfPath+"/activate", url.Values{"version": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rollback = %d", resp.StatusCode)
	}
	_, page = admin.get(wfPath)
	if !regexp.MustCompile(`v1 <span class="badge ok">active</span>`).MatchString(page) {
		t.Error("v1 is not active after the rollback")
	}
	// A write member cannot update or roll back.
	member := signIn(t, e, e.Member.Email, e.AdminPassword)
	if code, _, _ := member.upload(wfPath+"/update", "file", "echo.json", testenv.Workflow(t, "echo.json")); code != http.StatusForbidden {
		t.Errorf("member update = %d", code)
	}
	if code, _, _ := member.post(wfPath+"/activate", url.Values{"version": {"2"}}); code != http.StatusForbidden {
		t.Errorf("member rollback = %d", code)
	}
}
