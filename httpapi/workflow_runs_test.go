package httpapi_test

import (
	"testing"

	"github.com/steelengine/steelengine/internal/testenv"
)

func v2Exec(id string) string { return "/api/v2/workflows/" + id + "/execute" }

func TestV2ExecuteSyncAsyncAndErrors(t *testing.T) {
	e := testenv.New(t)
	resp, m := xreq(t, e, "POST", v2Exec(e.Echo.ID), e.WSKey, map[string]any{"input": map[string]any{"message": "v2"}}, map[string]string{"X-Run-Id": "run-a"})
	if resp.StatusCode != 200 || resp.Header.Get("X-Run-Id") != "run-a" || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("%d %v %v", resp.StatusCode, resp.Header, m)
	}
	d := xobj(t, m, "data")
	if d["runId"] != "run-a" || d["status"] != "completed" || d["error"] != nil || d["workflowId"] != e.Echo.ID ||
		xobj(t, xobj(t, d, "output"), "result")["message"] != "v2" {
		t.Fatalf("data %v", d)
	}
	// X-Run-Id is claimed once.
	m = xwant(t, e, 409, "run_id_conflict", "POST", v2Exec(e.Echo.ID), e.WSKey, map[string]any{}, map[string]string{"X-Run-Id": "run-a"})
	if xobj(t, xobj(t, m, "error"), "details")["code"] != "RUN_ID_CONFLICT" {
		t.Fatalf("conflict %v", m)
	}
	// Strict body.
	for _, body := range []any{
		map[string]any{"message": "top-level fields are not input in v2"},
		map[string]any{"async": true, "stream": true},
		map[string]any{"async": true, "selectedOutputs": []string{"echo"}},
		map[string]any{"executionTimeoutSeconds": 0},
		map[string]any{"input": "not an object"},
		`{"input":`,
	} {
		m := xwant(t, e, 400, "invalid_request", "POST", v2Exec(e.Echo.ID), e.WSKey, body, nil)
		if xobj(t, m, "error")["message"] == "" {
			t.Fatalf("no message %v", m)
		}
	}
	// Access in the v2 error shape.
	xwant(t, e, 401, "invalid_api_key", "POST", v2Exec(e.Echo.ID), "", map[string]any{}, nil)
	xwant(t, e, 403, "forbidden", "POST", v2Exec(e.Greet.ID), e.WSNarrowKey, map[string]any{}, nil)
	xwant(t, e, 403, "forbidden", "POST", v2Exec(e.Greet.ID), e.WSReadKey, map[string]any{}, nil)
	xwant(t, e, 403, "not_deployed", "POST", v2Exec(e.Undeployed.ID), e.WSKey, map[string]any{}, nil)
	xwant(t, e, 404, "not_found", "POST", v2Exec("nope"), e.WSKey, map[string]any{}, nil)

	// Failures are in-band: 200 with status failed and a v2 error code.
	fail := xdeploy(t, e, "fail.json")
	d = xobj(t, xwant(t, e, 200, "", "POST", v2Exec(fail.ID), e.WSKey, map[string]any{}, nil), "data")
	if d["status"] != "failed" || xobj(t, d, "error")["code"] != "BLOCK_EXECUTION_FAILED" {
		t.Fatalf("failed run %v", d)
	}
	slow := xdeploy(t, e, "wait.json")
	d = xobj(t, xwant(t, e, 200, "", "POST", v2Exec(slow.ID), e.WSKey, map[string]any{"executionTimeoutSeconds": 1}, nil), "data")
	if d["status"] != "failed" || xobj(t, d, "error")["code"] != "TIMEOUT" {
		t.Fatalf("timed out run %v", d)
	}

	// Async → 202 and the run to completion.
	resp, m = xreq(t, e, "POST", v2Exec(e.Echo.ID), e.OrgWorkflowKey, map[string]any{"async": true, "input": map[string]any{"message": "bg"}}, nil)
	if resp.StatusCode != 202 {
		t.Fatalf("async %d %v", resp.StatusCode, m)
	}
	d = xobj(t, m, "data")
	runID := d["runId"].(string)
	if d["statusUrl"] != e.URL+"/api/v2/workflows/"+e.Echo.ID+"/runs/"+runID || resp.Header.Get("X-Run-Id") != runID {
		t.Fatalf("async data %v", d)
	}
	run := xpoll(t, e, "/api/v2/workflows/"+e.Echo.ID+"/runs/"+runID, e.OrgWorkflowKey, func(m map[string]any) bool {
		return xobj(t, m, "data")["status"] == "completed"
	})
	rd := xobj(t, run, "data")
	if xobj(t, xobj(t, rd, "output"), "result")["message"] != "bg" || rd["trigger"] != "api" || rd["durationMs"] == nil {
		t.Fatalf("run %v", rd)
	}
	xwant(t, e, 403, "forbidden", "GET", "/api/v2/workflows/"+e.Echo.ID+"/runs/"+runID, e.OutsiderKey, nil, nil)
	xwant(t, e, 404, "not_found", "GET", "/api/v2/workflows/"+e.Greet.ID+"/runs/"+runID, e.WSKey, nil, nil)
	xwant(t, e, 409, "not_cancellable", "POST", "/api/v2/workflows/"+e.Echo.ID+"/runs/"+runID+"/cancel", e.WSKey, nil, nil)
	xwant(t, e, 400, "invalid_request", "GET", "/api/v2/workflows/"+e.Echo.ID+"/runs/"+runID+"?bogus=1", e.WSKey, nil, nil)
}

