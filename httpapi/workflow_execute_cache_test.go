package httpapi_test

import (
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

// Execute serves active versions from memory; every change to the workflow must still
// hold on the very next request: undeploy, redeploy, delete.
func TestExecuteFollowsUndeployRedeployDelete(t *testing.T) {
	e := testenv.New(t)
	w := e.Echo.ID
	path := "/api/workflows/" + w + "/execute"
	body := map[string]any{"message": "hi"}
	admin := mgKey(t, e, e.AdminKey)
	for range 2 { // the second run is served from the warm cache
		xwant(t, e, 200, "", "POST", path, e.WSKey, body, nil)
	}
	admin.want(200, "", "DELETE", "/api/v1/workflows/"+w+"/deploy", nil)
	xwant(t, e, 403, "not_deployed", "POST", path, e.WSKey, body, nil)
	admin.want(200, "", "POST", "/api/v1/workflows/"+w+"/deploy", map[string]any{"version": 1})
	xwant(t, e, 200, "", "POST", path, e.WSKey, body, nil)
	admin.want(200, "", "PUT", "/api/v1/workflows/"+w, simDoc("Echo v2", "return {v: 2}"))
	admin.want(200, "", "POST", "/api/v1/workflows/"+w+"/deploy", nil)
	if out := xobj(t, xobj(t, xwant(t, e, 200, "", "POST", path, e.WSKey, body, nil), "output"), "result"); out["v"] != float64(2) {
		t.Fatalf("after redeploy: %v", out)
	}
	admin.want(200, "", "DELETE", "/api/v1/workflows/"+w, nil)
	xwant(t, e, 404, "not_found", "POST", path, e.WSKey, body, nil)
}
