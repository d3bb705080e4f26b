package registry

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/require"
)

// A previous image is read by its manifest and config; its layers, taken
// by descriptor and diffID, read back as the blobs they name (validate
// reads each and checks digest, diffID and size); a tag not pushed yet is
// ErrNoImage; a blob query answers for the repository.
func TestFetchPrevious(t *testing.T) {
	srv := httptest.NewServer(gcrregistry.New(gcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(1024, 2)
	require.NoError(t, err)
	ref, err := name.ParseReference(host + "/fn:v1")
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))

	ctx := context.Background()
	prev, err := FetchPrevious(ctx, host+"/fn:v1", Options{})
	require.NoError(t, err)
	want, err := img.Digest()
	require.NoError(t, err)
	require.Equal(t, want, prev.Digest)
	for i, desc := range prev.Manifest.Layers {
		ok, err := prev.HasBlob(desc.Digest)
		require.NoError(t, err)
		require.True(t, ok)
		l, err := prev.Layer(desc, prev.Config.RootFS.DiffIDs[i])
		require.NoError(t, err)
		require.NoError(t, validate.Layer(l))
	}
	ok, err := prev.HasBlob(prev.Config.RootFS.DiffIDs[0]) // a digest nobody stored
	require.NoError(t, err)
	require.False(t, ok)

	_, err = FetchPrevious(ctx, host+"/fn:v2", Options{})
	require.True(t, errors.Is(err, ErrNoImage), "%v", err)
}
