package httpapi_test

import (
	"slices"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestOrganizations(t *testing.T) {
	e := testenv.New(t)
	admin, member := mgKey(t, e, e.AdminKey), mgKey(t, e, e.MemberKey)
	if got := mgIDs(mgList(admin.want(200, "", "GET", "/api/organizations", nil), "organizations")); !slices.Equal(got, []string{e.Org.ID}) {
		t.Fatalf("admin orgs = %v", got)
	}
	if got := mgList(member.want(200, "", "GET", "/api/organizations", nil), "organizations"); len(got) != 0 {
		t.Fatalf("member orgs = %v", got)
	}
	for _, k := range []string{e.WSKey, e.OrgKey} {
		if got := mgList(mgKey(t, e, k).want(200, "", "GET", "/api/organizations", nil), "organizations"); len(got) != 0 {
			t.Fatalf("key sees orgs %v", got)
		}
		mgKey(t, e, k).want(403, "", "POST", "/api/organizations", map[string]any{"name": "nope"})
	}
	(&mgClient{t: t, e: e}).want(401, "", "GET", "/api/organizations", nil)
	member.want(403, "", "GET", "/api/organizations/"+e.Org.ID, nil)
	admin.want(404, "", "GET", "/api/organizations/nope", nil)
	if o := mgObj(admin.want(200, "", "GET", "/api/organizations/"+e.Org.ID, nil), "organization"); o["name"] != "Acme" || o["permission"] != "admin" {
		t.Fatalf("org = %v", o)
	}

	// Anyone may create an organization and owns it.
	m := member.want(201, "", "POST", "/api/organizations", map[string]any{"name": "Member Co"})
	mine, _ := mgObj(m, "organization")["id"].(string)
	ms := mgList(member.want(200, "", "GET", "/api/organizations/"+mine+"/members", nil), "members")
	if len(ms) != 1 || ms[0]["role"] != "owner" || ms[0]["userId"] != e.Member.ID {
		t.Fatalf("members = %v", ms)
	}
	member.want(400, "", "POST", "/api/organizations", map[string]any{"name": ""})
	member.want(200, "", "PATCH", "/api/organizations/"+mine, map[string]any{"name": "Renamed Co"})
	admin.want(403, "", "PATCH", "/api/organizations/"+mine, map[string]any{"name": "x"}) // not a member; keys get no instance-admin powers
	mgLogin(t, e, e.Admin.Email, e.AdminPassword).want(200, "", "PATCH", "/api/organizations/"+mine, map[string]any{"name": "By instance admin"})
}

func TestOrganizationMembers(t *testing.T) {
	e := testenv.New(t)
	base := "/api/organizations/" + e.Org.ID + "/members"
	admin := mgLogin(t, e, e.Admin.Email, e.AdminPassword)
	member, outsider := mgLogin(t, e, e.Member.Email, e.AdminPassword), mgLogin(t, e, e.Outsider.Email, e.AdminPassword)
	accept := func(c *mgClient, m map[string]any) {
		t.Helper()
		c.want(200, "", "POST", "/api/invitations/"+mgObj(m, "invitation")["id"].(string)+"/accept", nil)
	}
	member.want(403, "", "GET", base, nil)
	member.want(403, "", "POST", base, map[string]any{"email": e.Member.Email, "role": "admin"})
	mgKey(t, e, e.AdminKey).want(403, "session_required", "POST", base, map[string]any{"email": e.Member.Email, "role": "admin"})
	mgKey(t, e, e.OrgKey).want(403, "session_required", "POST", base, map[string]any{"email": e.Member.Email, "role": "admin"})

	accept(member, admin.want(202, "", "POST", base, map[string]any{"email": e.Member.Email, "role": "admin"}))
	admin.want(409, "conflict", "POST", base, map[string]any{"email": e.Member.Email})
	admin.want(400, "", "POST", base, map[string]any{"email": e.Outsider.Email, "role": "boss"})
	// Now an org admin: the member manages org keys and members, but cannot make owners.
	member.want(200, "", "GET", "/api/organizations/"+e.Org.ID+"/api-keys", nil)
	member.want(403, "", "POST", base, map[string]any{"email": e.Outsider.Email, "role": "owner"})
	accept(outsider, member.want(202, "", "POST", base, map[string]any{"email": e.Outsider.Email, "role": "member"}))
	outsider.want(200, "", "GET", base, nil)
	outsider.want(403, "", "POST", base, map[string]any{"email": "someone@example.com", "role": "admin"})
	member.want(403, "", "PATCH", base+"/"+e.Outsider.ID, map[string]any{"role": "owner"})
	member.want(403, "", "PATCH", base+"/"+e.Admin.ID, map[string]any{"role": "member"})
	member.want(403, "", "DELETE", base+"/"+e.Admin.ID, nil)
	mgKey(t, e, e.AdminKey).want(403, "session_required", "PATCH", base+"/"+e.Outsider.ID, map[string]any{"role": "admin"})
	mgKey(t, e, e.OrgKey).want(403, "session_required", "DELETE", base+"/"+e.Outsider.ID, nil)
	// The last owner cannot leave or be demoted.
	admin.want(400, "", "PATCH", base+"/"+e.Admin.ID, map[string]any{"role": "member"})
	admin.want(400, "", "DELETE", base+"/"+e.Admin.ID, nil)
	admin.want(404, "", "PATCH", base+"/nope", map[string]any{"role": "member"})
	admin.want(200, "", "PATCH", base+"/"+e.Outsider.ID, map[string]any{"role": "owner"})
	admin.want(200, "", "PATCH", base+"/"+e.Outsider.ID, map[string]any{"role": "member"})
	// Members may leave on their own; removal cuts access at once.
	outsider.want(200, "", "DELETE", base+"/"+e.Outsider.ID, nil)
	outsider.want(403, "", "GET", base, nil)
	admin.want(200, "", "DELETE", base+"/"+e.Member.ID, nil)
	member.want(403, "", "GET", "/api/organizations/"+e.Org.ID+"/api-keys", nil)
	admin.want(404, "", "DELETE", base+"/"+e.Member.ID, nil)
}

func TestOrganizationKeys(t *testing.T) {
	e := testenv.New(t)
	base := "/api/organizations/" + e.Org.ID + "/api-keys"
	admin := mgLogin(t, e, e.Admin.Email, e.AdminPassword)

	keys := mgList(admin.want(200, "", "GET", base, nil), "keys")
	if len(keys) != 2 {
		t.Fatalf("keys = %v", keys)
	}
	m := admin.want(201, "", "POST", base, map[string]any{"name": "reporting",
		"grants": []any{map[string]any{"workflowId": e.Greet.ID, "level": "read"}}})
	k := mgObj(m, "key")
	plain, _ := k["key"].(string)
	id, _ := k["id"].(string)
	if plain == "" || k["organizationId"] != e.Org.ID {
		t.Fatalf("create = %v", m)
	}
	nk := mgKey(t, e, plain)
	nk.want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	nk.want(403, "", "GET", "/api/v1/workflows/"+e.Echo.ID, nil)
	nk.want(403, "", "POST", "/api/v1/workflows/"+e.Greet.ID+"/deploy", nil)
	for _, kv := range mgList(admin.want(200, "", "GET", base, nil), "keys") {
		if _, ok := kv["key"]; ok {
			t.Fatal("list shows a key")
		}
	}

	admin.want(409, "conflict", "POST", base, map[string]any{"name": "reporting", "grants": []any{map[string]any{"workspaceId": e.WS.ID, "level": "read"}}})
	admin.want(400, "", "POST", base, map[string]any{"name": "no grants"})
	admin.want(400, "", "POST", base, map[string]any{"name": "bad level", "grants": []any{map[string]any{"workspaceId": e.WS.ID, "level": "root"}}})
	// Grants may only target workspaces of the organization and their workflows.
	admin.want(400, "", "POST", base, map[string]any{"name": "outside", "grants": []any{map[string]any{"workspaceId": e.OtherWS.ID, "level": "read"}}})
	admin.want(400, "", "POST", base, map[string]any{"name": "missing", "grants": []any{map[string]any{"workflowId": "nope", "level": "read"}}})

	// Only org owners and admins manage org keys; keys never do.
	for _, key := range []string{e.MemberKey, e.OutsiderKey, e.WSKey, e.OrgKey, e.OrgWorkflowKey} {
		mgKey(t, e, key).want(403, "", "GET", base, nil)
		mgKey(t, e, key).want(403, "", "POST", base, map[string]any{"name": "x", "grants": []any{map[string]any{"workspaceId": e.WS.ID, "level": "read"}}})
	}
	mgKey(t, e, e.AdminKey).want(200, "", "GET", base, nil)
	admin.want(404, "", "GET", "/api/organizations/nope/api-keys", nil)

	// Rotate with grace keeps both; revoke stops the key at once.
	m = admin.want(200, "", "POST", base+"/"+id+"/rotate", map[string]any{"graceSeconds": 60})
	rotated, _ := mgObj(m, "key")["key"].(string)
	newID, _ := mgObj(m, "key")["id"].(string)
	nk.want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	rk := mgKey(t, e, rotated)
	rk.want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	rk.want(403, "", "GET", "/api/v1/workflows/"+e.Echo.ID, nil)
	mgKey(t, e, e.MemberKey).want(403, "session_required", "DELETE", base+"/"+newID, nil)
	mgLogin(t, e, e.Member.Email, e.AdminPassword).want(404, "", "DELETE", base+"/"+newID, nil)
	admin.want(200, "", "DELETE", base+"/"+newID, nil)
	rk.want(401, "invalid_api_key", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	admin.want(404, "", "DELETE", base+"/"+newID, nil)
	// A workspace key id under the org path is not found.
	wsKeys := mgList(admin.want(200, "", "GET", "/api/workspaces/"+e.WS.ID+"/api-keys", nil), "keys")
	wsKeyID, _ := wsKeys[0]["id"].(string)
	admin.want(404, "", "DELETE", base+"/"+wsKeyID, nil)
}
