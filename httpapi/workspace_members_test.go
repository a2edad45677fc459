package httpapi_test

import (
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestWorkspaceMembers(t *testing.T) {
	e := testenv.New(t)
	base := "/api/workspaces/" + e.WS.ID + "/members"
	admin, member, outsider := mgKey(t, e, e.AdminKey), mgKey(t, e, e.MemberKey), mgKey(t, e, e.OutsiderKey)

	ms := mgList(member.want(200, "", "GET", base, nil), "members")
	if len(ms) != 2 {
		t.Fatalf("members = %v", ms)
	}
	mgKey(t, e, e.WSReadKey).want(200, "", "GET", base, nil)
	outsider.want(403, "", "GET", base, nil)
	mgKey(t, e, e.AdminKey).want(404, "", "GET", "/api/workspaces/nope/members", nil)
	(&mgClient{t: t, e: e}).want(401, "", "GET", base, nil)

	// Changes need admin.
	member.want(403, "", "POST", base, map[string]any{"userId": e.Outsider.ID, "permission": "read"})
	mgKey(t, e, e.WSKey).want(403, "", "POST", base, map[string]any{"userId": e.Outsider.ID, "permission": "read"})
	admin.want(400, "", "POST", base, map[string]any{"userId": e.Outsider.ID, "permission": "owner"})
	admin.want(404, "", "POST", base, map[string]any{"email": "nobody@example.com", "permission": "read"})

	outsider.want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	m := admin.want(201, "", "POST", base, map[string]any{"email": e.Outsider.Email, "permission": "read"})
	if mgObj(m, "member")["userId"] != e.Outsider.ID || mgObj(m, "member")["permission"] != "read" {
		t.Fatalf("add = %v", m)
	}
	admin.want(409, "conflict", "POST", base, map[string]any{"userId": e.Outsider.ID, "permission": "write"})
	// The outsider's personal key reaches the workspace on the next request.
	outsider.want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	outsider.want(403, "", "POST", "/api/v1/workflows/"+e.Greet.ID+"/deploy", nil)

	admin.want(200, "", "PATCH", base+"/"+e.Outsider.ID, map[string]any{"permission": "admin"})
	outsider.want(200, "", "POST", "/api/v1/workflows/"+e.Greet.ID+"/deploy", nil)
	member.want(403, "", "PATCH", base+"/"+e.Outsider.ID, map[string]any{"permission": "read"})
	admin.want(404, "", "PATCH", base+"/nope", map[string]any{"permission": "read"})
	admin.want(400, "", "PATCH", base+"/"+e.Outsider.ID, map[string]any{"permission": ""})
	// The billing owner stays an admin and cannot be removed.
	admin.want(400, "", "PATCH", base+"/"+e.Admin.ID, map[string]any{"permission": "read"})
	admin.want(400, "", "DELETE", base+"/"+e.Admin.ID, nil)

	// Removing cuts access at once.
	admin.want(200, "", "DELETE", base+"/"+e.Outsider.ID, nil)
	outsider.want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	admin.want(404, "", "DELETE", base+"/"+e.Outsider.ID, nil)

	// A member may leave on their own.
	member.want(200, "", "DELETE", base+"/"+e.Member.ID, nil)
	member.want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
}
