package embed_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestInvitationsThroughTheDashboard(t *testing.T) {
	e := testenv.New(t)
	admin := signIn(t, e, e.Admin.Email, e.AdminPassword)
	members := "/dashboard/workspaces/" + e.WS.ID + "/settings/members"

	// Invite an account and an unknown address: the same answer.
	_, _, known := admin.post(members+"/invite", url.Values{"email": {e.Outsider.Email}, "permission": {"write"}})
	_, _, unknown := admin.post(members+"/invite", url.Values{"email": {"nobody@example.com"}, "permission": {"write"}})
	if known.StatusCode != http.StatusSeeOther || unknown.StatusCode != known.StatusCode || unknown.Header.Get("Location") != known.Header.Get("Location") {
		t.Fatalf("invite answers differ: %d %s / %d %s", known.StatusCode, known.Header.Get("Location"), unknown.StatusCode, unknown.Header.Get("Location"))
	}
	_, page := admin.get(members)
	if !strings.Contains(page, "nobody@example.com") || !strings.Contains(page, e.Member.Email) {
		t.Error("members page lacks the pending invitation or a member")
	}
	if code, _, _ := admin.post(members+"/invite", url.Values{"email": {"x@example.com"}, "permission": {"owner"}}); code != http.StatusBadRequest {
		t.Errorf("invite with a bad permission = %d", code)
	}

	// A non-admin member cannot invite.
	member := signIn(t, e, e.Member.Email, e.AdminPassword)
	if code, _, _ := member.post(members+"/invite", url.Values{"email": {"friend@example.com"}, "permission": {"admin"}}); code != http.StatusForbidden {
		t.Errorf("write member inviting = %d", code)
	}
	if _, page := member.get(members); strings.Contains(page, "/members/invite") || strings.Contains(page, "nobody@example.com") {
		t.Error("a non-admin sees the invite form or pending invitations")
	}

	// The invitee sees it on their home page; nothing of the workspace before accepting.
	out := signIn(t, e, e.Outsider.Email, e.AdminPassword)
	if code, _ := out.get("/dashboard/workspaces/" + e.WS.ID + "/workflows"); code != http.StatusNotFound {
		t.Errorf("before accepting, the workspace = %d", code)
	}
	_, home := out.get("/dashboard")
	m := regexp.MustCompile(`/dashboard/invitations/([0-9a-z]+)/accept`).FindStringSubmatch(home)
	if m == nil || !strings.Contains(home, "Invitations for you") || !strings.Contains(home, e.Admin.Email) {
		t.Fatal("the invitee's home page does not show the invitation")
	}
	// Someone else cannot accept it.
	if code, _, _ := member.post("/dashboard/invitations/"+m[1]+"/accept", nil); code != http.StatusNotFound {
		t.Errorf("accepting someone else's invitation = %d", code)
	}
	_, _, resp := out.post("/dashboard/invitations/"+m[1]+"/accept", nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/dashboard/workspaces/"+e.WS.ID) {
		t.Fatalf("accept = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, page := out.get("/dashboard/workspaces/" + e.WS.ID + "/workflows"); code != 200 || !strings.Contains(page, e.Greet.Name) {
		t.Errorf("after accepting, the workspace = %d", code)
	}

	// Change their permission, then remove them.
	if _, _, resp := admin.post(members+"/"+e.Outsider.ID+"/permission", url.Values{"permission": {"read"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("change permission = %d", resp.StatusCode)
	}
	if code, _, _ := out.post("/dashboard/workspaces/"+e.WS.ID+"/workflows/"+e.Greet.ID+"/run", nil); code != http.StatusForbidden {
		t.Errorf("read member run after downgrade = %d", code)
	}
	if _, _, resp := admin.post(members+"/"+e.Outsider.ID+"/remove", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("remove = %d", resp.StatusCode)
	}
	if code, _ := out.get("/dashboard/workspaces/" + e.WS.ID + "/workflows"); code != http.StatusNotFound {
		t.Errorf("after removal, the workspace = %d", code)
	}

	// Withdraw the other invitation; organization invitations, declined.
	_, page = admin.get(members)
	w := regexp.MustCompile(`/settings/invitations/([0-9a-z]+)/withdraw`).FindStringSubmatch(page)
	if w == nil {
		t.Fatal("no withdraw button")
	}
	if _, body, resp := admin.post("/dashboard/workspaces/"+e.WS.ID+"/settings/invitations/"+w[1]+"/withdraw", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("withdraw %s = %d %s", w[1], resp.StatusCode, regexp.MustCompile(`role="alert">[^<]*`).FindString(body))
	}
	if _, page = admin.get(members); strings.Contains(page, "nobody@example.com") {
		t.Error("withdrawn invitation still listed")
	}
	if _, _, resp := admin.post("/dashboard/organizations/"+e.Org.ID+"/invite", url.Values{"email": {e.Outsider.Email}, "role": {"member"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("org invite = %d", resp.StatusCode)
	}
	_, home = out.get("/dashboard")
	d := regexp.MustCompile(`/dashboard/invitations/([0-9a-z]+)/decline`).FindStringSubmatch(home)
	if d == nil || !strings.Contains(home, e.Org.Name) {
		t.Fatal("org invitation not on the invitee's home page")
	}
	out.post("/dashboard/invitations/"+d[1]+"/decline", nil)
	if _, home = out.get("/dashboard"); strings.Contains(home, "Invitations for you") {
		t.Error("declined invitation still shown")
	}
	if code, _ := out.get("/dashboard/organizations/" + e.Org.ID); code != http.StatusNotFound {
		t.Errorf("after declining, the org = %d", code)
	}
}

// Every notice a redirect names has its message (a missing one shows nothing).
func TestRedirectNoticesHaveMessages(t *testing.T) {
	e := testenv.New(t)
	b := signIn(t, e, e.Admin.Email, e.AdminPassword)
	for _, code := range []string{"revoked", "personal-on", "personal-off", "imported", "deployed", "activated", "undeployed",
		"moved-out", "invited", "withdrawn", "permission", "removed", "joined", "declined", "left", "password", "env-set", "env-unset", "updated", "provider-added", "provider-removed"} {
		if _, page := b.get("/dashboard?done=" + code); !strings.Contains(page, `class="notice" role="status"`) {
			t.Errorf("notice %q has no message", code)
		}
	}
}
