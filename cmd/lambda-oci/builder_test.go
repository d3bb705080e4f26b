package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/testbuildkit"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

func TestBuildOnBuildKit(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	daemon := testbuildkit.Start(t)
	idx, err := basegen.Index()
	require.NoError(t, err)
	base, err := name.NewTag(reg.Host + "/cli/base:latest")
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(base, idx))
	code := testutil.WriteDir(t, testutil.F("app.py", 0o644, "def handler(e, c):\n    return 1\n"))
	layer := testutil.WriteZip(t, "layer.zip", basegen.DemoLayerFiles()...)
	refs := filepath.Join(t.TempDir(), "refs.txt")
	args := []string{"build", "--base", base.String(), "--layer", layer, "--code", code, "--handler", "app.handler",
		"--cache-dir", t.TempDir(), "--tag", reg.Host + "/cli/fn:v1", "--image-refs", refs}

	// The address from BUILDKIT_HOST; the JSON result is the pushed image.
	res := runCLI(t, map[string]string{"BUILDKIT_HOST": daemon.Address}, append(args, "--builder", "buildkit://", "--json")...)
	require.Equal(t, 0, res.code, res.stderr)
	var out buildOutput
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out))
	require.Len(t, out.Pushed, 1)
	assert.Equal(t, out.Pushed[0], out.Reference)
	assert.True(t, strings.HasSuffix(out.Reference, "@"+out.Digest))
	assert.Len(t, out.Layers, 4, "2 base layers, the layer, the code")
	assert.Contains(t, res.stderr, "buildkit: exporting to image", "the daemon's progress on stderr")
	written, err := os.ReadFile(refs)
	require.NoError(t, err)
	assert.Equal(t, out.Reference+"\n", string(written))
	r, err := name.ParseReference(out.Reference)
	require.NoError(t, err)
	img, err := remote.Image(r)
	require.NoError(t, err)
	ls, err := img.Layers()
	require.NoError(t, err)
	for i, l := range ls {
		d, err := l.Digest()
		require.NoError(t, err)
		assert.Equal(t, out.Layers[i].Digest, d.String(), "layer %d", i+1)
	}

	// The flag's own address; plain output is the reference.
	res = runCLI(t, nil, append(args, "--builder", "buildkit://"+daemon.Address)...)
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, out.Reference+"\n", res.stdout)
}

func TestBuildKitBuilderUsage(t *testing.T) {
	code := testutil.WriteDir(t, testutil.F("app.py", 0o644, "x = 1\n"))
	base := []string{"build", "--base", "example.com/base:latest", "--code", code, "--handler", "app.handler", "--no-cache"}
	missing := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"not buildkit", nil, []string{"--builder", "docker://x", "--tag", "example.com/fn:v1"}, `--builder "docker://x": want buildkit://ADDR`},
		{"no address", nil, []string{"--builder", "buildkit://", "--tag", "example.com/fn:v1"}, "BUILDKIT_HOST is not set"},
		{"local output", nil, []string{"--builder", "buildkit://" + missing, "--tarball", filepath.Join(t.TempDir(), "x.tar")}, "use --tag, not --oci-layout or --tarball"},
		{"unreachable", nil, []string{"--builder", "buildkit://" + missing, "--tag", "example.com/fn:v1"}, "daemon " + missing + " is not reachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, tc.env, append(base, tc.args...)...)
			assert.NotEqual(t, 0, res.code)
			assert.Contains(t, res.stderr, tc.want)
			assert.Empty(t, res.stdout)
		})
	}
}
