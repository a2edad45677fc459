package engine

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCredentialName(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "authorization": true, "Proxy-Authorization": true, "Cookie": true,
		"Set-Cookie": true, "set-cookie": true, "X-API-Key": true, "x-api-key": true, "apiKey": true,
		"api_key": true, "APIKEY": true, "token": true, "access_token": true, "X-Auth-Token": true,
		"refreshToken": true, "client_secret": true, "SECRET": true, "password": true, "db_passwd": true,
		"Passphrase": true, "private_key": true, "key": true, "api_key_id": true, "X-Amz-Signature": true,
		"X-Amz-Credential": true, "sig": true, "auth": true, "sessionId": true,
		// Not credentials: names, counts, words that merely contain "key".
		"": false, "name": false, "url": false, "Content-Type": false, "Accept": false, "maxTokens": false,
		"totalTokens": false, "tokens": false, "keyword": false, "keywords": false, "author": false,
		"limit": false, "q": false, "id": false, "Key": true,
	} {
		if got := CredentialName(name); got != want {
			t.Errorf("CredentialName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRedactValues(t *testing.T) {
	const sec = "s3cr3t-VALUE-42"
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"header row", map[string]any{"id": "r1", "cells": map[string]any{"Key": "Authorization", "Value": "Bearer " + sec}},
			map[string]any{"id": "r1", "cells": map[string]any{"Key": "Authorization", "Value": Redacted}}},
		{"lowercase row", map[string]any{"key": "X-API-Key", "value": sec}, map[string]any{"key": "X-API-Key", "value": Redacted}},
		{"harmless row", map[string]any{"Key": "Accept", "Value": "application/json"}, map[string]any{"Key": "Accept", "Value": "application/json"}},
		{"env reference row", map[string]any{"Key": "Authorization", "Value": "Bearer {{API_TOKEN}}"},
			map[string]any{"Key": "Authorization", "Value": "Bearer {{API_TOKEN}}"}},
		{"block reference row", map[string]any{"Key": "token", "Value": "<start.token>"}, map[string]any{"Key": "token", "Value": "<start.token>"}},
		{"subBlock", map[string]any{"id": "apiKey", "type": "short-input", "value": sec},
			map[string]any{"id": "apiKey", "type": "short-input", "value": Redacted}},
		{"variable", map[string]any{"id": "v1", "name": "dbPassword", "type": "plain", "value": sec},
			map[string]any{"id": "v1", "name": "dbPassword", "type": "plain", "value": Redacted}},
		{"fields", map[string]any{"user": "ann", "password": sec, "maxTokens": "1000", "tokens": map[string]any{"total": 3.0}},
			map[string]any{"user": "ann", "password": Redacted, "maxTokens": "1000", "tokens": map[string]any{"total": 3.0}}},
		{"response headers", map[string]any{"set-cookie": "sid=" + sec, "content-type": "text/plain"},
			map[string]any{"set-cookie": Redacted, "content-type": "text/plain"}},
		{"list under credential name", map[string]any{"apiKeys": []any{sec, "other-key-1"}},
			map[string]any{"apiKeys": []any{Redacted, Redacted}}},
		{"numbers kept", map[string]any{"token": 5.0}, map[string]any{"token": 5.0}},
		{"url query", "https://api.example.com/v1/items?token=" + sec + "&page=2",
			"https://api.example.com/v1/items?token=" + Redacted + "&page=" + Redacted},
		{"url userinfo", "https://bob:" + sec + "@api.example.com/x", "https://" + Redacted + "@api.example.com/x"},
		{"url fragment", "https://app.example.com/cb#access_token=" + sec, "https://app.example.com/cb#access_token=" + Redacted},
		{"url reference query", "https://api.example.com/x?q=<start.q>&key={{KEY}}", "https://api.example.com/x?q=<start.q>&key={{KEY}}"},
		{"bearer text", "sent Authorization: Bearer " + sec + " and failed", "sent Authorization: Bearer " + Redacted + " and failed"},
		{"code literal", `const apiKey = "` + sec + `"; fetch(url, {headers: {'X-API-Key': '` + sec + `', Accept: "x"}})`,
			`const apiKey = "` + Redacted + `"; fetch(url, {headers: {'X-API-Key': '` + Redacted + `', Accept: "x"}})`},
		{"code reference kept", `const token = "{{API_TOKEN}}"`, `const token = "{{API_TOKEN}}"`},
		{"json text body", `{"username":"ann","password":"` + sec + `"}`, `{"password":"` + Redacted + `","username":"ann"}`},
		{"json text unchanged", `{"b": 1, "a": "x"}`, `{"b": 1, "a": "x"}`},
		{"form body", "grant_type=password&username=ann&password=" + sec, "grant_type=password&username=ann&password=" + Redacted},
		{"plain text", "hello world: nothing = here", "hello world: nothing = here"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Redact(tc.in, nil)
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(tc.want)
			if string(gb) != string(wb) {
				t.Errorf("Redact:\n got %s\nwant %s", gb, wb)
			}
			if strings.Contains(string(gb), sec) {
				t.Errorf("secret survived: %s", gb)
			}
		})
	}
}

