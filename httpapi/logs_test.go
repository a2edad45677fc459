package httpapi_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store"
)

// xrun executes a workflow directly through core (fast seeding of logs).
func xrun(t *testing.T, e *testenv.Env, wfID string) *store.Execution {
	t.Helper()
	run, err := e.App.Service.Execute(context.Background(), auth.Operator(), core.RunRequest{WorkflowID: wfID, Trigger: store.TriggerAPI})
	if err != nil {
		t.Fatal(err)
	}
	return run.Execution
}

func logItems(t *testing.T, m map[string]any) []map[string]any {
	t.Helper()
	arr, ok := m["data"].([]any)
	if !ok {
		t.Fatalf("data is not a list: %v", m)
	}
	out := make([]map[string]any, 0, len(arr))
	for _, v := range arr {
		out = append(out, v.(map[string]any))
	}
	return out
}

func TestLogsV1ListFiltersAndAccess(t *testing.T) {
	e := testenv.New(t)
	fail := xdeploy(t, e, "fail.json")
	g := xrun(t, e, e.Greet.ID)
	ec := xrun(t, e, e.Echo.ID)
	f := xrun(t, e, fail.ID)
	ws := "/api/v1/logs?workspaceId=" + e.WS.ID

	m := xwant(t, e, 200, "", "GET", ws, e.WSReadKey, nil, nil)
	items := logItems(t, m)
	if len(items) != 3 || items[0]["id"] != f.ID || items[2]["id"] != g.ID {
		t.Fatalf("default order is newest first: %v", items)
	}
	if _, ok := m["nextCursor"]; ok {
		t.Fatal("nextCursor on the last page")
	}
	lim := xobj(t, m, "limits")
	if xobj(t, xobj(t, lim, "workflowExecutionRateLimit"), "sync")["requestsPerMinute"] == nil || xobj(t, lim, "usage")["plan"] == nil {
		t.Fatalf("limits %v", lim)
	}
	if items[0]["level"] != "error" || items[0]["executionId"] != f.ID || items[0]["workflow"] != nil || items[0]["cost"] == nil {
		t.Fatalf("basic item %v", items[0])
	}
	// Filters.
	if it := logItems(t, xwant(t, e, 200, "", "GET", ws+"&level=error", e.WSKey, nil, nil)); len(it) != 1 || it[0]["id"] != f.ID {
		t.Fatalf("level filter %v", it)
	}
	if it := logItems(t, xwant(t, e, 200, "", "GET", ws+"&workflowIds="+e.Echo.ID+","+e.Greet.ID+"&order=asc", e.WSKey, nil, nil)); len(it) != 2 || it[0]["id"] != g.ID {
		t.Fatalf("workflow filter %v", it)
	}
	if it := logItems(t, xwant(t, e, 200, "", "GET", ws+"&executionId="+ec.ID, e.WSKey, nil, nil)); len(it) != 1 || it[0]["id"] != ec.ID {
		t.Fatalf("execution filter %v", it)
	}
	if it := logItems(t, xwant(t, e, 200, "", "GET", ws+"&triggers=mcp", e.WSKey, nil, nil)); len(it) != 0 {
		t.Fatalf("trigger filter %v", it)
	}
	if it := logItems(t, xwant(t, e, 200, "", "GET", ws+"&startDate=2200-01-01T00:00:00Z", e.WSKey, nil, nil)); len(it) != 0 {
		t.Fatalf("date filter %v", it)
	}
	// Full details.
	it := logItems(t, xwant(t, e, 200, "", "GET", ws+"&details=full&includeFinalOutput=true&includeTraceSpans=true&workflowIds="+e.Greet.ID, e.WSKey, nil, nil))
	if len(it) != 1 || xobj(t, it[0], "workflow")["name"] != "Greet" || xobj(t, it[0], "finalOutput")["result"] != "Hello World! 4 5" {
		t.Fatalf("full %v", it)
	}
	if spans, _ := it[0]["traceSpans"].([]any); len(spans) == 0 {
		t.Fatalf("trace spans %v", it[0])
	}
	// Scope: an org key with a workflow grant sees only that workflow.
	it = logItems(t, xwant(t, e, 200, "", "GET", ws, e.OrgWorkflowKey, nil, nil))
	if len(it) != 1 || it[0]["id"] != ec.ID {
		t.Fatalf("narrowed %v", it)
	}
	it = logItems(t, xwant(t, e, 200, "", "GET", ws, e.WSNarrowKey, nil, nil))
	if len(it) != 1 || it[0]["id"] != ec.ID {
		t.Fatalf("narrow ws key %v", it)
	}
	xwant(t, e, 403, "", "GET", ws+"&workflowIds="+e.Greet.ID, e.OrgWorkflowKey, nil, nil)
	xwant(t, e, 403, "forbidden", "GET", ws, e.OutsiderKey, nil, nil)
	xwant(t, e, 401, "invalid_api_key", "GET", ws, "", nil, nil)
	// Bad parameters name the field.
	for q, field := range map[string]string{
		"/api/v1/logs":                  "workspaceId",
		ws + "&level=warn":              "level",
		ws + "&details=some":            "details",
		ws + "&limit=abc":               "limit",
		ws + "&order=up":                "order",
		ws + "&startDate=yesterday":     "startDate",
		ws + "&minDurationMs=-1":        "minDurationMs",
		ws + "&includeTraceSpans=maybe": "includeTraceSpans",
		ws + "&cursor=garbage":          "cursor",
	} {
		m := xwant(t, e, 400, "", "GET", q, e.WSKey, nil, nil)
		det, _ := m["details"].([]any)
		if len(det) == 0 || det[0].(map[string]any)["field"] != field {
			t.Fatalf("%s: details %v", q, m)
		}
	}
	// limit is clamped, not rejected.
	xwant(t, e, 200, "", "GET", ws+"&limit=5000", e.WSKey, nil, nil)
}

