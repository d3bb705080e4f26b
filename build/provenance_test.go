package build

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

// The provenance label parses back into what the build did: the base
// layer by layer with the sizes measured, each added layer with its
// source's identity (the zip's sha256, the directory's tree hash), its
// digest and diffID; the annotations name the base on an OCI manifest and
// are absent from a Docker one, whose label says the same.
func TestProvenanceRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		base      v1.Image
		annotated bool
	}{
		{"oci", baseImage(t, "x86_64"), true},
		{"docker", dockerBase(t, "x86_64"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := demoOpts(t, tc.base)
			opts.BaseName = "registry.example/lambda/python:3.12"
			opts.Env = []string{"TABLE=orders", "LOG_LEVEL=debug"}
			res := mustBuild(t, opts)

			cf, err := res.Image.ConfigFile()
			require.NoError(t, err)
			p, err := image.ReadProvenance(cf)
			require.NoError(t, err)
			require.NotNil(t, p)
			assert.Equal(t, res.Provenance, p)
			assert.Equal(t, image.ProvenanceSchema, p.Schema)
			assert.Equal(t, "lambda-oci (devel)", p.Builder)
			assert.Equal(t, "app.handler", p.Handler)
			assert.Equal(t, []string{"TABLE", "LOG_LEVEL"}, p.Env)
			assert.Equal(t, &image.ProvenanceRuntime{Family: "python", Version: "3.12"}, p.Runtime)
			assert.Equal(t, opts.BaseName, p.Base.Name)
			assert.Equal(t, res.BaseDigest.String(), p.Base.Digest)

			require.Len(t, p.Base.Layers, 2)
			require.Len(t, p.Layers, 2)
			for i, bl := range p.Base.Layers {
				assert.Equal(t, res.Layers[i].Digest.String(), bl.Digest)
				assert.Equal(t, res.Layers[i].UncompressedSize, bl.Size)
				assert.Equal(t, mustUncompressedLen(t, res.Image, res.Layers[i].Digest), bl.Size)
			}
			for j, pl := range p.Layers {
				li := res.Layers[2+j]
				assert.Equal(t, li.Digest.String(), pl.Digest)
				assert.Equal(t, li.DiffID.String(), pl.DiffID)
				assert.Equal(t, cf.RootFS.DiffIDs[2+j].String(), pl.DiffID)
				assert.Equal(t, li.UncompressedSize, pl.Size)
				assert.Equal(t, li.Kind, pl.Kind)
				assert.Equal(t, li.Source, pl.Source)
			}
			zipSum := sha256.Sum256(mustRead(t, opts.Layers[0].Path))
			assert.Equal(t, hex.EncodeToString(zipSum[:]), p.Layers[0].SHA256)
			assert.Empty(t, p.Layers[0].Tree)
			tree, err := TreeHash(context.Background(), opts.Code.Path)
			require.NoError(t, err)
			assert.Equal(t, tree, p.Layers[1].Tree)
			assert.Empty(t, p.Layers[1].SHA256)

			// Sorted, compact JSON: the label is what Encode gives.
			raw := cf.Config.Labels[image.ProvenanceLabel]
			var generic map[string]any
			require.NoError(t, json.Unmarshal([]byte(raw), &generic))
			resorted, err := json.Marshal(generic) // maps marshal with sorted keys
			require.NoError(t, err)
			assert.JSONEq(t, raw, string(resorted))
			assert.Equal(t, string(resorted), raw, "keys already sorted")

			m, err := res.Image.Manifest()
			require.NoError(t, err)
			if tc.annotated {
				assert.Equal(t, map[string]string{
					image.AnnotationBaseName:   opts.BaseName,
					image.AnnotationBaseDigest: res.BaseDigest.String(),
				}, m.Annotations)
			} else {
				assert.Empty(t, m.Annotations)
				raw, err := res.Image.RawManifest()
				require.NoError(t, err)
				assert.NotContains(t, string(raw), "annotations")
			}
		})
	}
}

