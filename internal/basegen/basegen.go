// Package basegen makes the offline test fixtures: a tiny Lambda-like base
// image (an OCI layout holding a linux/amd64 + linux/arm64 index whose
// config is exactly that of the AWS base images) and the demo layer zip.
// Everything is deterministic — fixed times, sorted entries, uid/gid 0, gzip
// from the pinned klauspost/compress, stored (uncompressed) zip entries — so
// regenerating gives the committed bytes; a test asserts it.
//
// The base carries small scripts, no binaries: enough for the builder's
// checks (runtime family from /var/lang/bin/python3.12, an existing
// /var/runtime/bootstrap, the task root) and for skopeo/umoci/podman to read
// it, not to run a function.
//
//go:generate go run ./cmd/basegen -testdata ../../testdata
package basegen

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// RefName is the layout's name for the multi-arch index
// (oci:testdata/base:latest); the per-arch images are also named
// "latest-x86_64" and "latest-arm64", like AWS's per-arch tags.
const RefName = "latest"

// Created is the fixtures' one instant.
var Created = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Arches are Lambda's architecture names and their GOARCH.
var Arches = []struct{ Lambda, GOARCH, Variant string }{
	{"x86_64", "amd64", ""},
	{"arm64", "arm64", "v8"},
}

// Env, WorkingDir and Entrypoint copy the AWS base images' Dockerfiles
// (aws/aws-lambda-base-images, see lambda.md).
var Env = []string{
	"LANG=en_US.UTF-8",
	"TZ=:/etc/localtime",
	"PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
	"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
	"LAMBDA_TASK_ROOT=/var/task",
	"LAMBDA_RUNTIME_DIR=/var/runtime",
}

const (
	WorkingDir = "/var/task"
	Entrypoint = "/lambda-entrypoint.sh"
)

// entrypoint has the shape of AWS's /lambda-entrypoint.sh: exactly one
// argument, the handler.
const entrypoint = `#!/bin/sh
# Same contract as the AWS base images' entrypoint: one argument, the handler.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
`

const placeholder = `#!/bin/sh
# lambda-oci test base: a placeholder with no interpreter behind it.
echo "lambda-oci test base: $0 is a placeholder; use a real base image to run functions" 1>&2
exit 127
`

// File is one entry of a generated layer or zip.
type File struct {
	Name string // relative, "/"-separated; directories end in "/"
	Mode fs.FileMode
	Body string // file content, or the symlink or hard link target
	// Hardlink makes a regular file a hard link to Body (tests of images
	// other tools made; Lambda refuses them).
	Hardlink bool
}

func dir(name string, mode fs.FileMode) File { return File{Name: name, Mode: fs.ModeDir | mode} }
func file(name string, mode fs.FileMode, body string) File {
	return File{Name: name, Mode: mode, Body: body}
}
func link(name, target string) File {
	return File{Name: name, Mode: fs.ModeSymlink | 0o777, Body: target}
}

// osFiles is the layer shared by both architectures, like the AWS base's
// OS layer.
func osFiles() []File {
	return []File{
		dir("etc/", 0o755),
		file("etc/group", 0o644, "root:x:0:\nsbx_user1051:x:990:\n"),
		file("etc/os-release", 0o644, "NAME=\"lambda-oci test base\"\nID=lambda-oci-test\nVERSION_ID=\"2023\"\n"),
		file("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n"),
		file("lambda-entrypoint.sh", 0o755, entrypoint),
		dir("opt/", 0o755),
		dir("tmp/", 0o1777),
		dir("usr/", 0o755),
		dir("usr/local/", 0o755),
		dir("usr/local/bin/", 0o755),
		dir("var/", 0o755),
		dir("var/task/", 0o755),
	}
}

// runtimeFiles is the per-architecture runtime layer of a python3.12-like base.
func runtimeFiles(arch string) []File {
	return []File{
		dir("var/", 0o755),
		dir("var/lang/", 0o755),
		dir("var/lang/bin/", 0o755),
		link("var/lang/bin/python3", "python3.12"),
		file("var/lang/bin/python3.12", 0o755, placeholder),
		dir("var/lang/lib/", 0o755),
		file("var/lang/lib/lambda-oci-test-arch", 0o644, arch+"\n"),
		dir("var/runtime/", 0o755),
		file("var/runtime/bootstrap", 0o755, placeholder),
	}
}

