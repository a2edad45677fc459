package httpapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

func hookPost(t *testing.T, e *testenv.Env, path string, body []byte, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.URL+"/api/webhooks/trigger/"+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

func webhookRuns(t *testing.T, e *testenv.Env, wfID string) []*store.Execution {
	t.Helper()
	page, err := e.App.Store.Logs().List(context.Background(), store.LogQuery{WorkspaceID: e.WS.ID, WorkflowIDs: []string{wfID}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

// Sim's generic webhook (apps/sim/lib/webhooks/providers/generic.ts verifyAuth,
// providers/utils.ts verifyTokenAuth: "Authorization: Bearer <token>") plus
// SteelEngine's HMAC-SHA256 body signature: a good request answers 200 and logs a run
// with trigger webhook whose start block carries the payload; a bad signature or token
// answers 401 and runs nothing; a body over the cap answers 413 (Sim:
// lib/webhooks/processor.ts parseWebhookBody, 10 MiB).
func TestWebhookBearerAndHMAC(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	op := auth.Operator()
	for name, v := range map[string]string{"HOOK_TOKEN": "tok-0123456789abcdef", "HOOK_HMAC": "hmac-key-fedcba9876543210"} {
		if _, err := e.App.Service.SetEnv(ctx, op, core.EnvScope{WorkspaceID: e.WS.ID}, name, v); err != nil {
			t.Fatal(err)
		}
	}
	wf, err := e.App.Service.ImportWorkflow(ctx, op, e.WS.ID, testenv.Workflow(t, "webhook-hmac.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"order":"A-17","amount":"21"}`)
	sign := func(b []byte) string {
		m := hmac.New(sha256.New, []byte("hmac-key-fedcba9876543210"))
		m.Write(b)
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	good := map[string]string{"Authorization": "Bearer tok-0123456789abcdef", "X-Webhook-Signature": sign(body)}

	// Not deployed: the path is unknown.
	if code, _ := hookPost(t, e, "orders-in", body, good); code != 404 {
		t.Fatalf("undeployed webhook: %d", code)
	}
	if _, err := e.App.Service.Deploy(ctx, op, wf.ID, core.DeployRequest{}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		hdr  map[string]string
		body []byte
		want int
	}{
		{"bad signature", map[string]string{"Authorization": good["Authorization"], "X-Webhook-Signature": sign([]byte("other"))}, body, 401},
		{"no signature", map[string]string{"Authorization": good["Authorization"]}, body, 401},
		{"bad token", map[string]string{"Authorization": "Bearer nope", "X-Webhook-Signature": good["X-Webhook-Signature"]}, body, 401},
		{"no token", map[string]string{"X-Webhook-Signature": good["X-Webhook-Signature"]}, body, 401},
		{"oversize", good, append([]byte(`{"pad":"`), append(bytes.Repeat([]byte("x"), 10<<20), '"', '}')...), 413},
	} {
		if code, m := hookPost(t, e, "orders-in", c.body, c.hdr); code != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, code, m, c.want)
		}
	}
	if runs := webhookRuns(t, e, wf.ID); len(runs) != 0 {
		t.Fatalf("refused deliveries ran: %d runs", len(runs))
	}

	code, m := hookPost(t, e, "orders-in?src=shop", body, good)
	if code != 200 || m["message"] != "Webhook processed" {
		t.Fatalf("good delivery: %d %v", code, m)
	}
	id, _ := m["executionId"].(string)
	deadline := time.Now().Add(20 * time.Second)
	var ex *store.Execution
	for {
		ex, err = e.App.Store.Logs().Get(ctx, id)
		if err == nil && ex.Status != store.StatusQueued && ex.Status != store.StatusRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not finish: %+v %v", ex, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ex.Status != store.StatusCompleted || ex.Trigger != store.TriggerWebhook {
		t.Fatalf("run = %+v", ex)
	}
	var out struct {
		Result struct {
			Order   string
			Doubled float64
			Q       map[string]any
		}
	}
	if err := json.Unmarshal(ex.Output, &out); err != nil || out.Result.Order != "A-17" || out.Result.Doubled != 42 || out.Result.Q["src"] != "shop" {
		t.Errorf("output %s", ex.Output)
	}
	if runs := webhookRuns(t, e, wf.ID); len(runs) != 1 {
		t.Errorf("%d runs logged, want 1", len(runs))
	}
	if strings.Contains(string(ex.Input), "tok-0123456789abcdef") {
		t.Error("token in the logged input")
	}

	// Listed for readers of the workspace, without secrets.
	lm := mgKey(t, e, e.MemberKey).want(200, "", "GET", "/api/v1/triggers?workspaceId="+e.WS.ID, nil)
	hooks := mgObj(lm, "data")["webhooks"].([]any)
	if len(hooks) != 1 || hooks[0].(map[string]any)["path"] != "orders-in" || hooks[0].(map[string]any)["hmacHeader"] != "X-Webhook-Signature" {
		t.Errorf("webhooks = %v", hooks)
	}
	if raw, _ := json.Marshal(lm); strings.Contains(string(raw), "HOOK_") || strings.Contains(string(raw), "tok-") {
		t.Errorf("listing shows secrets: %s", raw)
	}
	// A second workflow cannot take the same path.
	dup, err := e.App.Service.ImportWorkflow(ctx, op, e.WS.ID, testenv.Workflow(t, "webhook-hmac.json"))
	if err != nil {
		t.Fatal(err)
	}
	mgKey(t, e, e.AdminKey).want(409, "webhook_path_taken", "POST", "/api/v1/workflows/"+dup.ID+"/deploy", nil)

	// Like the workflow list, outsiders see nothing of the workspace.
	om := mgKey(t, e, e.OutsiderKey).want(200, "", "GET", "/api/v1/triggers?workspaceId="+e.WS.ID, nil)
	if len(mgObj(om, "data")["webhooks"].([]any)) != 0 {
		t.Errorf("outsider sees webhooks: %v", om)
	}
}
