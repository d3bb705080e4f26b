package main

import (
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is stamped by release builds:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/lambda-oci
//
// (.goreleaser.yaml does this from the git tag). Unstamped, the module
// version from the build info is used: `go install ...@v1.2.3` records it,
// a build from a checkout records "(devel)".
var version string

// versionInfo is what `lambda-oci version` and `--version` print.
type versionInfo struct {
	Version  string
	Revision string // VCS commit, when the build recorded it
	Time     string // commit time
	Modified bool   // the work tree had local changes
	Go       string
}

// readVersion combines the stamped version with the build info; bi may be
// nil (a binary built without module support).
func readVersion(stamped string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: stamped}
	if bi == nil {
		if v.Version == "" {
			v.Version = "unknown"
		}
		return v
	}
	v.Go = bi.GoVersion
	if v.Version == "" {
		v.Version = bi.Main.Version
	}
	if v.Version == "" {
		// Test binaries and `go run` record no main module version.
		v.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (v versionInfo) String() string {
	var extra []string
	if v.Revision != "" {
		rev := v.Revision
		if v.Modified {
			rev += "-dirty"
		}
		extra = append(extra, "commit "+rev)
	}
	if v.Time != "" {
		extra = append(extra, v.Time)
	}
	if v.Go != "" {
		extra = append(extra, v.Go)
	}
	if len(extra) == 0 {
		return v.Version
	}
	return v.Version + " (" + strings.Join(extra, ", ") + ")"
}

// pseudoVersion matches the commit part of a Go pseudo-version
// (v0.0.0-20260101120000-abcdef123456): what Go 1.24+ stamps on a build
// from a checkout, and `go install ...@main` records.
var pseudoVersion = regexp.MustCompile(`(^|[-.])\d{14}-[0-9a-f]{12}($|\+)`)

// releaseVersion is the version images record in their provenance: a
// release's (stamped, or a module version from go install @vX.Y.Z), and
// "" (build.DevelVersion) for everything else — a checkout, with or
// without local changes, a pseudo-version, a test binary. The version is
// in the image config, so only a release may change digests: a dev build
// and the tests' pinned digests agree.
func releaseVersion(stamped string, bi *debug.BuildInfo) string {
	v := readVersion(stamped, bi).Version
	if !strings.HasPrefix(v, "v") || strings.Contains(v, "+") || pseudoVersion.MatchString(v) {
		return ""
	}
	return v
}

// imageVersion is this binary's releaseVersion.
func imageVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return releaseVersion(version, bi)
}

// currentVersion is this binary's version line.
func currentVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return readVersion(version, bi).String()
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the lambda-oci version and the commit it was built from",
		Long: `Print the version (a release's tag, the module version recorded by
"go install ...@VERSION", or "(devel)" for a build from a checkout), then the
VCS commit and its time when the build recorded them, and the Go version.
"lambda-oci --version" prints the same line.`,
		Example: `  lambda-oci version
  lambda-oci --version`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(a.stdout, "lambda-oci "+currentVersion())
			return err
		},
	}
}
