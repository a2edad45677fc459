package httpapi_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/steelengine/steelengine/httpapi"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store/bolt"
)

// operatorClient talks to the same appliance through httpapi.Operator, as the
// operator socket does.
func operatorClient(t *testing.T, e *testenv.Env) *mgClient {
	srv := httptest.NewServer(httpapi.Operator(e.App.Handler()))
	t.Cleanup(srv.Close)
	op := *e
	op.URL = srv.URL
	return &mgClient{t: t, e: &op}
}

func TestOperatorHandlerActsAsOperatorOnlyWithoutCredentials(t *testing.T) {
	e := testenv.New(t)
	op := operatorClient(t, e)
	all := mgList(op.want(200, "", "GET", "/api/api-keys", nil), "keys")
	if len(all) < 8 {
		t.Fatalf("operator sees %d keys", len(all))
	}
	// The TCP handler never makes anyone the operator.
	(&mgClient{t: t, e: e}).want(401, "", "GET", "/api/api-keys", nil)
	// On the operator handler a presented key acts as that key, a bad one is refused.
	keyOnOp := *op
	keyOnOp.key = e.WSKey
	keyOnOp.want(403, "forbidden", "GET", "/api/api-keys", nil)
	keyOnOp.key = "sk-steelengine-wrong"
	keyOnOp.want(401, "", "GET", "/api/api-keys", nil)
}

func TestKeysByIDEndpoints(t *testing.T) {
	e := testenv.New(t)
	op := operatorClient(t, e)

	// A personal key for a named user (recovery: the operator issues it).
	k := mgObj(op.want(201, "", "POST", "/api/api-keys", map[string]any{"type": "personal", "userId": e.Member.ID, "name": "recovery"}), "key")
	plain, _ := k["key"].(string)
	mgKey(t, e, plain).want(200, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	// Filters by owner; the plaintext is never listed.
	mine := mgList(op.want(200, "", "GET", "/api/api-keys?userId="+e.Member.ID, nil), "keys")
	if !slices.Contains(mgIDs(mine), k["id"].(string)) {
		t.Fatalf("list by user = %v", mine)
	}
	for _, m := range mine {
		if _, ok := m["key"]; ok {
			t.Fatal("list shows a key's secret")
		}
	}
	// Bad bodies.
	op.want(400, "invalid_request", "POST", "/api/api-keys", map[string]any{"type": "bogus", "name": "x"})
	op.want(400, "invalid_request", "POST", "/api/api-keys", map[string]any{"type": "workspace", "name": "x"})
	op.want(400, "invalid_request", "POST", "/api/api-keys", map[string]any{"type": "personal", "userId": e.Member.ID, "name": "y", "level": "admin"})

	// Rotate and revoke by id; the audit trail records both.
	rot := op.want(200, "", "POST", "/api/api-keys/"+k["id"].(string)+"/rotate", map[string]any{"graceSeconds": 0})
	succ := mgObj(rot, "key")
	mgKey(t, e, plain).want(401, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	op.want(200, "", "DELETE", "/api/api-keys/"+succ["id"].(string), nil)
	mgKey(t, e, succ["key"].(string)).want(401, "", "GET", "/api/v1/workflows/"+e.Greet.ID, nil)
	op.want(404, "not_found", "DELETE", "/api/api-keys/nope", nil)
	evs := mgList(op.want(200, "", "GET", "/api/api-keys/"+k["id"].(string)+"/audit", nil), "events")
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev["action"].(string))
	}
	if !slices.Contains(actions, "created") || !slices.Contains(actions, "rotated") {
		t.Fatalf("audit actions = %v", actions)
	}
	op.want(400, "invalid_request", "GET", "/api/api-keys/"+k["id"].(string)+"/audit?limit=0", nil)

	// The owner may read their key's trail; someone else's key reads as not found.
	mgLogin(t, e, e.Member.Email, e.AdminPassword).want(200, "", "GET", "/api/api-keys/"+succ["id"].(string)+"/audit?limit=5", nil)
	outsider := mgLogin(t, e, e.Outsider.Email, e.AdminPassword)
	outsider.want(404, "", "GET", "/api/api-keys/"+k["id"].(string)+"/audit", nil)
	outsider.want(403, "", "POST", "/api/api-keys", map[string]any{"type": "workspace", "workspaceId": e.WS.ID, "name": "sneaky"})
}

func TestBackupEndpoint(t *testing.T) {
	e := testenv.New(t)
	op := operatorClient(t, e)
	files := func(c *mgClient, query string) map[string]bool {
		t.Helper()
		resp := c.raw("GET", "/api/admin/backup"+query, nil)
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-tar" {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("backup%s: %d %s", query, resp.StatusCode, b)
		}
		data, _ := io.ReadAll(resp.Body)
		if _, err := bolt.VerifyArchive(context.Background(), bytes.NewReader(data)); err != nil {
			t.Fatalf("archive: %v", err)
		}
		names := map[string]bool{}
		tr := tar.NewReader(bytes.NewReader(data))
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			names[h.Name] = true
		}
		return names
	}
	if n := files(op, ""); !n["core.db"] || !n["logs.db"] || !n["manifest.json"] || !n["master.check"] || n["master.key"] {
		t.Fatalf("operator backup holds %v", n)
	}
	if n := files(op, "?includeMasterKey=true"); !n["master.key"] {
		t.Fatalf("backup with the master key holds %v", n)
	}
	admin := mgLogin(t, e, e.Admin.Email, e.AdminPassword)
	if n := files(admin, ""); !n["core.db"] || n["master.key"] {
		t.Fatalf("admin backup holds %v", n)
	}
	admin.want(403, "forbidden", "GET", "/api/admin/backup?includeMasterKey=true", nil)
	mgLogin(t, e, e.Member.Email, e.AdminPassword).want(403, "forbidden", "GET", "/api/admin/backup", nil)
	for _, k := range []string{e.AdminKey, e.WSKey, e.OrgKey} {
		mgKey(t, e, k).want(403, "forbidden", "GET", "/api/admin/backup", nil)
	}
	(&mgClient{t: t, e: e}).want(401, "", "GET", "/api/admin/backup", nil)
}

func TestNamedUserEnvironmentForTheOperator(t *testing.T) {
	e := testenv.New(t)
	op := operatorClient(t, e)
	path := "/api/admin/users/" + e.Member.ID + "/environment"
	op.want(200, "", "PUT", path+"/TOKEN", map[string]any{"value": "personal-secret"})
	vars := mgList(op.want(200, "", "GET", path, nil), "data")
	if len(vars) != 1 || vars[0]["name"] != "TOKEN" || vars[0]["value"] != nil {
		t.Fatalf("list = %v", vars)
	}
	// Only the operator and the user themselves: not an instance admin, not a key.
	mgLogin(t, e, e.Admin.Email, e.AdminPassword).want(403, "", "GET", path, nil)
	mgKey(t, e, e.WSKey).want(403, "", "PUT", path+"/TOKEN", map[string]any{"value": "x"})
	mgLogin(t, e, e.Member.Email, e.AdminPassword).want(200, "", "GET", path, nil)
	op.want(200, "", "DELETE", path+"/TOKEN", nil)
	op.want(404, "", "GET", "/api/admin/users/nope/environment", nil)
}
