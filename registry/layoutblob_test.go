package registry

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeTestLayout writes img into a new layout under the name "base" with
// go-containerregistry's writer (independent of our own).
func writeTestLayout(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	require.NoError(t, err)
	require.NoError(t, lp.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: "base"})))
	return dir
}

func blobPath(dir string, h v1.Hash) string {
	return filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
}

func readAllCompressed(l v1.Layer) error {
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// A base layer whose bytes on disk are not the ones its digest names is
// refused when read, whatever the change: same size, longer or shorter.
func TestFetchBaseLayoutVerifiesBlobs(t *testing.T) {
	img, err := random.Image(4096, 2)
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	victim, err := layers[1].Digest()
	require.NoError(t, err)

	tests := []struct {
		name    string
		corrupt func(b []byte) []byte
		detail  string
	}{
		{"unchanged", nil, ""},
		{"same size, other bytes", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }, "got sha256:"},
		{"longer", func(b []byte) []byte { return append(b, make([]byte, 100)...) }, "more than the"},
		{"shorter", func(b []byte) []byte { return b[:len(b)-1] }, "its descriptor says"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTestLayout(t, img)
			if tt.corrupt != nil {
				p := blobPath(dir, victim)
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(p, tt.corrupt(b), 0o644))
			}
			base, err := FetchBase(context.Background(), "oci:"+dir+":base", Options{})
			require.NoError(t, err)
			require.NotNil(t, base.Image)
			ls, err := base.Image.Layers()
			require.NoError(t, err)
			require.Len(t, ls, 2)
			require.NoError(t, readAllCompressed(ls[0]), "an intact layer reads")
			err = readAllCompressed(ls[1])
			if tt.corrupt == nil {
				require.NoError(t, err)
				assert.NoError(t, validate.Image(base.Image))
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrDigestMismatch)
			assert.Contains(t, err.Error(), "content does not match its digest")
			assert.Contains(t, err.Error(), dir, "names the layout")
			assert.Contains(t, err.Error(), victim.String(), "names the blob")
			assert.Contains(t, err.Error(), tt.detail)
			// The uncompressed stream reads the same bytes: it fails too
			// (on the mismatch, or earlier where gzip notices).
			rc, err := ls[1].Uncompressed()
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			assert.Error(t, err)
		})
	}
}

// A corrupt manifest or config is refused as well: go-containerregistry's
// layout reader would return the bytes as they are.
func TestFetchBaseLayoutVerifiesManifestAndConfig(t *testing.T) {
	img, err := random.Image(512, 1)
	require.NoError(t, err)
	mdig, err := img.Digest()
	require.NoError(t, err)
	cdig, err := img.ConfigName()
	require.NoError(t, err)

	flip := func(t *testing.T, p string) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		// Another hex digit in the last digest it names: still valid
		// JSON, same size, other bytes.
		i := bytes.LastIndex(b, []byte("sha256:")) + len("sha256:")
		require.Greater(t, i, len("sha256:"))
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}

	t.Run("manifest", func(t *testing.T) {
		dir := writeTestLayout(t, img)
		flip(t, blobPath(dir, mdig))
		_, err := FetchBase(context.Background(), "oci:"+dir+":base", Options{})
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrDigestMismatch)
		assert.Contains(t, err.Error(), mdig.String())
	})
	t.Run("config", func(t *testing.T) {
		dir := writeTestLayout(t, img)
		flip(t, blobPath(dir, cdig))
		base, err := FetchBase(context.Background(), "oci:"+dir+":base", Options{})
		require.NoError(t, err)
		_, err = base.Image.ConfigFile()
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrDigestMismatch)
		assert.Contains(t, err.Error(), cdig.String())
	})
}

// A foreign (non-distributable) layer is often left out of a layout; reading
// it says so instead of failing on a missing file, and describing the image
// (digests, diffIDs, sizes) does not need its bytes.
func TestFetchBaseLayoutForeignLayerWithoutBlob(t *testing.T) {
	fl, err := random.Layer(1024, types.DockerForeignLayer)
	require.NoError(t, err)
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer: fl, MediaType: types.DockerForeignLayer, URLs: []string{"https://example.com/foreign.tar.gz"},
	})
	require.NoError(t, err)
	dir := writeTestLayout(t, img)
	fd, err := fl.Digest()
	require.NoError(t, err)
	require.NoError(t, os.Remove(blobPath(dir, fd)))

	base, err := FetchBase(context.Background(), "oci:"+dir+":base", Options{})
	require.NoError(t, err)
	ls, err := base.Image.Layers()
	require.NoError(t, err)
	require.Len(t, ls, 1)
	want, err := fl.DiffID()
	require.NoError(t, err)
	got, err := ls[0].DiffID()
	require.NoError(t, err, "the diffID comes from the config")
	assert.Equal(t, want, got)

	err = readAllCompressed(ls[0])
	require.Error(t, err)
	assert.Contains(t, err.Error(), "foreign (non-distributable) layer whose blob is not in the layout")
	assert.Contains(t, err.Error(), fd.String())
	assert.Contains(t, err.Error(), dir)
	assert.Contains(t, err.Error(), "https://example.com/foreign.tar.gz")
	assert.NotContains(t, err.Error(), "lstat")
}
