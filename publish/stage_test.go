package publish

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/registry"
)

// stagingPub is a destination that takes blobs early and records them.
type stagingPub struct {
	Publisher
	staged []v1.Hash
	err    error
}

func (s *stagingPub) Stage(_ context.Context, l v1.Layer) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	s.staged = append(s.staged, d)
	return s.err
}

// StagerOf finds what takes blobs early through Multi and decorators,
// and nothing where no destination does.
func TestStagerOf(t *testing.T) {
	dir := t.TempDir()
	lay, tar := Layout(filepath.Join(dir, "l"), "x"), Tarball(filepath.Join(dir, "t.tar"), "example.com/fn:1")
	reg := Registry([]string{"example.com/fn:1"}, registry.Options{})
	for _, tc := range []struct {
		name string
		p    Publisher
		want bool
	}{
		{"layout", lay, false},
		{"tarball", tar, false},
		{"layout and tarball", Multi(lay, tar), false},
		{"registry", reg, true},
		{"registry after a layout", Multi(lay, reg), true},
		{"recorded registry", RecordRefs(reg, filepath.Join(dir, "refs")), true},
		{"recorded layout", RecordRefs(lay, filepath.Join(dir, "refs")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, StagerOf(tc.p) != nil)
		})
	}

	// Two stagers in a Multi both get every blob; their failures add up.
	a, b := &stagingPub{Publisher: lay}, &stagingPub{Publisher: tar, err: errors.New("b failed")}
	s := StagerOf(Multi(a, b))
	require.NotNil(t, s)
	l, err := random.Layer(100, "application/vnd.oci.image.layer.v1.tar+gzip")
	require.NoError(t, err)
	d, err := l.Digest()
	require.NoError(t, err)
	assert.ErrorContains(t, s.Stage(context.Background(), l), "b failed")
	assert.Equal(t, []v1.Hash{d}, a.staged)
	assert.Equal(t, []v1.Hash{d}, b.staged)
}

// The registry publisher's staged blobs are in the repository before
// Publish, which then pushes the image through the same uploader: the
// staged blob shows as pushed, the rest as Publish found them.
func TestRegistryStageThenPublish(t *testing.T) {
	srv := httptest.NewServer(gcrregistry.New(gcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(1000, 2)
	require.NoError(t, err)
	ls, err := img.Layers()
	require.NoError(t, err)
	p := Registry([]string{host + "/fn:1"}, registry.Options{})
	require.NoError(t, StagerOf(p).Stage(context.Background(), ls[0]))
	d0, err := ls[0].Digest()
	require.NoError(t, err)
	resp, err := http.Head(srv.URL + "/v2/fn/blobs/" + d0.String())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the staged blob is there")
	_, err = remote.Head(must(name.ParseReference(host + "/fn:1")))
	require.Error(t, err, "no tag before Publish")

	pub, err := p.Publish(context.Background(), img)
	require.NoError(t, err)
	require.Len(t, pub.Push.Layers, 3)
	for _, l := range pub.Push.Layers {
		assert.Equal(t, registry.StatusPushed, l.Status, l.Digest)
	}
	got, err := remote.Image(must(name.ParseReference(host + "/fn:1")))
	require.NoError(t, err)
	gd, err := got.Digest()
	require.NoError(t, err)
	wd, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, wd, gd)
}
