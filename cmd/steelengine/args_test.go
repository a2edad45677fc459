package main

import (
	"slices"
	"testing"
)

func TestHoistFlags(t *testing.T) {
	app := newApp()
	cases := []struct{ in, want []string }{
		{[]string{"se", "workflows", "run", "ID", "--input", "{}"}, []string{"se", "workflows", "run", "--input", "{}", "ID"}},
		{[]string{"se", "--json", "workflows", "run", "--input={}", "ID"}, []string{"se", "--json", "workflows", "run", "--input={}", "ID"}},
		{[]string{"se", "--data-dir", "d", "keys", "revoke", "ID"}, []string{"se", "--data-dir", "d", "keys", "revoke", "ID"}},
		{[]string{"se", "workflows", "run", "ID", "--", "--input"}, []string{"se", "workflows", "run", "ID", "--", "--input"}},
		{[]string{"se", "version"}, []string{"se", "version"}},
		{[]string{"se", "serve", "--data-dir", "D", "--addr", "127.0.0.1:0"}, []string{"se", "--data-dir", "D", "serve", "--addr", "127.0.0.1:0"}},
		{[]string{"se", "keys", "list", "--json", "--workspace", "Ops"}, []string{"se", "--json", "keys", "list", "--workspace", "Ops"}},
		// A flag both global and the command's belongs to the command.
		{[]string{"se", "keys", "create", "--rate-limit", "5", "--url", "http://x"}, []string{"se", "--url", "http://x", "keys", "create", "--rate-limit", "5"}},
		{[]string{"se", "keys", "--json", "revoke", "ID", "--data-dir=d"}, []string{"se", "--json", "--data-dir=d", "keys", "revoke", "ID"}},
		{[]string{"se", "keys", "revoke", "ID", "--bogus"}, []string{"se", "keys", "revoke", "--bogus", "ID"}},
	}
	for _, c := range cases {
		if got := hoistFlags(app, c.in); !slices.Equal(got, c.want) {
			t.Errorf("hoistFlags(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
