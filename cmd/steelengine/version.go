package main

import (
	"io"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

func version() string {
	v, rev, _ := buildInfo()
	if rev != "" {
		return v + " (" + rev + ")"
	}
	return v
}

// buildInfo returns the version, VCS revision and Go version of this binary.
func buildInfo() (ver, rev, goVer string) {
	ver = Version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ver, "", ""
	}
	goVer = info.GoVersion
	if ver == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		ver = info.Main.Version
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			rev = s.Value
		}
	}
	return ver, rev, goVer
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version and VCS revision",
		Action: func(c *cli.Context) error {
			v, rev, goVer := buildInfo()
			out := map[string]string{"version": v, "revision": rev, "go": goVer}
			return printOut(c, out, func(w io.Writer) {
				if rev == "" {
					rev = "unknown"
				}
				row(w, "steelengine", v, "revision", rev, goVer)
			})
		},
	}
}