func TestV2Stream(t *testing.T) {
	e := testenv.New(t)
	resp, raw := xraw(t, e, "POST", v2Exec(e.Echo.ID), e.WSKey, map[string]any{"stream": true, "input": map[string]any{"message": "s"}}, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
	frames := sseFrames(t, raw)
	final, _ := frames[len(frames)-2].(map[string]any)
	if frames[len(frames)-1] != "[DONE]" || final["event"] != "final" ||
		xobj(t, xobj(t, xobj(t, final, "data"), "output"), "result")["message"] != "s" {
		t.Fatalf("frames %v", frames)
	}
}

func TestV2ListRunsPaging(t *testing.T) {
	e := testenv.New(t)
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		d := xobj(t, xwant(t, e, 200, "", "POST", v2Exec(e.Echo.ID), e.WSKey, map[string]any{}, nil), "data")
		want[d["runId"].(string)] = true
	}
	xwant(t, e, 200, "", "POST", v2Exec(e.Greet.ID), e.WSKey, map[string]any{}, nil) // other workflow: not listed
	base := "/api/v2/workflows/" + e.Echo.ID + "/runs?limit=3"
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("too many pages")
		}
		p := base
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		m := xwant(t, e, 200, "", "GET", p, e.WSReadKey, nil, nil)
		for _, it := range m["data"].([]any) {
			id := it.(map[string]any)["runId"].(string)
			if seen[id] || !want[id] {
				t.Fatalf("duplicate or foreign run %s", id)
			}
			seen[id] = true
		}
		next, _ := m["nextCursor"].(string)
		if next == "" {
			if _, ok := m["nextCursor"]; !ok {
				t.Fatal("nextCursor missing (must be null)")
			}
			break
		}
		cursor = next
		// A cursor is bound to its order.
		if pages == 0 {
			xwant(t, e, 400, "invalid_cursor", "GET", base+"&order=asc&cursor="+cursor, e.WSKey, nil, nil)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("saw %d of %d runs", len(seen), len(want))
	}
	m := xwant(t, e, 200, "", "GET", "/api/v2/workflows/"+e.Echo.ID+"/runs?status=failed", e.WSKey, nil, nil)
	if len(m["data"].([]any)) != 0 {
		t.Fatalf("status filter %v", m)
	}
	for _, q := range []string{"limit=0", "limit=101", "startDate=2026-01-01T00:00:00", "order=sideways", "bogus=1", "status=weird", "cursor=!!"} {
		xwant(t, e, 400, "", "GET", "/api/v2/workflows/"+e.Echo.ID+"/runs?"+q, e.WSKey, nil, nil)
	}
	xwant(t, e, 403, "forbidden", "GET", "/api/v2/workflows/"+e.Echo.ID+"/runs", e.OutsiderKey, nil, nil)
	xwant(t, e, 403, "forbidden", "GET", "/api/v2/workflows/"+e.Greet.ID+"/runs", e.OrgWorkflowKey, nil, nil)
	xwant(t, e, 200, "", "GET", "/api/v2/workflows/"+e.Echo.ID+"/runs", e.OrgWorkflowKey, nil, nil)
}
