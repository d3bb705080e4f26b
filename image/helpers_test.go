package image

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
)

// fixedTime keeps test builds independent of SOURCE_DATE_EPOCH in the
// environment.
var fixedTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func f(name string, mode fs.FileMode, body string) basegen.File {
	return basegen.File{Name: name, Mode: mode, Body: body}
}
func d(name string) basegen.File { return basegen.File{Name: name, Mode: fs.ModeDir | 0o755} }
func sym(name, target string) basegen.File {
	return basegen.File{Name: name, Mode: fs.ModeSymlink | 0o777, Body: target}
}

// writeZip writes a generated zip into the test's temp dir.
func writeZip(t *testing.T, name string, files ...basegen.File) string {
	t.Helper()
	b, err := basegen.Zip(files)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// writeDir writes files into a fresh directory (code as a directory).
func writeDir(t *testing.T, files ...basegen.File) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "code")
	require.NoError(t, os.MkdirAll(root, 0o755))
	for _, fl := range files {
		p := filepath.Join(root, filepath.FromSlash(fl.Name))
		switch {
		case fl.Mode.IsDir():
			require.NoError(t, os.MkdirAll(p, 0o755))
		case fl.Mode&fs.ModeSymlink != 0:
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.Symlink(fl.Body, p))
		default:
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(fl.Body), fl.Mode.Perm()))
			require.NoError(t, os.Chmod(p, fl.Mode.Perm()))
		}
	}
	return root
}

// elf returns the start of an ELF executable for the given machine.
func elf(machine uint16) string {
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1 // 64-bit, little endian, version 1
	binary.LittleEndian.PutUint16(h[16:], 2)
	binary.LittleEndian.PutUint16(h[18:], machine)
	return string(h)
}

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
	blob, err := basegen.TarGz([]basegen.File{d("var/"), f("var/.wh.lang", 0o644, ""), d("var/runtime/"), f("var/runtime/.wh.bootstrap", 0o644, "")}, basegen.Created)
	require.NoError(t, err)
	l, err := layerFromBytes(blob)
	require.NoError(t, err)
	mt, err := base.MediaType()
	require.NoError(t, err)
	fam, err := familyOf(mt)
	require.NoError(t, err)
	img, err := mutate.Append(base, mutate.Addendum{Layer: typedLayer{l, fam.layer}})
	require.NoError(t, err)
	return img
}

func demoOpts(t *testing.T, base v1.Image) Options {
	t.Helper()
	return Options{
		Base:    base,
		Arch:    "x86_64",
		Layers:  []Source{{Path: writeZip(t, "layer.zip", basegen.DemoLayerFiles()...)}},
		Code:    Source{Path: writeDir(t, f("app.py", 0o644, "def handler(e, c):\n    return 1\n"))},
		Handler: "app.handler",
		Created: fixedTime,
	}
}

func mustBuild(t *testing.T, opts Options) *Result {
	t.Helper()
	res, err := Build(context.Background(), opts)
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