func TestLogsV1DetailEndpoints(t *testing.T) {
	e := testenv.New(t)
	ec := xrun(t, e, e.Echo.ID)
	g := xrun(t, e, e.Greet.ID)
	m := xwant(t, e, 200, "", "GET", "/api/v1/logs/"+ec.ID, e.OrgWorkflowKey, nil, nil)
	d := xobj(t, m, "data")
	if d["id"] != ec.ID || xobj(t, d, "workflow")["name"] != "Echo" || xobj(t, d, "executionData")["finalOutput"] == nil || m["limits"] == nil {
		t.Fatalf("log %v", m)
	}
	// Outside the caller's scope reads as not found.
	m = xwant(t, e, 404, "not_found", "GET", "/api/v1/logs/"+g.ID, e.OrgWorkflowKey, nil, nil)
	if m["error"] != "Log not found" {
		t.Fatalf("404 %v", m)
	}
	xwant(t, e, 404, "not_found", "GET", "/api/v1/logs/"+g.ID, e.OutsiderKey, nil, nil)
	xwant(t, e, 404, "not_found", "GET", "/api/v1/logs/nope", e.WSKey, nil, nil)

	m = xwant(t, e, 200, "", "GET", "/api/v1/logs/executions/"+g.ID, e.WSReadKey, nil, nil)
	if m["executionId"] != g.ID || xobj(t, xobj(t, m, "workflowState"), "blocks")["greet"] == nil || xobj(t, m, "executionMetadata")["trigger"] != "api" || m["limits"] == nil {
		t.Fatalf("execution %v", m)
	}
	xwant(t, e, 404, "not_found", "GET", "/api/v1/logs/executions/"+g.ID, e.WSNarrowKey, nil, nil)

	// v2.
	m = xwant(t, e, 200, "", "GET", "/api/v2/logs?workspaceId="+e.WS.ID, e.WSKey, nil, nil)
	items := logItems(t, m)
	if len(items) != 2 || items[0]["runId"] != g.ID || xobj(t, items[0], "workflow")["name"] != "Greet" || m["limits"] != nil {
		t.Fatalf("v2 list %v", m)
	}
	if _, ok := m["nextCursor"]; !ok {
		t.Fatal("v2 nextCursor must be present (null)")
	}
	xwant(t, e, 400, "invalid_request", "GET", "/api/v2/logs?workspaceId="+e.WS.ID+"&startDate=2026-01-01T00:00:00%2B02:00", e.WSKey, nil, nil)
	d = xobj(t, xwant(t, e, 200, "", "GET", "/api/v2/logs/"+g.ID, e.WSKey, nil, nil), "data")
	if d["runId"] != g.ID || d["workflowState"] == nil || xobj(t, d, "finalOutput")["result"] != "Hello World! 4 5" {
		t.Fatalf("v2 log %v", d)
	}
	xwant(t, e, 404, "not_found", "GET", "/api/v2/logs/"+g.ID, e.OrgWorkflowKey, nil, nil)
}

