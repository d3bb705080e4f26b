package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/internal/basegen"
)

func patchedBase(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := basegen.PatchedImage(arch)
	require.NoError(t, err)
	return img
}

// mergedFiles is the file system a container of img sees: each path's
// type, mode, content hash and link target, later layers over earlier
// ones, whiteouts applied.
func mergedFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	require.NoError(t, err)
	out := map[string]string{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		require.NoError(t, err)
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			name := strings.TrimSuffix(h.Name, "/")
			dir, base := path.Split(name)
			if victim, ok := strings.CutPrefix(base, ".wh."); ok {
				for p := range out {
					if p == dir+victim || strings.HasPrefix(p, dir+victim+"/") {
						delete(out, p)
					}
				}
				continue
			}
			sum := sha256.New()
			_, err = io.Copy(sum, tr)
			require.NoError(t, err)
			out[name] = fmt.Sprintf("%c %o %x %s", h.Typeflag, h.Mode, sum.Sum(nil), h.Linkname)
		}
		require.NoError(t, rc.Close())
	}
	return out
}

// Rebasing an image onto the base's next release gives exactly the image a
// fresh build of the same inputs on that base gives: same digest (so the
// same merged file system), the new base's layers first, the image's own
// layers the same blobs, the provenance naming the new base.
func TestRebaseEqualsFreshBuild(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new func(*testing.T, string) v1.Image
	}{
		{"oci", baseImage, patchedBase},
		{"docker", dockerBase, func(t *testing.T, arch string) v1.Image {
			img, err := basegen.DockerImage(patchedBase(t, arch))
			require.NoError(t, err)
			return img
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := demoOpts(t, tc.old(t, "x86_64"))
			opts.BaseName = "registry.example/lambda/python:3.12"
			opts.Env = []string{"TABLE=orders", "LANG=C.UTF-8"}
			built := mustBuild(t, opts)

			newBase := tc.new(t, "x86_64")
			fresh := opts
			fresh.Base = newBase
			want := mustBuild(t, fresh)

			res, err := Rebase(context.Background(), RebaseSpec{Image: built.Image, Name: "fn", Base: opts.BaseName, BaseImage: newBase}, Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = res.Close() })
			require.NoError(t, validate.Image(res.Image))
			assert.NotEqual(t, built.Digest, res.Digest)
			assert.Equal(t, want.Digest, res.Digest, "a rebase is a fresh build on the new base")
			assert.Equal(t, want.Provenance, res.Provenance)
			assert.Equal(t, mergedFiles(t, want.Image), mergedFiles(t, res.Image))

			nd, err := newBase.Digest()
			require.NoError(t, err)
			assert.Equal(t, nd.String(), res.Provenance.Base.Digest)
			assert.Equal(t, nd, res.BaseDigest)
			for i := 2; i < len(built.Layers); i++ {
				assert.Equal(t, built.Layers[i].Digest, res.Layers[i].Digest, "layer %d reused as it is", i+1)
			}
			cf, err := res.Image.ConfigFile()
			require.NoError(t, err)
			assert.Contains(t, cf.Config.Env, "TABLE=orders")
			assert.Contains(t, cf.Config.Env, "LANG=C.UTF-8", "ours over the new base's")
			assert.NotContains(t, cf.Config.Env, "LANG=en_US.UTF-8")
		})
	}
}

// Rebasing is refused, naming what differs, when the image is not built
// on the base it records, has no provenance, or the new base is for
// another architecture or runtime family.
func TestRebaseRefused(t *testing.T) {
	dockerPatched := func(t *testing.T, arch string) v1.Image {
		img, err := basegen.DockerImage(patchedBase(t, arch))
		require.NoError(t, err)
		return img
	}
	// lie is the image built on other with the provenance label of the
	// image built on base: its layers are not the base it records.
	lie := func(t *testing.T, base, other v1.Image) v1.Image {
		cf, err := mustBuild(t, demoOpts(t, base)).Image.ConfigFile()
		require.NoError(t, err)
		onOther := mustBuild(t, demoOpts(t, other)).Image
		ocf, err := onOther.ConfigFile()
		require.NoError(t, err)
		ocf = ocf.DeepCopy()
		ocf.Config.Labels[image.ProvenanceLabel] = cf.Config.Labels[image.ProvenanceLabel]
		img, err := mutate.ConfigFile(onOther, ocf)
		require.NoError(t, err)
		return img
	}
	built := mustBuild(t, demoOpts(t, baseImage(t, "x86_64")))
	cf, err := built.Image.ConfigFile()
	require.NoError(t, err)
	unlabelled := cf.DeepCopy()
	delete(unlabelled.Config.Labels, image.ProvenanceLabel)
	plain, err := mutate.ConfigFile(built.Image, unlabelled)
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		spec RebaseSpec
		want string
	}{
		{"layers not the recorded base (docker: no annotations)",
			RebaseSpec{Image: lie(t, dockerBase(t, "x86_64"), dockerPatched(t, "x86_64")), BaseImage: dockerPatched(t, "x86_64")},
			"layer 1 is sha256:"},
		{"manifest annotation names another base than the label",
			RebaseSpec{Image: lie(t, baseImage(t, "x86_64"), patchedBase(t, "x86_64")), BaseImage: patchedBase(t, "x86_64")},
			"its manifest names base sha256:"},
		{"no provenance", RebaseSpec{Image: plain, BaseImage: patchedBase(t, "x86_64")},
			"has no " + image.ProvenanceLabel},
		{"another architecture", RebaseSpec{Image: built.Image, BaseImage: patchedBase(t, "arm64")},
			"the new base has no x86_64 image"},
		{"another runtime family", RebaseSpec{Image: built.Image, BaseImage: patchedBase(t, "x86_64"), Runtime: "nodejs20.x"},
			"the new base is a nodejs runtime, the image was built for python"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name = "fn"
			_, err := Rebase(context.Background(), tc.spec, Options{})
			var refused *RebaseRefusedError
			require.True(t, errors.As(err, &refused), "%v", err)
			assert.Contains(t, err.Error(), "rebase fn: refused: ")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