// TarGz is a deterministic gzip tar of files (in the given order).
func TarGz(files []File, mtime time.Time) ([]byte, error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: int64(f.Mode.Perm()), ModTime: mtime, Format: tar.FormatUSTAR}
		if f.Mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		switch {
		case f.Mode.IsDir():
			h.Typeflag = tar.TypeDir
		case f.Mode&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.Body
		case f.Hardlink:
			h.Typeflag, h.Linkname = tar.TypeLink, f.Body
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar entry %q: %w", f.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, f.Body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tb.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return gz.Bytes(), nil
}

func layerOf(files []File, mt types.MediaType) (v1.Layer, error) {
	blob, err := TarGz(files, Created)
	if err != nil {
		return nil, err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(mt))
	if err != nil {
		return nil, err
	}
	return typedLayer{l, mt}, nil
}

// typedLayer gives a layer another media type. Embedding only the v1.Layer
// interface also hides the tarball layer's Descriptor (with an empty
// annotations map that does not survive a manifest round trip).
type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l typedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// Image is the base for one Lambda architecture, with OCI media types.
func Image(arch string) (v1.Image, error) { return imageWith(arch, osFiles()) }

// PatchedImage is Image as the base's next release: the operating system
// layer changed (a security fix: another os-release, one more file), the
// runtime layer and config the same. Images built on Image are rebased
// onto it.
func PatchedImage(arch string) (v1.Image, error) {
	files := osFiles()
	for i, f := range files {
		if f.Name == "etc/os-release" {
			files[i].Body = strings.Replace(f.Body, `VERSION_ID="2023"`, `VERSION_ID="2023.1"`, 1)
		}
	}
	files = append(files, file("etc/lambda-oci-test-patch", 0o644, "CVE-0000-0001 fixed\n"))
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return imageWith(arch, files)
}

func imageWith(arch string, osFiles []File) (v1.Image, error) {
	var goarch, variant string
	for _, a := range Arches {
		if a.Lambda == arch {
			goarch, variant = a.GOARCH, a.Variant
		}
	}
	if goarch == "" {
		return nil, fmt.Errorf("basegen: unknown arch %q", arch)
	}
	osLayer, err := layerOf(osFiles, types.OCILayer)
	if err != nil {
		return nil, err
	}
	rtLayer, err := layerOf(runtimeFiles(arch), types.OCILayer)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: osLayer, History: v1.History{Created: v1.Time{Time: Created}, CreatedBy: "basegen: operating system files"}},
		mutate.Addendum{Layer: rtLayer, History: v1.History{Created: v1.Time{Time: Created}, CreatedBy: "basegen: python3.12-like runtime placeholders"}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Variant = goarch, "linux", variant
	cf.Created = v1.Time{Time: Created}
	cf.Config = v1.Config{
		Env:        append([]string{}, Env...),
		WorkingDir: WorkingDir,
		Entrypoint: []string{Entrypoint},
	}
	return mutate.ConfigFile(img, cf)
}

// Index is the multi-arch OCI index of both images.
func Index() (v1.ImageIndex, error) { return indexOf(Image) }

// PatchedIndex is Index of the PatchedImages.
func PatchedIndex() (v1.ImageIndex, error) { return indexOf(PatchedImage) }

func indexOf(mk func(arch string) (v1.Image, error)) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, a := range Arches {
		img, err := mk(a.Lambda)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: "linux", Architecture: a.GOARCH, Variant: a.Variant},
			},
		})
	}
	return idx, nil
}

// DockerImage converts an image to Docker schema 2 media types, layers
// byte-for-byte the same (same digests), as a Docker-format base like AWS's.
func DockerImage(img v1.Image) (v1.Image, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	out := mutate.MediaType(empty.Image, types.DockerManifestSchema2)
	out = mutate.ConfigMediaType(out, types.DockerConfigJSON)
	for _, l := range layers {
		if out, err = mutate.Append(out, mutate.Addendum{Layer: typedLayer{l, types.DockerLayer}}); err != nil {
			return nil, err
		}
	}
	return mutate.ConfigFile(out, cf.DeepCopy())
}

