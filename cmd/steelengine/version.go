package main

import (
	"io"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// Version may be set at build time with -ldflags "-X main.Version=v1.2.3"; otherwise
// it comes from the build information Go stamps into every binary.
var Version = ""

// build describes this binary: its module version (a tag when installed with go
// install …@v1.2.3), the VCS revision and commit time go build stamps from a checkout,
// whether the tree had uncommitted changes, and the Go version.
type build struct {
	Version  string `json:"version"`
	Revision string `json:"revision"`
	Time     string `json:"time"`
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
}

func buildInfo() build {
	info, _ := debug.ReadBuildInfo()
	return describeBuild(info, Version)
}

// describeBuild reads info (nil when the binary carries none); ldVersion wins when set.
func describeBuild(info *debug.BuildInfo, ldVersion string) build {
	b := build{Version: ldVersion}
	if info == nil {
		if b.Version == "" {
			b.Version = "unknown"
		}
		return b
	}
	b.Go = info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	if b.Version == "" {
		b.Version = info.Main.Version
	}
	if b.Version == "" || b.Version == "(devel)" {
		// A build from a checkout: name it by its commit, as Go's pseudo-versions do.
		b.Version = "devel"
		if b.Revision != "" {
			b.Version += "-" + short(b.Revision)
			if b.Modified {
				b.Version += "-dirty"
			}
		}
	}
	return b
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// version is the one-line version shown by --version and recorded in backups.
func version() string {
	b := buildInfo()
	if b.Time != "" {
		return b.Version + " (" + b.Time + ")"
	}
	return b.Version
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, VCS revision and commit time",
		Action: func(c *cli.Context) error {
			b := buildInfo()
			return printOut(c, b, func(w io.Writer) {
				rev := b.Revision
				if rev == "" {
					rev = "unknown"
				} else if b.Modified {
					rev += " (modified)"
				}
				row(w, "steelengine", b.Version)
				row(w, "revision", rev)
				if b.Time != "" {
					row(w, "committed", b.Time)
				}
				row(w, "go", b.Go)
			})
		},
	}
}
