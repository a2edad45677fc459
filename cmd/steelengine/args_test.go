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
	}
	for _, c := range cases {
		if got := hoistFlags(app, c.in); !slices.Equal(got, c.want) {
			t.Errorf("hoistFlags(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