// DockerIndex is Index with Docker media types (a manifest list).
func DockerIndex() (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	for _, a := range Arches {
		img, err := Image(a.Lambda)
		if err != nil {
			return nil, err
		}
		if img, err = DockerImage(img); err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				MediaType: types.DockerManifestSchema2,
				Platform:  &v1.Platform{OS: "linux", Architecture: a.GOARCH, Variant: a.Variant},
			},
		})
	}
	return idx, nil
}

// WriteLayout writes idx as an OCI layout at dir (which must not exist
// yet), named name, and its images named name-ARCH.
func WriteLayout(dir string, idx v1.ImageIndex, name string) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{AnnotationRefName: name})); err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		arch := d.Platform.Architecture
		for _, a := range Arches {
			if a.GOARCH == arch {
				arch = a.Lambda
			}
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{AnnotationRefName: name + "-" + arch}),
			layout.WithPlatform(*d.Platform)); err != nil {
			return err
		}
	}
	return nil
}

// DemoLayerFiles is the demo Lambda layer: a Python package where the
// runtime looks (/opt/python), an executable on PATH (/opt/bin) and a
// symlink to it.
func DemoLayerFiles() []File {
	return []File{
		dir("bin/", 0o755),
		file("bin/demo-hello", 0o755, "#!/bin/sh\necho \"hello from /opt/bin\"\n"),
		link("bin/hello", "demo-hello"),
		dir("python/", 0o755),
		dir("python/demo_greeting/", 0o755),
		file("python/demo_greeting/__init__.py", 0o644,
			"\"\"\"A package shipped in a Lambda layer, imported by the demo function.\"\"\"\n\n\ndef greet(name):\n    return f\"hello, {name}, from a Lambda layer\"\n"),
	}
}

// Zip is a deterministic zip of files: Unix modes, fixed times, stored
// entries (so the bytes do not depend on a deflate implementation).
func Zip(files []File) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		fh := &zip.FileHeader{Name: f.Name, Method: zip.Store, Modified: Created}
		fh.SetMode(f.Mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			return nil, fmt.Errorf("zip entry %q: %w", f.Name, err)
		}
		if !f.Mode.IsDir() {
			if _, err := io.WriteString(w, f.Body); err != nil {
				return nil, err
			}
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Generate writes testdata/base (the OCI layout) and testdata/demo/layer.zip
// under testdata, replacing what is there only once the new files are
// complete.
func Generate(testdata string) error {
	idx, err := Index()
	if err != nil {
		return fmt.Errorf("basegen: %w", err)
	}
	baseDir := filepath.Join(testdata, "base")
	tmp, err := os.MkdirTemp(testdata, ".base-*")
	if err != nil {
		return fmt.Errorf("basegen: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "base")
	if err := WriteLayout(out, idx, RefName); err != nil {
		return fmt.Errorf("basegen: writing layout: %w", err)
	}
	// The layout writer's file modes vary (0600 blobs, 0755 index.json);
	// git records the executable bit, so settle them.
	if err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	}); err != nil {
		return fmt.Errorf("basegen: %w", err)
	}
	if err := os.RemoveAll(baseDir); err != nil {
		return fmt.Errorf("basegen: %w", err)
	}
	if err := os.Rename(out, baseDir); err != nil {
		return fmt.Errorf("basegen: %w", err)
	}

	zb, err := Zip(DemoLayerFiles())
	if err != nil {
		return fmt.Errorf("basegen: demo layer: %w", err)
	}
	demo := filepath.Join(testdata, "demo")
	if err := os.MkdirAll(demo, 0o755); err != nil {
		return fmt.Errorf("basegen: %w", err)
	}
	tz := filepath.Join(demo, ".layer.zip.tmp")
	if err := os.WriteFile(tz, zb, 0o644); err != nil {
		return fmt.Errorf("basegen: %w", err)
	}
	return os.Rename(tz, filepath.Join(demo, "layer.zip"))
}

// AnnotationRefName is the OCI layout annotation naming an image.
const AnnotationRefName = "org.opencontainers.image.ref.name"
