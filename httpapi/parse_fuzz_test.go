package httpapi

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The request parsers must never panic, and every rejection must be an *apiError a
// client can read (400-class), never an internal error.

func asClientError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 {
		t.Fatalf("rejection is not a client error: %#v", err)
	}
}

func FuzzExecuteBody(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"inputs":{}}`, `{"input":{"a":1}}`, `{"stream":true,"selectedOutputs":["a.b"]}`, `[1]`, `{"a":1e400}`, `{"a":`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/api/workflows/x/execute", strings.NewReader(body))
		m, err := readJSONObject(r)
		asClientError(t, err)
		if err == nil {
			legacyInput(m)
			_, err := stringList(m["selectedOutputs"], "selectedOutputs")
			asClientError(t, err)
		}
		r = httptest.NewRequest("POST", "/api/v2/workflows/x/execute", strings.NewReader(body))
		_, err = decodeV2Execute(r)
		asClientError(t, err)
	})
}

func FuzzLogParams(f *testing.F) {
	for _, s := range []string{
		"workspaceId=w", "workspaceId=w&limit=0", "workspaceId=w&limit=1001&order=asc",
		"workspaceId=w&startDate=2026-01-01T00:00:00Z&endDate=x", "workspaceId=w&minDurationMs=-1&cursor=%%",
		"workspaceId=w&details=full&includeTraceSpans=maybe&level=error,info&triggers=api,mcp",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, v2 bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := parseLogParams(q, v2)
		asClientError(t, err)
		if err == nil && (p.q.Limit < 1 || p.q.Limit > 1000) {
			t.Fatalf("limit %d escaped its bounds", p.q.Limit)
		}
		_, err = decodeLogCursor(q.Get("cursor"), q.Get("order"))
		asClientError(t, err)
	})
}
