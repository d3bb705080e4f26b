package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// `lambda-oci rebase` against the real registry: an image built on the
// bundled base, moved onto its next release (already in the repository),
// is the image a fresh build on that base gives, digest for digest, and
// the push uploads the config and the manifest only (access log). check
// prints the provenance naming the new base. An image lambda-oci did not
// build is refused.
func TestRebaseCommand(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	env := cacheEnv(t)
	repo := reg.Host + "/fn"

	code, _, stderr := runCmd(t, env, demoArgs("--tag", repo+":v1")...)
	require.Equal(t, 0, code, stderr)

	patched, err := basegen.PatchedImage("x86_64")
	require.NoError(t, err)
	newBase := repo + ":base-next"
	ref, err := name.ParseReference(newBase)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, patched))

	fresh := filepath.Join(t.TempDir(), "fresh")
	code, stdout, stderr := runCmd(t, env, "build", "--base", newBase, "--arch", "x86_64",
		"--layer", demoLayer, "--code", demoCode, "--handler", "app.handler", "--oci-layout", fresh, "--json")
	require.Equal(t, 0, code, stderr)
	var want buildOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &want))

	before := len(reg.Requests(t))
	code, stdout, stderr = runCmd(t, env, "rebase", repo+":v1", "--base", newBase, "--tag", repo+":v2", "--json")
	require.Equal(t, 0, code, stderr)
	var got buildOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &got), stdout)
	assert.Equal(t, want.Digest, got.Digest, "rebase = a fresh build on the new base")
	assert.Equal(t, repo+"@"+want.Digest, got.Reference)
	assert.Equal(t, "exists", got.Layers[len(got.Layers)-1].Push)

	// Every layer is already in the repository (HEAD 200); one blob is
	// uploaded, the config; then the manifest (by digest, then the tag).
	var commits, manifests int
	var missing []string
	for _, r := range reg.Requests(t)[before:] {
		switch {
		case r.Method == "HEAD" && strings.Contains(r.Path, "/blobs/") && r.Status == 404:
			missing = append(missing, r.Path[strings.LastIndex(r.Path, "/")+1:])
		case r.Method == "PUT" && strings.Contains(r.Path, "/blobs/uploads/"):
			commits++
		case r.Method == "POST" && strings.Contains(r.Path, "mount="):
			t.Errorf("unexpected mount %s", r.Path)
		case r.Method == "PUT" && strings.Contains(r.Path, "/manifests/"):
			manifests++
		}
	}
	cfgDigest := configDigest(t, repo+":v2")
	assert.Equal(t, []string{cfgDigest}, missing, "only the config was missing")
	assert.Equal(t, 1, commits, "the config only")
	assert.Equal(t, 2, manifests, "the manifest, by digest and by tag")
	assert.Equal(t, "pushed", got.ConfigPush)
	for _, l := range got.Layers {
		assert.Equal(t, "exists", l.Push, l.Digest)
	}

	code, stdout, stderr = runCmd(t, env, "check", repo+":v2")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "built by lambda-oci (devel), handler app.handler, runtime python 3.12")
	pd, err := patched.Digest()
	require.NoError(t, err)
	assert.Contains(t, stdout, "base "+newBase+" "+pd.String()+" (2 layers)")
	assert.Regexp(t, `layer 3 layer layer\.zip \(sha256 [0-9a-f]{64}\) -> sha256:`, stdout)
	assert.Regexp(t, `layer 4 code code \(tree sha256:[0-9a-f]{64}\) -> sha256:`, stdout)
	code, stdout, _ = runCmd(t, env, "check", repo+":v2", "--json")
	require.Equal(t, 0, code)
	var co checkOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &co))
	require.NotNil(t, co.Provenance)
	assert.Equal(t, newBase, co.Provenance.Base.Name)

	code, _, stderr = runCmd(t, env, "rebase", newBase, "--base", repo+":v1", "--oci-layout", filepath.Join(t.TempDir(), "x"))
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, stderr, "refused: it has no "+image.ProvenanceLabel+" label")
}

func configDigest(t *testing.T, s string) string {
	t.Helper()
	ref, err := name.ParseReference(s)
	require.NoError(t, err)
	img, err := remote.Image(ref)
	require.NoError(t, err)
	d, err := img.ConfigName()
	require.NoError(t, err)
	return d.String()
}