func TestRedactKnownSecrets(t *testing.T) {
	got := Redact(map[string]any{"msg": "the value is abcd1234!", "short": "ab"}, []string{"abcd1234", "ab"})
	b, _ := json.Marshal(got)
	if string(b) != `{"msg":"the value is [REDACTED]!","short":"ab"}` {
		t.Errorf("got %s", b)
	}
	if s := RedactText("GET https://x.example/a?sig=zz&n=1 failed", nil); s != "GET https://x.example/a?sig=[REDACTED]&n=[REDACTED] failed" {
		t.Errorf("RedactText = %q", s)
	}
}

// Exports mask credential values but keep everything that makes the workflow run:
// references, harmless query values, names and ids.
func TestExportRedactsCredentials(t *testing.T) {
	const sec = "live-SECRET-9f8e7d"
	w := &Workflow{Blocks: map[string]*Block{}, Metadata: Metadata{Name: "x"}}
	w.Blocks["api"] = &Block{ID: "api", Type: "api", Name: "API", Enabled: true, SubBlocks: map[string]*SubBlock{
		"url": {ID: "url", Type: "short-input", Value: "https://u:" + sec + "@api.example.com/v1?page=2&api_key=" + sec + "&q=<start.q>"},
		"headers": {ID: "headers", Type: "table", Value: []any{
			map[string]any{"id": "h1", "cells": map[string]any{"Key": "Authorization", "Value": "Bearer " + sec}},
			map[string]any{"id": "h2", "cells": map[string]any{"Key": "X-Env", "Value": "{{REGION}}"}},
			map[string]any{"id": "h3", "cells": map[string]any{"Key": "X-API-Key", "Value": "{{API_KEY}}"}},
		}},
		"params": {ID: "params", Type: "table", Value: `[{"id":"p1","cells":{"Key":"token","Value":"` + sec + `"}}]`},
		"body":   {ID: "body", Type: "code", Value: `{"user":"ann","password":"` + sec + `"}`},
	}}
	w.Blocks["fn"] = &Block{ID: "fn", Type: "function", Name: "Fn", Enabled: true, SubBlocks: map[string]*SubBlock{
		"code": {ID: "code", Type: "code", Value: "const secret = '" + sec + "';\nreturn 1"},
	}}
	w.BlockOrder = []string{"api", "fn"}
	w.Variables = []*Variable{{ID: "v1", Name: "webhookSecret", Type: "plain", Value: sec}, {ID: "v2", Name: "region", Type: "plain", Value: "eu"}}
	out, err := Export(w)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, sec) {
		t.Fatalf("export leaks the secret: %s", s)
	}
	for _, keep := range []string{"{{REGION}}", "{{API_KEY}}", "page=2", `q=\u003cstart.q\u003e`, `"Key":"Authorization"`, `"name":"webhookSecret"`, `"value":"eu"`, "return 1"} {
		if !strings.Contains(s, keep) {
			t.Errorf("export lost %q: %s", keep, s)
		}
	}
	if _, err := Import(out); err != nil {
		t.Fatalf("redacted export does not import: %v", err)
	}
}

