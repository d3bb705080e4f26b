package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// The rules issue 10 adds, each shown firing on one change to an image
// every rule accepts (the fixture passing all of them is the not-firing
// case, asserted first).
func TestNewRules(t *testing.T) {
	attIndex := &Index{Digest: digestOf('i'), MediaType: types.OCIImageIndex, Manifests: []IndexEntry{
		{Digest: digestOf('m'), MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
		{Digest: digestOf('n'), MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}, Attestation: true},
	}}
	for _, tc := range []struct {
		name     string
		mutate   func(img *Image, cfg *Config)
		rule     string
		severity Severity
		layer    int
		path     string
		message  string
	}{
		{"attestation index", func(img *Image, _ *Config) { img.Index = attIndex }, RuleIndex, Refuse, 0, "", "linux/amd64 and 1 attestation manifest(s)"},
		{"foreign docker layer", func(img *Image, _ *Config) {
			img.MediaType = types.DockerManifestSchema2
			img.Layers[0].MediaType, img.Layers[1].MediaType = types.DockerForeignLayer, types.DockerLayer
		}, RuleForeignLayer, Refuse, 1, "", "foreign"},
		{"non-distributable oci layer", func(img *Image, _ *Config) { img.Layers[1].MediaType = types.OCIRestrictedLayer }, RuleForeignLayer, Refuse, 2, "", "non-distributable"},
		{"python module at /opt", func(img *Image, _ *Config) {
			img.Layers[1].Listing.Entries = append(img.Layers[1].Listing.Entries, dir("opt"), file("opt/util.py"))
		}, RuleLayerLayout, Warn, 2, "/opt/util.py", "/opt/python"},
		{"python package at /opt", func(img *Image, _ *Config) {
			img.Layers[1].Listing.Entries = append(img.Layers[1].Listing.Entries, dir("opt"), dir("opt/requests"), file("opt/requests/__init__.py"))
		}, RuleLayerLayout, Warn, 2, "/opt/requests", "outside /opt/python"},
		{"node_modules outside /opt/nodejs", func(img *Image, _ *Config) {
			img.Layers[1].Listing.Entries = append(img.Layers[1].Listing.Entries, dir("opt"), dir("opt/node_modules"), dir("opt/node_modules/x"), file("opt/node_modules/x/index.js"))
		}, RuleLayerLayout, Warn, 2, "/opt/node_modules", "Node.js looks in"},
		{"entrypoint not executable by others", func(img *Image, _ *Config) { img.Layers[0].Listing.Entries[6].Mode = 0o744 }, RulePermissions, Refuse, 1, "/lambda-entrypoint.sh", "(0744)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, cfg := goodImage(), Config{}
			require.Empty(t, Run(img, cfg), "the unmutated image passes every rule")
			tc.mutate(img, &cfg)
			fs := Run(img, cfg)
			require.Len(t, fs, 1, "%v", fs)
			f := fs[0]
			assert.Equal(t, tc.rule, f.Rule)
			assert.Equal(t, tc.severity, f.Severity)
			assert.Equal(t, tc.layer, f.Layer)
			if tc.path != "" {
				assert.Equal(t, tc.path, f.Path)
			}
			assert.Contains(t, f.Message, tc.message)
		})
	}
}

// Layouts the runtimes do read raise nothing.
func TestLayerLayoutAcceptsConventionalPaths(t *testing.T) {
	img := goodImage()
	img.Layers[1].Listing.Entries = append(img.Layers[1].Listing.Entries,
		dir("opt"), dir("opt/python"), file("opt/python/util.py"),
		dir("opt/nodejs"), dir("opt/nodejs/node_modules"), dir("opt/nodejs/node_modules/x"), dir("opt/nodejs/node_modules/x/node_modules"), file("opt/nodejs/node_modules/x/node_modules/y.js"),
		dir("opt/nodejs/node22"), dir("opt/nodejs/node22/node_modules"), file("opt/nodejs/node22/node_modules/z.js"),
		dir("opt/bin"), file("opt/bin/tool"), dir("opt/lib"), file("opt/lib/libx.so"))
	assert.Empty(t, Run(img, Config{}))
}

// Code zipped with its folder: the handler is missing (a refusal) and the
// layout warning says where the module is.
func TestLayerLayoutWrappedCode(t *testing.T) {
	img := goodImage()
	code := img.Layers[1].Listing
	code.Entries = []Entry{dir("var"), dir("var/task"), dir("var/task/myproj"), file("var/task/myproj/app.py")}
	fs := Run(img, Config{})
	require.Len(t, fs, 2, "%v", fs)
	assert.Equal(t, RuleHandler, fs[0].Rule)
	assert.Equal(t, RuleLayerLayout, fs[1].Rule)
	assert.Equal(t, Warn, fs[1].Severity)
	assert.Contains(t, fs[1].Message, "found /var/task/myproj/app.py")
	assert.Contains(t, fs[1].Hint, `"myproj/app.handler"`)
	assert.Equal(t, 2, fs[1].Layer)
}

func TestIndexSelect(t *testing.T) {
	amd := IndexEntry{Digest: digestOf('1'), MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}
	arm := IndexEntry{Digest: digestOf('2'), MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}
	att := IndexEntry{Digest: digestOf('3'), MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}, Attestation: true}
	for _, tc := range []struct {
		name string
		ms   []IndexEntry
		arch lambda.Arch
		want v1.Hash
		ok   bool
	}{
		{"only platform, no arch", []IndexEntry{amd, att}, "", amd.Digest, true},
		{"only platform, its arch", []IndexEntry{att, amd}, lambda.X8664, amd.Digest, true},
		{"only platform, other arch", []IndexEntry{amd, att}, lambda.ARM64, v1.Hash{}, false},
		{"two platforms, no arch", []IndexEntry{amd, arm, att}, "", v1.Hash{}, false},
		{"two platforms, arm64", []IndexEntry{amd, arm, att}, lambda.ARM64, arm.Digest, true},
		{"attestations only", []IndexEntry{att}, "", v1.Hash{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := (&Index{Manifests: tc.ms}).Select(tc.arch)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, e.Digest)
		})
	}
}
