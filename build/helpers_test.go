package build

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

var fixedTime = testutil.FixedTime

var (
	f   = testutil.F
	d   = testutil.Dir
	sym = testutil.Symlink
)

func writeZip(t *testing.T, name string, files ...basegen.File) string {
	return testutil.WriteZip(t, name, files...)
}

func writeDir(t *testing.T, files ...basegen.File) string { return testutil.WriteDir(t, files...) }

func elfHeader(m uint16) string { return testutil.ELFHeader(elf.Machine(m)) }

func baseImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := basegen.Image(arch)
	require.NoError(t, err)
	return img
}

func dockerBase(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := basegen.DockerImage(baseImage(t, arch))
	require.NoError(t, err)
	return img
}

// withoutBootstrap is the base with /var/runtime/bootstrap and /var/lang
// whited out by a top layer, like a provided.* base (no language, no
// bootstrap); it exercises both kinds of whiteout.
func withoutBootstrap(t *testing.T, base v1.Image) v1.Image {
	t.Helper()
	return appendLayer(t, base, d("var/"), f("var/.wh.lang", 0o644, ""), d("var/runtime/"), f("var/runtime/.wh.bootstrap", 0o644, ""))
}

// appendLayer is base with one more layer holding files, in the base's
// media-type family.
func appendLayer(t *testing.T, base v1.Image, files ...basegen.File) v1.Image {
	t.Helper()
	blob, err := basegen.TarGz(files, basegen.Created)
	require.NoError(t, err)
	mt, err := base.MediaType()
	require.NoError(t, err)
	fam, err := image.FamilyOf(mt)
	require.NoError(t, err)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil }, tarball.WithMediaType(fam.Layer))
	require.NoError(t, err)
	// Only the v1.Layer interface: tarball's Descriptor would add empty
	// annotations that validate.Image then finds missing from the manifest.
	img, err := mutate.Append(base, mutate.Addendum{Layer: struct{ v1.Layer }{l}, MediaType: fam.Layer})
	require.NoError(t, err)
	return img
}

func demoOpts(t *testing.T, base v1.Image) tOpts {
	t.Helper()
	return tOpts{
		Base:    base,
		Arch:    "x86_64",
		Layers:  []Source{{Path: writeZip(t, "layer.zip", basegen.DemoLayerFiles()...)}},
		Code:    Source{Path: writeDir(t, f("app.py", 0o644, "def handler(e, c):\n    return 1\n"))},
		Handler: "app.handler",
		Created: fixedTime,
	}
}

func mustBuild(t *testing.T, opts tOpts) *Result {
	t.Helper()
	res, err := tBuild(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Close() })
	require.NoError(t, validate.Image(res.Image))
	return res
}

// tarEntries reads a layer into name -> header.
func tarEntries(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		out[strings.TrimSuffix(h.Name, "/")] = h
	}
	return out
}

func writeFile(p string, b []byte) error { return os.WriteFile(p, b, 0o644) }

// tOpts is one test build in the flat shape the tests were first written
// against: the spec's fields, the base as an image, the cache and a warning
// callback.
type tOpts struct {
	Base              v1.Image
	BaseName          string
	Arch              string
	Runtime           string
	Layers            []Source
	Code              Source
	Handler           string
	Env               []string
	MaxSize           int64
	AllowArchMismatch bool
	Created           time.Time
	CacheDir          string
	Warn              func(string)
}

func tBuild(ctx context.Context, o tOpts) (*Result, error) {
	spec := Spec{
		BaseImage: o.Base, Base: o.BaseName, Arch: o.Arch, Runtime: o.Runtime, Layers: o.Layers, Code: o.Code,
		Handler: o.Handler, Env: o.Env, MaxSize: o.MaxSize, AllowArchMismatch: o.AllowArchMismatch, Created: o.Created,
	}
	return Build(ctx, spec, Options{CacheDir: o.CacheDir, Events: func(e Event) {
		if e.Kind == Warning && o.Warn != nil {
			o.Warn(e.Message)
		}
	}})
}

func shortDigest(h v1.Hash) string { return h.Algorithm + ":" + h.Hex[:12] }
