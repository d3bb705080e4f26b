package image

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
)

func TestPlatformFor(t *testing.T) {
	p, err := PlatformFor("x86_64")
	require.NoError(t, err)
	assert.Equal(t, v1.Platform{OS: "linux", Architecture: "amd64"}, p)
	p, err = PlatformFor("arm64")
	require.NoError(t, err)
	assert.Equal(t, v1.Platform{OS: "linux", Architecture: "arm64"}, p)
	for _, bad := range []string{"amd64", "aarch64", "", "X86_64"} {
		_, err := PlatformFor(bad)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "x86_64, arm64")
	}
}

func TestSelectPlatform(t *testing.T) {
	idx, err := basegen.Index()
	require.NoError(t, err)
	for _, arch := range []string{"x86_64", "arm64"} {
		img, err := SelectPlatform(idx, nil, arch)
		require.NoError(t, err, arch)
		want := baseImage(t, arch)
		wd, err := want.Digest()
		require.NoError(t, err)
		gd, err := img.Digest()
		require.NoError(t, err)
		assert.Equal(t, wd, gd, arch)

		// A single image of the right platform is returned as is.
		same, err := SelectPlatform(nil, want, arch)
		require.NoError(t, err)
		assert.Equal(t, want, same)
	}

	// A single image of another platform.
	_, err = SelectPlatform(nil, baseImage(t, "arm64"), "x86_64")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "base image is linux/arm64/v8, but --arch x86_64 needs linux/amd64")

	// An index without the platform lists what it has, ignoring attestations.
	only := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: baseImage(t, "arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: baseImage(t, "x86_64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
	)
	_, err = SelectPlatform(only, nil, "x86_64")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no linux/amd64 image for --arch x86_64 (available: linux/arm64/v8)")

	// An index inside the index (issue 16 defect 10a): say what is there,
	// not "available: none".
	inner := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: baseImage(t, "x86_64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: baseImage(t, "arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	innerDigest, err := inner.Digest()
	require.NoError(t, err)
	outer := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: inner})
	_, err = SelectPlatform(outer, nil, "x86_64")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "available: none")
	assert.Contains(t, err.Error(), "a nested index "+innerDigest.String()+" with linux/amd64, linux/arm64/v8")
	assert.Contains(t, err.Error(), "use the nested index, by digest, as the base")

	// Descriptors without a platform: the config decides.
	bare := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: baseImage(t, "x86_64")})
	img, err := SelectPlatform(bare, nil, "x86_64")
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "amd64", cf.Architecture)

	_, err = SelectPlatform(nil, nil, "x86_64")
	require.Error(t, err)
	_, err = SelectPlatform(idx, nil, "riscv64")
	require.Error(t, err)
}

func TestTaskRoot(t *testing.T) {
	root, err := TaskRoot(baseImage(t, "x86_64"))
	require.NoError(t, err)
	assert.Equal(t, "/var/task", root)

	for _, tc := range []struct{ env, want, err string }{
		{env: "", want: "/var/task"},
		{env: "LAMBDA_TASK_ROOT=/srv/fn/", want: "/srv/fn"},
		{env: "LAMBDA_TASK_ROOT=relative", err: "not an absolute path"},
	} {
		cfg := v1.Config{}
		if tc.env != "" {
			cfg.Env = []string{"PATH=/bin", tc.env}
		}
		img, err := mutate.Config(empty.Image, cfg)
		require.NoError(t, err)
		got, err := TaskRoot(img)
		if tc.err != "" {
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

// The code lands under a custom LAMBDA_TASK_ROOT.
func TestBuildCustomTaskRoot(t *testing.T) {
	base := baseImage(t, "x86_64")
	cf, err := base.ConfigFile()
	require.NoError(t, err)
	cfg := cf.Config.DeepCopy()
	for i, kv := range cfg.Env {
		if strings.HasPrefix(kv, "LAMBDA_TASK_ROOT=") {
			cfg.Env[i] = "LAMBDA_TASK_ROOT=/srv/fn"
		}
	}
	custom, err := mutate.Config(base, *cfg)
	require.NoError(t, err)
	res := mustBuild(t, demoOpts(t, custom))
	layers, err := res.Image.Layers()
	require.NoError(t, err)
	ents := tarEntries(t, layers[len(layers)-1])
	assert.Contains(t, ents, "srv/fn/app.py")
	assert.Contains(t, ents, "srv/fn")
	assert.Contains(t, ents, "srv")
}
