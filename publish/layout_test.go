package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/registry"
)

// snapshot maps every file under dir to its mode and content hash, to show
// a directory was left untouched (or which files were kept).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			out[rel] = info.Mode().String()
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[rel] = info.Mode().String() + " " + hex.EncodeToString(sum[:])
		return nil
	}))
	return out
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	}))
}

// indexEntries returns the raw entries of dir's index.json.
func indexEntries(t *testing.T, dir string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	require.NoError(t, err)
	var idx struct {
		Manifests []json.RawMessage `json:"manifests"`
	}
	require.NoError(t, json.Unmarshal(b, &idx))
	return idx.Manifests
}

func entryNames(t *testing.T, dir string) map[string]int {
	t.Helper()
	names := map[string]int{}
	for _, e := range indexEntries(t, dir) {
		var d v1.Descriptor
		require.NoError(t, json.Unmarshal(e, &d))
		names[d.Annotations[refNameAnnotation]]++
	}
	return names
}

// validateLayout reads the whole layout with go-containerregistry and
// validates every entry (and the blobs each names).
func validateLayout(t *testing.T, dir string) {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	require.NoError(t, err)
	assert.NoError(t, validate.Index(idx))
}

func imageAt(t *testing.T, dir, ref string) v1.Image {
	t.Helper()
	b, err := registry.FetchBase(context.Background(), registry.LayoutPrefix+dir+":"+ref, registry.Options{})
	require.NoError(t, err)
	require.NotNil(t, b.Image)
	return b.Image
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	require.NoError(t, err)
	return d
}

func TestWriteLayoutNew(t *testing.T) {
	ctx := context.Background()
	img, err := random.Image(300, 2)
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		arg   func(dir string) string
	}{
		{name: "missing dir"},
		{name: "trailing slash", arg: func(dir string) string { return dir + "/" }},
		{name: "empty dir", setup: func(t *testing.T, dir string) { require.NoError(t, os.Mkdir(dir, 0o755)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			arg := dir
			if tc.arg != nil {
				arg = tc.arg(dir)
			}
			require.NoError(t, publishLayout(ctx, arg, img, "example.com/fn:latest"))
			assert.Equal(t, map[string]int{"example.com/fn:latest": 1}, entryNames(t, dir))
			assert.Equal(t, digestOf(t, img), digestOf(t, imageAt(t, dir, "example.com/fn:latest")))
			validateLayout(t, dir)
			assertNoTemp(t, filepath.Dir(dir))
			assertNoTemp(t, filepath.Join(dir, "blobs", "sha256"))
			// Outputs are shared like any file: 0644, not executable
			// (directories follow the umask).
			for rel, v := range snapshot(t, dir) {
				if v[0] != 'd' {
					assert.Equal(t, "-rw-r--r--", v[:10], rel)
				}
			}
		})
	}
}

func TestWriteLayoutSameNameReplaces(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	img1, err := random.Image(300, 2)
	require.NoError(t, err)
	img2, err := random.Image(300, 1)
	require.NoError(t, err)

	require.NoError(t, publishLayout(ctx, dir, img1, "example.com/fn:latest"))
	require.NoError(t, publishLayout(ctx, dir, img1, "example.com/fn:latest"))
	assert.Equal(t, map[string]int{"example.com/fn:latest": 1}, entryNames(t, dir), "same image twice: one entry")

	require.NoError(t, publishLayout(ctx, dir, img1, "example.com/fn:v1"))
	require.NoError(t, publishLayout(ctx, dir, img2, "example.com/fn:latest"))
	assert.Equal(t, map[string]int{"example.com/fn:latest": 1, "example.com/fn:v1": 1}, entryNames(t, dir))
	assert.Equal(t, digestOf(t, img2), digestOf(t, imageAt(t, dir, "example.com/fn:latest")), "the named entry now points at the new image")
	assert.Equal(t, digestOf(t, img1), digestOf(t, imageAt(t, dir, "example.com/fn:v1")), "the other entry is kept")
	validateLayout(t, dir)
}

