package basegen

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const committed = "../../testdata"

// treeDigests maps every file under root to the sha256 of its bytes.
func treeDigests(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	}))
	return out
}

// The committed fixtures are exactly what the generator makes: regenerate
// into a temp dir and compare every file.
func TestGenerateReproducesCommittedFixtures(t *testing.T) {
	tmp := t.TempDir()
	require.NoError(t, Generate(tmp))
	for _, sub := range []string{"base", "demo/layer.zip"} {
		want := treeDigests(t, filepath.Join(committed, sub))
		got := treeDigests(t, filepath.Join(tmp, sub))
		require.NotEmpty(t, want, "committed %s missing: run go generate ./internal/basegen", sub)
		assert.Equal(t, want, got, "%s differs from the generator's output: run go generate ./internal/basegen and commit", sub)
	}
	// Twice in one process gives the same bytes too (no hidden state).
	tmp2 := t.TempDir()
	require.NoError(t, Generate(tmp2))
	assert.Equal(t, treeDigests(t, tmp), treeDigests(t, tmp2))
}

func TestBaseLayoutIsAWSShaped(t *testing.T) {
	p, err := layout.FromPath(filepath.Join(committed, "base"))
	require.NoError(t, err)
	outer, err := p.ImageIndex()
	require.NoError(t, err)
	om, err := outer.IndexManifest()
	require.NoError(t, err)
	names := map[string]v1.Descriptor{}
	for _, d := range om.Manifests {
		names[d.Annotations[AnnotationRefName]] = d
	}
	require.Contains(t, names, "latest")
	require.Equal(t, types.OCIImageIndex, names["latest"].MediaType)

	idx, err := outer.ImageIndex(names["latest"].Digest)
	require.NoError(t, err)
	require.NoError(t, validate.Index(idx))
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 2)
	var arches []string
	for _, d := range im.Manifests {
		assert.Equal(t, types.OCIManifestSchema1, d.MediaType)
		arches = append(arches, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := idx.Image(d.Digest)
		require.NoError(t, err)
		require.NoError(t, validate.Image(img))
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, d.Platform.Architecture, cf.Architecture)
		assert.Equal(t, Env, cf.Config.Env)
		assert.Equal(t, "/var/task", cf.Config.WorkingDir)
		assert.Equal(t, []string{"/lambda-entrypoint.sh"}, cf.Config.Entrypoint)
		assert.Empty(t, cf.Config.Cmd, "AWS base images have no CMD")
		layers, err := img.Layers()
		require.NoError(t, err)
		for _, l := range layers {
			mt, err := l.MediaType()
			require.NoError(t, err)
			assert.Equal(t, types.OCILayer, mt)
		}
	}
	assert.ElementsMatch(t, []string{"linux/amd64", "linux/arm64"}, arches)
}

func TestDockerImageKeepsLayerBytes(t *testing.T) {
	img, err := Image("arm64")
	require.NoError(t, err)
	d, err := DockerImage(img)
	require.NoError(t, err)
	require.NoError(t, validate.Image(d))
	mt, err := d.MediaType()
	require.NoError(t, err)
	assert.Equal(t, types.DockerManifestSchema2, mt)
	m, err := d.Manifest()
	require.NoError(t, err)
	assert.Equal(t, types.DockerConfigJSON, m.Config.MediaType)
	om, err := img.Manifest()
	require.NoError(t, err)
	require.Len(t, m.Layers, len(om.Layers))
	for i := range m.Layers {
		assert.Equal(t, om.Layers[i].Digest, m.Layers[i].Digest)
		assert.Equal(t, types.DockerLayer, m.Layers[i].MediaType)
	}
	di, err := DockerIndex()
	require.NoError(t, err)
	require.NoError(t, validate.Index(di))
}
