package registry

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testBase = "../testdata/base"

func TestFetchBaseLayout(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		ref       string
		wantIndex bool
		wantErr   string
	}{
		{ref: "oci:" + testBase + ":latest", wantIndex: true},
		{ref: "oci:" + testBase + ":latest-arm64"},
		{ref: "oci:" + testBase + ":latest-x86_64"},
		{ref: "oci:" + testBase, wantErr: "layout holds 3 entries"},
		{ref: "oci:" + testBase + ":nope", wantErr: `no entry named "nope"`},
		{ref: "oci:/does/not/exist", wantErr: "not an OCI image layout"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			b, err := FetchBase(ctx, tt.ref, Options{})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrBaseNotFound)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), tt.ref, "error names the ref")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.ref, b.Ref)
			if tt.wantIndex {
				require.NotNil(t, b.Index)
				assert.Nil(t, b.Image)
				assert.NoError(t, validate.Index(b.Index))
			} else {
				require.NotNil(t, b.Image)
				assert.Nil(t, b.Index)
				assert.NoError(t, validate.Image(b.Image))
			}
		})
	}
}

func TestFetchBaseLayoutFullNameAndSingleEntry(t *testing.T) {
	ctx := context.Background()
	img, err := random.Image(100, 1)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "layout")
	// Written with go-containerregistry's own layout writer: the writer of
	// this project lives in package publish, which imports this one.
	lp, err := layout.Write(dir, empty.Index)
	require.NoError(t, err)
	require.NoError(t, lp.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: "example.com:5000/fn:v1"})))
	want, err := img.Digest()
	require.NoError(t, err)
	for _, ref := range []string{"oci:" + dir, "oci:" + dir + ":v1", "oci:" + dir + ":example.com:5000/fn:v1"} {
		b, err := FetchBase(ctx, ref, Options{})
		require.NoError(t, err, ref)
		require.NotNil(t, b.Image, ref)
		got, err := b.Image.Digest()
		require.NoError(t, err)
		assert.Equal(t, want, got, ref)
	}
}

func TestFetchBaseRemote(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(gcrregistry.New(gcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(200, 2)
	require.NoError(t, err)
	ref := host + "/base/img:1"
	require.NoError(t, remote.Write(must(name.ParseReference(ref)), img))

	b, err := FetchBase(ctx, ref, Options{})
	require.NoError(t, err)
	require.NotNil(t, b.Image)
	assert.NoError(t, validate.Image(b.Image))

	_, err = FetchBase(ctx, host+"/base/img:missing", Options{})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrBaseNotFound)
	assert.Contains(t, err.Error(), host+"/base/img:missing")
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		assert.NotContains(t, e.Name(), ".tmp-", "temp file left behind")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

var _ v1.Image = (v1.Image)(nil)

func TestPickLayoutEntry(t *testing.T) {
	named := func(ns ...string) []v1.Descriptor {
		var ds []v1.Descriptor
		for i, n := range ns {
			ds = append(ds, v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: sprintf("%064d", i)},
				Annotations: map[string]string{refNameAnnotation: n}})
		}
		return ds
	}
	for _, tc := range []struct {
		name    string
		entries []v1.Descriptor
		tag     string
		want    string // ref name picked
		wantErr string
	}{
		{name: "exact beats tag part", entries: named("example.com/fn:latest", "latest"), tag: "latest", want: "latest"},
		{name: "full name", entries: named("example.com/fn:latest", "latest"), tag: "example.com/fn:latest", want: "example.com/fn:latest"},
		{name: "tag part", entries: named("example.com/fn:v1", "latest"), tag: "v1", want: "example.com/fn:v1"},
		{name: "ambiguous tag part", entries: named("a.com/fn:latest", "b.com/fn:latest"), tag: "latest", wantErr: "2 entries match"},
		{name: "missing", entries: named("latest"), tag: "v2", wantErr: `no entry named "v2"`},
		{name: "no tag, one entry", entries: named("x"), want: "x"},
		{name: "no tag, two entries", entries: named("x", "y"), wantErr: "holds 2 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := pickLayoutEntry(tc.entries, tc.tag)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, d.Annotations[refNameAnnotation])
		})
	}
}
