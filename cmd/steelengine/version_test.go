package main

import (
	"runtime/debug"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-11-29T10:00:00Z"}}
	dirty := append(vcs, debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	cases := []struct {
		name     string
		info     *debug.BuildInfo
		ld, want string
	}{
		{"tagged module", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs}, "", "v1.4.0"},
		{"checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "", "devel-0123456789ab"},
		{"dirty checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: dirty}, "", "devel-0123456789ab-dirty"},
		{"no vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "", "devel"},
		{"ldflags win", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs}, "v2.0.0", "v2.0.0"},
		{"no build info", nil, "", "unknown"},
	}
	for _, c := range cases {
		if got := describeBuild(c.info, c.ld); got.Version != c.want {
			t.Errorf("%s: version %q, want %q", c.name, got.Version, c.want)
		}
	}
	if b := describeBuild(&debug.BuildInfo{Settings: vcs}, ""); b.Revision != "0123456789abcdef0123" || b.Time != "2026-11-29T10:00:00Z" {
		t.Errorf("vcs settings not read: %+v", b)
	}
}