// An image added to an existing layout (here the testdata base: an index
// and two images) keeps every entry and blob that was there.
func TestWriteLayoutAddsToExisting(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "bc")
	copyDir(t, filepath.Join("..", "testdata", "base"), dir)
	before := snapshot(t, dir)
	entriesBefore := indexEntries(t, dir)
	require.Len(t, entriesBefore, 3)

	img, err := random.Image(300, 2)
	require.NoError(t, err)
	require.NoError(t, publishLayout(ctx, dir, img, "example.com/fn:latest"))

	entries := indexEntries(t, dir)
	require.Len(t, entries, 4)
	for i, e := range entriesBefore {
		assert.JSONEq(t, string(e), string(entries[i]), "entry %d kept", i)
	}
	after := snapshot(t, dir)
	for rel, v := range before {
		if rel == "index.json" {
			continue
		}
		assert.Equal(t, v, after[rel], "%s kept", rel)
	}
	assert.Equal(t, digestOf(t, img), digestOf(t, imageAt(t, dir, "example.com/fn:latest")))
	validateLayout(t, dir)
	assertNoTemp(t, dir)
	assertNoTemp(t, filepath.Join(dir, "blobs", "sha256"))
}

// `build --base oci:bc:latest --oci-layout bc`: the base is read from the
// layout the result is written into. The base's blobs are shared, not
// rewritten, and its entries survive.
func TestWriteLayoutBuildFromSameLayout(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "bc")
	copyDir(t, filepath.Join("..", "testdata", "base"), dir)
	before := snapshot(t, dir)

	b, err := registry.FetchBase(ctx, registry.LayoutPrefix+dir+":latest", registry.Options{})
	require.NoError(t, err)
	require.NotNil(t, b.Index)
	im, err := b.Index.IndexManifest()
	require.NoError(t, err)
	var base v1.Image
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Architecture == "amd64" {
			base, err = b.Index.Image(d.Digest)
			require.NoError(t, err)
		}
	}
	require.NotNil(t, base)
	code, err := random.Layer(500, "application/vnd.oci.image.layer.v1.tar+gzip")
	require.NoError(t, err)
	img, err := mutate.AppendLayers(base, code)
	require.NoError(t, err)
	img, err = mutate.Config(img, v1.Config{Cmd: []string{"app.handler"}})
	require.NoError(t, err)

	require.NoError(t, publishLayout(ctx, dir, img, "localhost/lambda-function:latest"))

	assert.Equal(t, map[string]int{"latest": 1, "latest-x86_64": 1, "latest-arm64": 1, "localhost/lambda-function:latest": 1}, entryNames(t, dir))
	after := snapshot(t, dir)
	for rel, v := range before {
		if rel != "index.json" {
			assert.Equal(t, v, after[rel], "%s kept", rel)
		}
	}
	got := imageAt(t, dir, "localhost/lambda-function:latest")
	assert.Equal(t, digestOf(t, img), digestOf(t, got))
	assert.NoError(t, validate.Image(got))
	// The base is still usable, by the same name, for the next build.
	b2, err := registry.FetchBase(ctx, registry.LayoutPrefix+dir+":latest", registry.Options{})
	require.NoError(t, err)
	require.NotNil(t, b2.Index)
	assert.NoError(t, validate.Index(b2.Index))
	validateLayout(t, dir)
}

// Anything that is not a missing dir, an empty dir or a valid layout is
// refused with nothing written, not even a temp file beside it.
func TestWriteLayoutRefuses(t *testing.T) {
	ctx := context.Background()
	img, err := random.Image(300, 1)
	require.NoError(t, err)
	write := func(files map[string]string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			for n, c := range files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644))
			}
		}
	}
	for _, tc := range []struct {
		name, want string
		setup      func(t *testing.T, dir string)
	}{
		{name: "file and empty oci-layout", want: "oci-layout",
			setup: write(map[string]string{"file": "precious", "oci-layout": ""})},
		{name: "plain directory", want: "oci-layout",
			setup: write(map[string]string{"keep.txt": "x"})},
		{name: "oci-layout without index.json", want: "index.json",
			setup: write(map[string]string{"file": "precious", "oci-layout": layoutVersion})},
		{name: "index.json not JSON", want: "index.json",
			setup: write(map[string]string{"oci-layout": layoutVersion, "index.json": "precious"})},
		{name: "index.json of another schema", want: "schemaVersion",
			setup: write(map[string]string{"oci-layout": layoutVersion, "index.json": `{"manifests":[]}`})},
		{name: "oci-layout not a layout file", want: "imageLayoutVersion",
			setup: write(map[string]string{"oci-layout": `{}`, "index.json": `{"schemaVersion":2,"manifests":[]}`})},
		{name: "a file", want: "not a directory", setup: func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(dir, []byte("precious"), 0o644))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "d")
			tc.setup(t, dir)
			before := snapshot(t, parent)
			err := publishLayout(ctx, dir, img, "example.com/fn:latest")
			require.Error(t, err)
			assert.Contains(t, err.Error(), dir)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, err.Error(), Layout(dir, "").Check(nil).Error(), "the pre-check says the same")
			assert.Equal(t, before, snapshot(t, parent), "nothing touched")
		})
	}
}

