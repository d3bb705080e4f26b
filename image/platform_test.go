package image

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/lambda"
)

func TestSelectPlatform(t *testing.T) {
	idx, err := basegen.Index()
	require.NoError(t, err)
	for _, arch := range lambda.Archs() {
		img, err := SelectPlatform(idx, nil, arch)
		require.NoError(t, err, arch)
		want := baseImage(t, string(arch))
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
	_, err = SelectPlatform(nil, baseImage(t, "arm64"), lambda.X8664)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "base image is linux/arm64/v8, but architecture x86_64 needs linux/amd64")

	// An index without the platform lists what it has, ignoring attestations.
	only := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: baseImage(t, "arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: baseImage(t, "x86_64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
	)
	_, err = SelectPlatform(only, nil, lambda.X8664)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no linux/amd64 image for architecture x86_64 (it has platforms linux/arm64/v8)")

	// Descriptors without a platform: the config decides.
	bare := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: baseImage(t, "x86_64")})
	img, err := SelectPlatform(bare, nil, lambda.X8664)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "amd64", cf.Architecture)

	_, err = SelectPlatform(nil, nil, lambda.X8664)
	require.Error(t, err)
	_, err = SelectPlatform(idx, nil, lambda.Arch("riscv64"))
	require.Error(t, err)
}

// A nested index is named as such, with what it holds, not reported as
// "available: none" (issue 16 defect 10a).
func TestSelectPlatformNestedIndex(t *testing.T) {
	inner := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: baseImage(t, "x86_64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: baseImage(t, "arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	innerDigest, err := inner.Digest()
	require.NoError(t, err)
	outer := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{Add: inner})
	_, err = SelectPlatform(outer, nil, lambda.X8664)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a nested index "+innerDigest.String()+" with linux/amd64, linux/arm64/v8")
	assert.Contains(t, err.Error(), "use the nested index, by digest, as the base")
	assert.NotContains(t, err.Error(), "none")
}

func baseImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := basegen.Image(arch)
	require.NoError(t, err)
	return img
}
