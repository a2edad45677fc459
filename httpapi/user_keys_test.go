package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func TestPersonalKeysShownOnceAndManaged(t *testing.T) {
	e := testenv.New(t)
	// A personal key cannot mint personal keys; the signed-in user can.
	mgKey(t, e, e.MemberKey).want(403, "session_required", "POST", "/api/users/me/api-keys", map[string]any{"name": "laptop"})
	me := mgLogin(t, e, e.Member.Email, e.AdminPassword)
	m := me.want(201, "", "POST", "/api/users/me/api-keys", map[string]any{"name": "laptop"})
	k := mgObj(m, "key")
	plain, _ := k["key"].(string)
	id, _ := k["id"].(string)
	if !strings.HasPrefix(plain, "sk-steelengine-") || id == "" {
		t.Fatalf("create = %v", m)
	}
	if dk, _ := k["displayKey"].(string); !strings.HasSuffix(dk, plain[len(plain)-4:]) || strings.Contains(dk, plain) {
		t.Fatalf("displayKey = %q", dk)
	}

	// The list never contains the plaintext.
	resp := me.raw("GET", "/api/users/me/api-keys", nil)
	var raw json.RawMessage
	json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if strings.Contains(string(raw), plain) || strings.Contains(string(raw), `"key":`) {
		t.Fatalf("list leaks a key: %s", raw)
	}
	keys := mgList(me.want(200, "", "GET", "/api/users/me/api-keys", nil), "keys")
	if len(keys) != 2 || keys[1]["id"] != id || keys[1]["displayKey"] == nil {
		t.Fatalf("list = %v", keys)
	}

	me.want(409, "conflict", "POST", "/api/users/me/api-keys", map[string]any{"name": "laptop"})
	me.want(400, "invalid_request", "POST", "/api/users/me/api-keys", map[string]any{"name": "  "})
	me.want(400, "invalid_request", "POST", "/api/users/me/api-keys", map[string]any{"name": "x", "level": "admin"})
	// The same name for another user is fine.
	mgLogin(t, e, e.Outsider.Email, e.AdminPassword).want(201, "", "POST", "/api/users/me/api-keys", map[string]any{"name": "laptop"})

	// The new key works with the user's access, and nobody else's.
	nk := mgKey(t, e, plain)
	nk.want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	nk.want(403, "", "GET", "/api/workspaces/"+e.OtherWS.ID, nil)

	// Keys that are not a user's cannot manage personal keys; no key is 401.
	for _, k := range []string{e.WSKey, e.OrgKey} {
		mgKey(t, e, k).want(403, "forbidden", "GET", "/api/users/me/api-keys", nil)
		mgKey(t, e, k).want(403, "", "POST", "/api/users/me/api-keys", map[string]any{"name": "nope"})
	}
	(&mgClient{t: t, e: e}).want(401, "invalid_api_key", "GET", "/api/users/me/api-keys", nil)
	mgKey(t, e, "sk-steelengine-garbage").want(401, "invalid_api_key", "GET", "/api/users/me/api-keys", nil)

	// Another user's key id reads as not found; a key never revokes another key.
	mgLogin(t, e, e.Outsider.Email, e.AdminPassword).want(404, "", "DELETE", "/api/users/me/api-keys/"+id, nil)
	mgKey(t, e, e.MemberKey).want(403, "session_required", "DELETE", "/api/users/me/api-keys/"+id, nil)
	me.want(404, "", "DELETE", "/api/users/me/api-keys/nope", nil)

	// Rotate without grace: the old key stops at once, the new one works.
	m = me.want(200, "", "POST", "/api/users/me/api-keys/"+id+"/rotate", map[string]any{"graceSeconds": 0})
	rotated, _ := mgObj(m, "key")["key"].(string)
	if rotated == "" || rotated == plain || m["previousKeyId"] != id {
		t.Fatalf("rotate = %v", m)
	}
	nk.want(401, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	rk := mgKey(t, e, rotated)
	rk.want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	me.want(400, "", "POST", "/api/users/me/api-keys/"+id+"/rotate", map[string]any{"graceSeconds": -1})

	// Rotate with grace: both work for now.
	newID, _ := mgObj(m, "key")["id"].(string)
	m = me.want(200, "", "POST", "/api/users/me/api-keys/"+newID+"/rotate", map[string]any{"graceSeconds": 3600})
	third, _ := mgObj(m, "key")["key"].(string)
	rk.want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	mgKey(t, e, third).want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)

	// Revoke takes effect on the next request.
	thirdID, _ := mgObj(m, "key")["id"].(string)
	me.want(200, "", "DELETE", "/api/users/me/api-keys/"+thirdID, nil)
	mgKey(t, e, third).want(401, "invalid_api_key", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	me.want(404, "", "DELETE", "/api/users/me/api-keys/"+thirdID, nil)
	// A revoked key's name can be reused.
	me.want(201, "", "POST", "/api/users/me/api-keys", map[string]any{"name": "laptop-2"})
}

func TestPersonalKeyCreateThroughSessionWithExpiry(t *testing.T) {
	e := testenv.New(t)
	s := mgLogin(t, e, e.Outsider.Email, e.AdminPassword)
	m := s.want(201, "", "POST", "/api/users/me/api-keys", map[string]any{"name": "ci", "expiresIn": 3600, "allowedCidrs": []string{"127.0.0.1/32"}})
	k := mgObj(m, "key")
	if k["expiresAt"] == nil || k["userId"] != e.Outsider.ID {
		t.Fatalf("create = %v", m)
	}
	s.want(400, "", "POST", "/api/users/me/api-keys", map[string]any{"name": "bad", "allowedCidrs": []string{"not-an-ip"}})
	s.want(400, "", "POST", "/api/users/me/api-keys", map[string]any{"name": "bad", "expiresIn": -5})
}