// A layout base is named by its directory's base name: where a checkout
// keeps it must not change the digest.
func TestProvenanceBaseName(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "mybase")
	require.NoError(t, os.Mkdir(lay, 0o755))
	for _, tc := range []struct{ ref, want string }{
		{"public.ecr.aws/lambda/python:3.12-x86_64", "public.ecr.aws/lambda/python:3.12-x86_64"},
		{"oci:" + lay, "oci:mybase"},
		{"oci:" + lay + ":latest", "oci:mybase:latest"},
		{"oci:" + lay + "/:v1", "oci:mybase:v1"},
	} {
		assert.Equal(t, tc.want, provenanceBaseName(tc.ref), tc.ref)
	}
	assert.Empty(t, annotationBaseName("oci:"+lay))
}

// TreeHash is the content of a directory as the converter keeps it:
// mtimes and permission bits other than execute do not change it; a byte,
// a name, the execute bit or a link target does.
func TestTreeHash(t *testing.T) {
	ctx := context.Background()
	files := func() []basegen.File {
		return []basegen.File{
			d("pkg/"), f("pkg/a.py", 0o644, "a = 1\n"), f("bin/run", 0o755, "#!/bin/sh\n"),
			{Name: "pkg/link", Mode: os.ModeSymlink | 0o777, Body: "a.py"},
		}
	}
	base, err := TreeHash(ctx, writeDir(t, files()...))
	require.NoError(t, err)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, base)

	same := writeDir(t, files()...)
	require.NoError(t, os.Chtimes(filepath.Join(same, "pkg/a.py"), time.Unix(1e9, 0), time.Unix(1e9, 0)))
	require.NoError(t, os.Chmod(filepath.Join(same, "pkg/a.py"), 0o600))
	got, err := TreeHash(ctx, same)
	require.NoError(t, err)
	assert.Equal(t, base, got, "mtime and non-execute mode bits are not identity")

	for name, change := range map[string]func([]basegen.File) []basegen.File{
		"content": func(fs []basegen.File) []basegen.File { fs[1].Body = "a = 2\n"; return fs },
		"name":    func(fs []basegen.File) []basegen.File { fs[1].Name = "pkg/b.py"; return fs },
		"exec":    func(fs []basegen.File) []basegen.File { fs[2].Mode = 0o644; return fs },
		"link":    func(fs []basegen.File) []basegen.File { fs[3].Body = "b.py"; return fs },
		"extra":   func(fs []basegen.File) []basegen.File { return append(fs, d("empty/")) },
	} {
		got, err := TreeHash(ctx, writeDir(t, change(files())...))
		require.NoError(t, err)
		assert.NotEqual(t, base, got, name)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

// A .pyc's validity for its source changes the layer (a valid one gets the
// layer's mtime), so it is part of a directory's identity; the source's
// mtime otherwise is not. Converting the two trees shows why.
func TestTreeHashPycValidity(t *testing.T) {
	ctx := context.Background()
	src := "x = 1\n"
	header := func(mtime int64) string {
		var h [16]byte
		binary.LittleEndian.PutUint16(h[0:2], 3531) // CPython 3.12
		copy(h[2:4], "\r\n")
		binary.LittleEndian.PutUint32(h[8:12], uint32(mtime))
		binary.LittleEndian.PutUint32(h[12:16], uint32(len(src)))
		return string(h[:]) + "code"
	}
	tree := func(srcMtime int64) string {
		dir := writeDir(t, f("app.py", 0o644, src), d("__pycache__/"), f("__pycache__/app.cpython-312.pyc", 0o644, header(1e9)))
		require.NoError(t, os.Chtimes(filepath.Join(dir, "app.py"), time.Unix(srcMtime, 0), time.Unix(srcMtime, 0)))
		return dir
	}
	valid, stale, staleToo := tree(1e9), tree(2e9), tree(3e9)
	hash := func(dir string) string {
		h, err := TreeHash(ctx, dir)
		require.NoError(t, err)
		return h
	}
	layer := func(dir string) v1.Hash {
		r, err := layerconv.Convert(ctx, dir, layerconv.Options{})
		require.NoError(t, err)
		defer r.Close()
		return r.Digest
	}
	require.NotEqual(t, layer(valid), layer(stale), "the converter rewrites only the valid .pyc")
	assert.NotEqual(t, hash(valid), hash(stale))
	assert.Equal(t, layer(stale), layer(staleToo))
	assert.Equal(t, hash(stale), hash(staleToo), "another mtime, still stale: same identity")
}
