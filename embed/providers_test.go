package embed_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestModelProvidersKeepKeysHidden(t *testing.T) {
	e := testenv.New(t)
	admin := signIn(t, e, e.Admin.Email, e.AdminPassword)
	path := "/dashboard/workspaces/" + e.WS.ID + "/settings/providers"
	const key = "sk-provider-secret-1234567890"

	if code, body, _ := admin.post(path, url.Values{"name": {"bad name!"}, "kind": {"openai"}}); code != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) {
		t.Errorf("bad provider name = %d", code)
	}
	form := url.Values{"name": {"local"}, "kind": {"openai"}, "base_url": {"http://127.0.0.1:9/v1"}, "api_key": {key},
		"default_model": {"llama3"}, "models": {"llama*, qwen*"}, "timeout": {"30"}, "is_default": {"true"}}
	if _, _, resp := admin.post(path, form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add provider = %d", resp.StatusCode)
	}
	if code, _, _ := admin.post(path, form); code != http.StatusConflict {
		t.Errorf("same name twice = %d", code)
	}
	_, page := admin.get(path)
	for _, want := range []string{"<strong>local</strong>", "http://127.0.0.1:9/v1", "llama*, qwen*", "<code>llama3</code>", "badge accent\">default"} {
		if !strings.Contains(page, want) {
			t.Errorf("providers page lacks %q", want)
		}
	}
	if strings.Contains(page, key) {
		t.Fatal("the provider's API key is shown")
	}

	// A test call reports the failure (loopback is not allowed for outbound calls here).
	id := regexp.MustCompile(`/settings/providers/([0-9a-z]+)/test`).FindStringSubmatch(page)
	if id == nil {
		t.Fatal("no test button")
	}
	code, body, _ := admin.post(path+"/"+id[1]+"/test", nil)
	if code != 200 || !strings.Contains(body, "The test call failed") || strings.Contains(body, key) {
		t.Errorf("test call = %d", code)
	}

	// Members see the list, not the controls, and cannot add or remove.
	member := signIn(t, e, e.Member.Email, e.AdminPassword)
	if _, page := member.get(path); !strings.Contains(page, "<strong>local</strong>") || strings.Contains(page, "/remove") || strings.Contains(page, `name="api_key"`) {
		t.Error("member's view of providers")
	}
	if code, _, _ := member.post(path, url.Values{"name": {"mine"}, "kind": {"openai"}}); code != http.StatusForbidden {
		t.Errorf("member adding a provider = %d", code)
	}
	if code, _, _ := member.post(path+"/"+id[1]+"/remove", nil); code != http.StatusForbidden {
		t.Errorf("member removing a provider = %d", code)
	}
	if _, _, resp := admin.post(path+"/"+id[1]+"/remove", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("remove = %d", resp.StatusCode)
	}
	if _, page := admin.get(path); strings.Contains(page, "<strong>local</strong>") {
		t.Error("removed provider still listed")
	}
	// Outsiders see nothing.
	out := signIn(t, e, e.Outsider.Email, e.AdminPassword)
	if code, _ := out.get(path); code != http.StatusNotFound {
		t.Errorf("outsider = %d", code)
	}
}
