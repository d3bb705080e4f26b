package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/registry"
)

func TestOpen(t *testing.T) {
	img, err := basegen.Image("x86_64")
	require.NoError(t, err)
	want, err := img.ConfigName()
	require.NoError(t, err)
	dir := t.TempDir()
	// A colon in the file name: the whole is a file, so nothing is split.
	file := filepath.Join(dir, "img:v1.tar")
	tag, err := name.NewTag("example.com/fn:v1")
	require.NoError(t, err)
	require.NoError(t, tarball.WriteToFile(file, tag, img))

	ctx := context.Background()
	for _, ref := range []string{ArchivePrefix + file, ArchivePrefix + file + ":example.com/fn:v1"} {
		b, err := Open(ctx, ref, registry.Options{})
		require.NoError(t, err, ref)
		require.NotNil(t, b.Image)
		// docker save keeps the config and layers; the manifest is made
		// anew on reading (Docker media types), so compare configs.
		got, err := b.Image.ConfigName()
		require.NoError(t, err)
		assert.Equal(t, want, got, ref)
	}

	_, err = Open(ctx, ArchivePrefix+filepath.Join(dir, "missing.tar"), registry.Options{})
	assert.True(t, errors.Is(err, registry.ErrBaseNotFound), "%v", err)
	_, err = Open(ctx, ArchivePrefix+file+":example.com/fn:nope", registry.Options{})
	assert.Error(t, err, "a tag the archive does not hold")

	// Everything else is registry.FetchBase's: an OCI layout here.
	lay, err := Open(ctx, "oci:../testdata/base:latest", registry.Options{})
	require.NoError(t, err)
	assert.True(t, lay.Index != nil || lay.Image != nil)
	_ = os.Remove(file)
}
