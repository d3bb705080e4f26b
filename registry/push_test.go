package registry

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startInProcess(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(gcrregistry.New(gcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func statuses(r *PushResult) map[string]int {
	m := map[string]int{}
	for _, l := range r.Layers {
		m[l.Status]++
	}
	return m
}

func TestPushInProcess(t *testing.T) {
	ctx := context.Background()
	host := startInProcess(t)
	base, err := random.Image(1000, 3)
	require.NoError(t, err)
	code, err := random.Layer(500, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	require.NoError(t, err)
	img, err := mutate.AppendLayers(base, code)
	require.NoError(t, err)

	var events []ProgressEvent
	res, err := Push(ctx, img, []string{host + "/fn:v1", host + "/fn:latest"}, Options{Progress: func(e ProgressEvent) { events = append(events, e) }})
	require.NoError(t, err)
	d, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, d, res.Digest)
	assert.Equal(t, []string{host + "/fn@" + d.String()}, res.References)
	require.Len(t, res.Layers, 5) // 4 layers + config
	assert.Equal(t, map[string]int{StatusPushed: 5}, statuses(res))
	assert.True(t, res.Layers[4].Config)
	pushed := 0
	for _, e := range events {
		if e.Status == ProgressPushed {
			pushed++
		}
	}
	assert.Equal(t, 5, pushed, "%+v", events)

	for _, tag := range []string{"v1", "latest"} {
		got, err := remote.Image(must(name.ParseReference(host + "/fn:" + tag)))
		require.NoError(t, err)
		gd, _ := got.Digest()
		assert.Equal(t, d, gd, tag)
		assert.NoError(t, validate.Image(got))
	}

	// Same image again: every blob found by the existence check.
	res, err = Push(ctx, img, []string{host + "/fn:v1"}, Options{})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{StatusExists: 5}, statuses(res))

	// Another repository in the same registry: base layers are not
	// uploaded again (pkg/registry shares blobs across repositories, so
	// its existence check already finds them; mounting is shown against
	// docker-registry).
	remoteBase, err := remote.Image(must(name.ParseReference(host + "/fn:v1")))
	require.NoError(t, err)
	code2, err := random.Layer(300, "application/vnd.docker.image.rootfs.diff.tar.gzip")
	require.NoError(t, err)
	img2, err := mutate.AppendLayers(remoteBase, code2)
	require.NoError(t, err)
	res, err = Push(ctx, img2, []string{host + "/other:v1"}, Options{})
	require.NoError(t, err)
	st := statuses(res)
	assert.Equal(t, 2, st[StatusPushed], st)
	assert.Equal(t, 4, st[StatusExists]+st[StatusMounted], st)
}

var _ = v1.Hash{}
