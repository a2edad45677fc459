package httpapi_test

import (
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestAdminUsersOnlyForInstanceAdmins(t *testing.T) {
	e := testenv.New(t)
	admin := mgLogin(t, e, e.Admin.Email, e.AdminPassword)
	m := admin.want(200, "", "GET", "/api/admin/users", nil)
	users := mgList(m, "users")
	if len(users) != 3 {
		t.Fatalf("users = %v", users)
	}
	for _, u := range users {
		if _, ok := u["passwordHash"]; ok {
			t.Fatal("user list shows password hashes")
		}
	}
	(&mgClient{t: t, e: e}).want(401, "", "GET", "/api/admin/users", nil)
	mgLogin(t, e, e.Member.Email, e.AdminPassword).want(403, "forbidden", "GET", "/api/admin/users", nil)
	// Keys never administer the instance, not even the instance admin's own key.
	for _, k := range []string{e.AdminKey, e.MemberKey, e.WSKey, e.OrgKey} {
		mgKey(t, e, k).want(403, "forbidden", "GET", "/api/admin/users", nil)
		mgKey(t, e, k).want(403, "forbidden", "POST", "/api/admin/users", map[string]any{"email": "x@example.com", "password": "long enough pw"})
		mgKey(t, e, k).want(403, "forbidden", "PATCH", "/api/admin/users/"+e.Member.ID, map[string]any{"disabled": true})
	}

	created := admin.want(201, "", "POST", "/api/admin/users", map[string]any{"email": "new@example.com", "name": "New", "password": "long enough pw"})
	if u := mgObj(created, "user"); u["email"] != "new@example.com" || u["instanceAdmin"] != false {
		t.Fatalf("created = %v", created)
	}
	admin.want(409, "conflict", "POST", "/api/admin/users", map[string]any{"email": "NEW@example.com", "password": "long enough pw"})
	admin.want(400, "invalid_request", "POST", "/api/admin/users", map[string]any{"email": "bad@example.com", "password": "short"})
	admin.want(400, "invalid_request", "POST", "/api/admin/users", map[string]any{"email": "not-an-email", "password": "long enough pw"})
	mgLogin(t, e, "new@example.com", "long enough pw")

	admin.want(404, "", "PATCH", "/api/admin/users/nope", map[string]any{"name": "x"})
	admin.want(400, "", "PATCH", "/api/admin/users/"+e.Admin.ID, map[string]any{"disabled": true})
	m = admin.want(200, "", "PATCH", "/api/admin/users/"+e.Member.ID, map[string]any{"name": "Renamed"})
	if mgObj(m, "user")["name"] != "Renamed" {
		t.Fatalf("patch = %v", m)
	}
}

func TestDisablingUserKillsSessionsAndPersonalKeysAtOnce(t *testing.T) {
	e := testenv.New(t)
	admin := mgLogin(t, e, e.Admin.Email, e.AdminPassword)
	sess := mgLogin(t, e, e.Member.Email, e.AdminPassword)
	key := mgKey(t, e, e.MemberKey)
	wf := "/api/v1/workflows/" + e.Greet.ID
	sess.want(200, "", "GET", wf, nil)
	key.want(200, "", "GET", wf, nil)
	// A workspace key is not the user's: it keeps working.
	ws := mgKey(t, e, e.WSKey)

	m := admin.want(200, "", "PATCH", "/api/admin/users/"+e.Member.ID, map[string]any{"disabled": true})
	if mgObj(m, "user")["disabled"] != true {
		t.Fatalf("patch = %v", m)
	}
	sess.want(401, "", "GET", wf, nil)
	sess.want(401, "", "GET", "/api/auth/session", nil)
	key.want(401, "invalid_api_key", "GET", wf, nil)
	ws.want(200, "", "GET", wf, nil)
	(&mgClient{t: t, e: e}).want(401, "invalid_credentials", "POST", "/api/auth/login", map[string]any{"email": e.Member.Email, "password": e.AdminPassword})

	// Enabling again restores the key (sessions stay ended).
	admin.want(200, "", "PATCH", "/api/admin/users/"+e.Member.ID, map[string]any{"disabled": false})
	key.want(200, "", "GET", wf, nil)
	sess.want(401, "", "GET", wf, nil)
}