// A blob whose bytes do not match its digest is not stored, and the index
// is not changed.
func TestWriteLayoutVerifiesBlobs(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	good, err := random.Image(300, 1)
	require.NoError(t, err)
	require.NoError(t, publishLayout(ctx, dir, good, "example.com/fn:good"))
	before := snapshot(t, dir)

	l, err := random.Layer(400, "application/vnd.oci.image.layer.v1.tar+gzip")
	require.NoError(t, err)
	bad, err := mutate.AppendLayers(good, corruptLayer{l})
	require.NoError(t, err)
	err = publishLayout(ctx, dir, bad, "example.com/fn:bad")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not match")
	assert.Equal(t, before, snapshot(t, dir))
}

// An interrupted write into an existing layout leaves its index as it was.
func TestWriteLayoutCanceled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	img, err := random.Image(300, 1)
	require.NoError(t, err)
	require.NoError(t, publishLayout(context.Background(), dir, img, "example.com/fn:a"))
	index, err := os.ReadFile(filepath.Join(dir, "index.json"))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	img2, err := random.Image(300, 2)
	require.NoError(t, err)
	err = publishLayout(ctx, dir, img2, "example.com/fn:b")
	require.ErrorIs(t, err, context.Canceled)
	got, err := os.ReadFile(filepath.Join(dir, "index.json"))
	require.NoError(t, err)
	assert.Equal(t, string(index), string(got))
	assertNoTemp(t, filepath.Join(dir, "blobs", "sha256"))

	// Into a missing dir: nothing at all is left.
	missing := filepath.Join(t.TempDir(), "new")
	require.Error(t, publishLayout(ctx, missing, img2, "example.com/fn:b"))
	assert.NoDirExists(t, missing)
	assertNoTemp(t, filepath.Dir(missing))
}

// corruptLayer serves bytes that do not match its digest.
type corruptLayer struct{ v1.Layer }

func (c corruptLayer) Compressed() (io.ReadCloser, error) {
	rc, err := c.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	b[len(b)/2] ^= 0xff
	return io.NopCloser(bytes.NewReader(b)), nil
}

func TestWriteTarball(t *testing.T) {
	ctx := context.Background()
	img, err := random.Image(300, 2)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "img.tar")
	require.NoError(t, publishTarball(ctx, path, img, "example.com/fn:latest"))
	tag := must(name.NewTag("example.com/fn:latest"))
	got, err := tarball.ImageFromPath(path, &tag)
	require.NoError(t, err)
	assert.NoError(t, validate.Image(got))
	assert.Equal(t, digestOf(t, img), digestOf(t, got))
	assertNoTemp(t, filepath.Dir(path))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	err = publishTarball(ctx, path, img, "Not A Tag")
	assert.Error(t, err)
}

func TestWriteTarballRefusesDirectory(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o644))
	before := snapshot(t, parent)
	img, err := random.Image(300, 1)
	require.NoError(t, err)
	for _, p := range []string{dir, dir + "/"} {
		err = publishTarball(context.Background(), p, img, "example.com/fn:latest")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is a directory")
		assert.Contains(t, err.Error(), dir)
		assert.Equal(t, before, snapshot(t, parent), "nothing touched")
		assert.Equal(t, err.Error(), Tarball(p, "").Check(nil).Error())
	}
}

func TestWriteImageRefs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refs")
	require.NoError(t, WriteImageRefs(path, []string{"a@sha256:1", "b@sha256:2"}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "a@sha256:1\nb@sha256:2\n", string(b))
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		// .NAME.tmp-* and renameio's .NAME<digits>: every temporary is hidden.
		assert.False(t, strings.HasPrefix(e.Name(), "."), "temp file left behind: %s", e.Name())
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func publishLayout(ctx context.Context, dir string, img v1.Image, name string) error {
	_, err := Layout(dir, name).Publish(ctx, img)
	return err
}

func publishTarball(ctx context.Context, path string, img v1.Image, name string) error {
	_, err := Tarball(path, name).Publish(ctx, img)
	return err
}
