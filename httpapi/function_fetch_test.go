package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
)

// fetch() in a function block goes through the server's SSRF-guarded client: a
// loopback server answers only when the operator started with --allow-loopback
// (apps/sim/app/api/function/execute/route.ts gives function code fetch).
func TestFunctionFetchThroughGuard(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"pong":true}`)
	}))
	defer upstream.Close()
	code := `const r = await fetch('` + upstream.URL + `'); return {status: r.status, body: await r.json()}`
	wfJSON := strings.Replace(string(testenv.Workflow(t, "fail.json")), `throw new Error('boom')`, code, 1)
	for _, allow := range []bool{true, false} {
		e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.AllowLoopback = allow }})
		ctx := context.Background()
		wf, err := e.App.Service.ImportWorkflow(ctx, auth.Operator(), e.WS.ID, []byte(wfJSON))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.App.Service.Deploy(ctx, auth.Operator(), wf.ID, core.DeployRequest{}); err != nil {
			t.Fatal(err)
		}
		resp, m := xreq(t, e, "POST", execPath(wf.ID), e.WSKey, map[string]any{}, nil)
		if allow {
			res, _ := xobj(t, m, "output")["result"].(map[string]any)
			body, _ := res["body"].(map[string]any)
			if resp.StatusCode != 200 || res["status"] != float64(200) || body["pong"] != true {
				t.Fatalf("allowed: %d %v", resp.StatusCode, m)
			}
			continue
		}
		if resp.StatusCode == 200 || !strings.Contains(m["error"].(string), "destination address not allowed") {
			t.Fatalf("refused: %d %v", resp.StatusCode, m)
		}
	}
}