func TestLogsCursorPagingUnderConcurrentInserts(t *testing.T) {
	e := testenv.New(t)
	before := map[string]bool{}
	for i := 0; i < 25; i++ {
		before[xrun(t, e, e.Echo.ID).ID] = true
	}
	for _, order := range []string{"desc", "asc"} {
		t.Run(order, func(t *testing.T) {
			var stop atomic.Bool
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if _, err := e.App.Service.Execute(context.Background(), auth.Operator(), core.RunRequest{WorkflowID: e.Greet.ID}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			seen := map[string]bool{}
			cursor := ""
			for pages := 0; pages < 1000; pages++ {
				p := "/api/v1/logs?limit=4&order=" + order + "&workspaceId=" + e.WS.ID
				if cursor != "" {
					p += "&cursor=" + cursor
				}
				m := xwant(t, e, 200, "", "GET", p, e.WSKey, nil, nil)
				for _, it := range logItems(t, m) {
					id := it["id"].(string)
					if seen[id] {
						t.Fatalf("duplicate %s", id)
					}
					seen[id] = true
				}
				cursor, _ = m["nextCursor"].(string)
				if cursor == "" {
					break
				}
				if order == "asc" && pages > 12 {
					break // asc keeps finding new inserts; the older ones are all behind us
				}
			}
			stop.Store(true)
			wg.Wait()
			for id := range before {
				if !seen[id] {
					t.Fatalf("gap: %s missing", id)
				}
			}
		})
	}
}

func TestLogMetrics(t *testing.T) {
	e := testenv.New(t)
	fail := xdeploy(t, e, "fail.json")
	for i := 0; i < 3; i++ {
		xrun(t, e, e.Echo.ID)
	}
	xrun(t, e, fail.ID)
	m := xwant(t, e, 200, "", "GET", "/api/v1/logs/metrics?bucket=1h&workspaceId="+e.WS.ID, e.WSReadKey, nil, nil)
	bs := logItems(t, m)
	var count, errs float64
	for _, b := range bs {
		count += b["count"].(float64)
		errs += b["errors"].(float64)
		for _, k := range []string{"errorRate", "p50", "p95", "p99", "cost", "start", "end"} {
			if _, ok := b[k]; !ok {
				t.Fatalf("bucket lacks %s: %v", k, b)
			}
		}
	}
	if count != 4 || errs != 1 {
		t.Fatalf("count %v errors %v: %v", count, errs, bs)
	}
	// Narrowed key: only its workflow.
	m = xwant(t, e, 200, "", "GET", "/api/v1/logs/metrics?groupBy=workflow&workspaceId="+e.WS.ID, e.OrgWorkflowKey, nil, nil)
	count = 0
	for _, b := range logItems(t, m) {
		count += b["count"].(float64)
	}
	if wfs, _ := m["workflows"].([]any); count != 3 || len(wfs) != 1 {
		t.Fatalf("narrowed metrics %v", m)
	}
	xwant(t, e, 400, "", "GET", "/api/v1/logs/metrics?bucket=5m&workspaceId="+e.WS.ID, e.WSKey, nil, nil)
	xwant(t, e, 400, "", "GET", "/api/v1/logs/metrics", e.WSKey, nil, nil)
	xwant(t, e, 403, "forbidden", "GET", "/api/v1/logs/metrics?workspaceId="+e.WS.ID, e.OutsiderKey, nil, nil)
}

func TestUsageLimits(t *testing.T) {
	e := testenv.New(t)
	resp, m := xreq(t, e, "GET", "/api/users/me/usage-limits", e.WSKey, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") == "" {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	rl := xobj(t, m, "rateLimit")
	sync := xobj(t, rl, "sync")
	if m["success"] != true || rl["authType"] != "api" || sync["limit"] == nil || sync["remaining"] == nil || sync["resetAt"] == nil || sync["isLimited"] != false {
		t.Fatalf("usage %v", m)
	}
	if u := xobj(t, m, "usage"); u["currentPeriodCost"] == nil || u["plan"] == nil || u["limit"] == nil {
		t.Fatalf("usage %v", u)
	}
	xwant(t, e, 401, "invalid_api_key", "GET", "/api/users/me/usage-limits", "", nil, nil)
}
