package httpapi_test

import (
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestWorkspaceMembers(t *testing.T) {
	e := testenv.New(t)
	base := "/api/workspaces/" + e.WS.ID + "/members"
	member, outsider := mgKey(t, e, e.MemberKey), mgKey(t, e, e.OutsiderKey)

	ms := mgList(member.want(200, "", "GET", base, nil), "members")
	if len(ms) != 2 {
		t.Fatalf("members = %v", ms)
	}
	mgKey(t, e, e.WSReadKey).want(200, "", "GET", base, nil)
	outsider.want(403, "", "GET", base, nil)
	mgKey(t, e, e.AdminKey).want(404, "", "GET", "/api/workspaces/nope/members", nil)
	(&mgClient{t: t, e: e}).want(401, "", "GET", base, nil)

	// Adding is an invitation, by a signed-in admin; keys never change membership.
	adminS, memberS := mgLogin(t, e, e.Admin.Email, e.AdminPassword), mgLogin(t, e, e.Member.Email, e.AdminPassword)
	memberS.want(403, "", "POST", base, map[string]any{"email": e.Outsider.Email, "permission": "read"})
	for _, k := range []string{e.AdminKey, e.WSKey, e.OrgKey} {
		mgKey(t, e, k).want(403, "session_required", "POST", base, map[string]any{"email": e.Outsider.Email, "permission": "read"})
		mgKey(t, e, k).want(403, "session_required", "PATCH", base+"/"+e.Member.ID, map[string]any{"permission": "read"})
		mgKey(t, e, k).want(403, "session_required", "DELETE", base+"/"+e.Member.ID, nil)
	}
	adminS.want(400, "", "POST", base, map[string]any{"email": e.Outsider.Email, "permission": "owner"})
	adminS.want(400, "", "POST", base, map[string]any{"email": "not-an-address", "permission": "read"})
	adminS.want(400, "", "POST", base, map[string]any{"email": strings.Repeat("a", 250) + "@x.io", "permission": "read"})
	adminS.want(409, "conflict", "POST", base, map[string]any{"email": e.Member.Email, "permission": "read"})

	outsider.want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	m := adminS.want(202, "", "POST", base, map[string]any{"email": strings.ToUpper(e.Outsider.Email), "permission": "read"})
	inv := mgObj(m, "invitation")
	if inv["email"] != e.Outsider.Email || inv["permission"] != "read" || inv["status"] != "pending" {
		t.Fatalf("invite = %v", m)
	}
	// Nothing reaches the invitee before they accept.
	outsider.want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	outsiderS := mgLogin(t, e, e.Outsider.Email, e.AdminPassword)
	mine := mgList(outsiderS.want(200, "", "GET", "/api/users/me/invitations", nil), "invitations")
	if len(mine) != 1 || mine[0]["id"] != inv["id"] || mine[0]["targetName"] != e.WS.Name || mine[0]["invitedBy"] != e.Admin.Email {
		t.Fatalf("my invitations = %v", mine)
	}
	// Only the invitee accepts; keys cannot accept for them.
	memberS.want(404, "", "POST", "/api/invitations/"+inv["id"].(string)+"/accept", nil)
	memberS.want(404, "", "POST", "/api/invitations/"+inv["id"].(string)+"/decline", nil)
	outsider.want(403, "session_required", "POST", "/api/invitations/"+inv["id"].(string)+"/accept", nil)
	outsiderS.want(200, "", "POST", "/api/invitations/"+inv["id"].(string)+"/accept", nil)
	outsiderS.want(404, "", "POST", "/api/invitations/"+inv["id"].(string)+"/accept", nil)
	// The outsider's personal key reaches the workspace on the next request.
	outsider.want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	outsider.want(403, "", "POST", "/api/v1/workflows/"+e.Greet.ID+"/deploy", nil)
	if got := mgList(adminS.want(200, "", "GET", "/api/workspaces/"+e.WS.ID+"/invitations", nil), "invitations"); len(got) != 0 {
		t.Fatalf("pending after accept = %v", got)
	}
	adminS.want(200, "", "PATCH", base+"/"+e.Outsider.ID, map[string]any{"permission": "admin"})
	outsider.want(200, "", "POST", "/api/v1/workflows/"+e.Greet.ID+"/deploy", nil)
	memberS.want(403, "", "PATCH", base+"/"+e.Outsider.ID, map[string]any{"permission": "read"})
	adminS.want(404, "", "PATCH", base+"/nope", map[string]any{"permission": "read"})
	adminS.want(400, "", "PATCH", base+"/"+e.Outsider.ID, map[string]any{"permission": ""})
	// The billing owner stays an admin and cannot be removed.
	adminS.want(400, "", "PATCH", base+"/"+e.Admin.ID, map[string]any{"permission": "read"})
	adminS.want(400, "", "DELETE", base+"/"+e.Admin.ID, nil)

	// Removing cuts access at once.
	adminS.want(200, "", "DELETE", base+"/"+e.Outsider.ID, nil)
	outsider.want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	adminS.want(404, "", "DELETE", base+"/"+e.Outsider.ID, nil)

	// A member may leave on their own, signed in.
	memberS.want(200, "", "DELETE", base+"/"+e.Member.ID, nil)
	mgKey(t, e, e.MemberKey).want(403, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
}
