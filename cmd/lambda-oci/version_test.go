package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadVersion(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-11-02T10:00:00Z"},
		{Key: "vcs.modified", Value: "false"},
	}
	dirty := append(append([]debug.BuildSetting{}, vcs[:3]...), debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	tests := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    string
	}{
		{"release build: the stamp wins over the module version", "v1.4.0",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			"v1.4.0 (commit 0123456789abcdef0123456789abcdef01234567, 2026-11-02T10:00:00Z, go1.26.8)"},
		{"go install ...@v1.4.0: the module version, no VCS data", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			"v1.4.0 (go1.26.8)"},
		{"a build from a checkout with local changes", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: dirty},
			"(devel) (commit 0123456789abcdef0123456789abcdef01234567-dirty, 2026-11-02T10:00:00Z, go1.26.8)"},
		{"a test binary records no main version", "", &debug.BuildInfo{GoVersion: "go1.26.8"}, "(devel) (go1.26.8)"},
		{"no build info at all", "", nil, "unknown"},
		{"no build info, stamped", "v2.0.0", nil, "v2.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, readVersion(tt.stamped, tt.bi).String())
		})
	}
}

// `version` and `--version` print the same line, on stdout, exit 0; the
// stamp a release build sets through -ldflags -X main.version is used.
func TestVersionCommandAndFlag(t *testing.T) {
	old := version
	t.Cleanup(func() { version = old })
	version = "v9.8.7"
	code, out, errOut := runCmd(t, nil, "version")
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, errOut)
	assert.True(t, strings.HasPrefix(out, "lambda-oci v9.8.7"), out)
	assert.Equal(t, 1, strings.Count(out, "\n"))

	code, flagOut, errOut := runCmd(t, nil, "--version")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, out, flagOut)

	code, _, errOut = runCmd(t, nil, "version", "extra")
	assert.Equal(t, exitUsage, code, errOut)
}

// Only a release's version reaches an image's provenance: anything else
// records "(devel)" (""), so a build from a checkout gives the digests the
// tests pin.
func TestReleaseVersion(t *testing.T) {
	tests := []struct {
		name    string
		stamped string
		main    string
		want    string
	}{
		{"stamped release", "v1.4.0", "(devel)", "v1.4.0"},
		{"go install @v1.4.0", "", "v1.4.0", "v1.4.0"},
		{"release candidate", "", "v1.5.0-rc.1", "v1.5.0-rc.1"},
		{"checkout, Go's VCS pseudo-version", "", "v0.0.0-20261102100000-0123456789ab", ""},
		{"checkout after a tag, pseudo-version", "", "v1.4.1-0.20261102100000-0123456789ab", ""},
		{"checkout with local changes", "", "v1.4.1-0.20261102100000-0123456789ab+dirty", ""},
		{"(devel)", "", "(devel)", ""},
		{"test binary", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, releaseVersion(tt.stamped, &debug.BuildInfo{Main: debug.Module{Version: tt.main}}))
		})
	}
}