// BenchmarkRedactLargeOutput is an api block's 1 MiB JSON response as logged.
func BenchmarkRedactLargeOutput(b *testing.B) {
	items := make([]any, 0, 5000)
	for i := range 5000 {
		items = append(items, map[string]any{"id": float64(i), "name": "item name here", "url": "https://cdn.example.com/a/b.png?w=200&h=100",
			"description": "some longer text: with a colon = and an equals sign, nothing hidden", "token": "abcdefgh"})
	}
	out := map[string]any{"data": map[string]any{"items": items}, "status": 200.0}
	b.ReportAllocs()
	for b.Loop() {
		Redact(out, []string{"env-secret-1", "env-secret-2"})
	}
}

// TestCredentialNameFastPath holds the allocation-free ASCII path to the general one on
// generated names built from the fragments the rules look at.
func TestCredentialNameFastPath(t *testing.T) {
	parts := []string{"key", "Key", "KEYS", "token", "Tokens", "secret", "pass", "auth", "api", "x", "id",
		"word", "sig", "cookie", "set", "-", "_", ".", " ", "1", "Private", "Session", "k", "ey", "s", "sign", "ature"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(5) {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		name := b.String()
		if fast, slow := credentialNameASCII(name), credentialNameSlow(name); fast != slow {
			t.Fatalf("CredentialName(%q): fast path %v, general %v", name, fast, slow)
		}
	}
	if n := testing.AllocsPerRun(100, func() { CredentialName("X-Api-Key-Name") }); n != 0 {
		t.Errorf("CredentialName allocates %v times for an ASCII name", n)
	}
	// Non-ASCII goes the general way: the Kelvin sign lowercases to k.
	if !CredentialName("api_\u212aey") {
		t.Error("api_\\u212aey (Kelvin sign) is not a credential name")
	}
}

// TestNothingToMaskDifferential: skipping the JSON round trip of a logged JSON string
// (nothingToMask) never changes what redaction returns, on generated JSON texts built
// from credential-like names, URLs, auth schemes, escapes, non-ASCII and a secret.
func TestNothingToMaskDifferential(t *testing.T) {
	keys := []string{"name", "id", "data", "hello", "api_key", "apiKey", "to-ken", "Token", "sig", "x", "Authorization",
		"pass", "P-A-S-S", "session_id", "jwt", "key", "keyword", "value", "Value", "Key", "items", "api_\u212aey", "maxTokens", "cookie"}
	vals := []string{`"bench"`, `1`, `true`, `null`, `"World"`, `"https://u:p@h/x?a=1"`, `"Bearer abcdef123456"`, `"Basic dXNlcjpwYXNz"`,
		`"a=1&b=2"`, `"s3cr3t-VALUE"`, `"{{API_TOKEN}}"`, `"\u0073ecret"`, `"[1,2]"`, `"{\"password\":\"x\"}"`, `"tok\"en"`, `"<start.name>"`,
		`"token: \"abc\""`, `"caf\u00e9"`, `"API_TOKEN"`, `"ok"`}
	rd := newRedactor([]string{"s3cr3t-VALUE"}, true)
	rng := rand.New(rand.NewPCG(3, 4))
	var gen func(depth int) string
	gen = func(depth int) string {
		switch r := rng.IntN(6); {
		case depth > 2 || r < 3:
			return vals[rng.IntN(len(vals))]
		case r == 3:
			var b strings.Builder
			b.WriteString("[")
			for i := range rng.IntN(3) {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(gen(depth + 1))
			}
			b.WriteString("]")
			return b.String()
		default:
			var b strings.Builder
			b.WriteString("{")
			for i := range 1 + rng.IntN(3) {
				if i > 0 {
					b.WriteString(", ")
				}
				kb, _ := json.Marshal(keys[rng.IntN(len(keys))])
				b.Write(kb)
				b.WriteString(": ")
				b.WriteString(gen(depth + 1))
			}
			b.WriteString("}")
			return b.String()
		}
	}
	quick := 0
	for range 20000 {
		s := gen(0)
		if s[0] != '{' && s[0] != '[' {
			continue
		}
		if nothingToMask(s) {
			quick++
		}
		if got, want := rd.textWith(s, true), rd.textWith(s, false); got != want {
			t.Fatalf("text(%s):\n quick %s\n full  %s", s, got, want)
		}
	}
	if quick == 0 {
		t.Fatal("no generated text took the quick path")
	}
}
