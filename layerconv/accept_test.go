package layerconv

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

func modesByName(es []tent) map[string]string {
	m := map[string]string{}
	for _, e := range es {
		m[e.Name] = fmt.Sprintf("%c%o", e.Type, e.Mode)
	}
	return m
}

func TestConvertZipWindowsModes(t *testing.T) {
	winDir := func(h *zip.FileHeader) { h.ExternalAttrs = msdosDir }
	ntfs := func(h *zip.FileHeader) { h.CreatorVersion = creatorNTFS<<8 | 20 }
	r, err := convertBytes(t, buildZip(t, []zent{
		{name: "bootstrap", body: "#!/bin/sh"},
		{name: "bin/tool", body: "x"},
		{name: "extensions/ext", body: "x"},
		{name: "lib/bootstrap", body: "x"},
		{name: "lib/a.so", body: "x"},
		{name: "cfg", hdr: winDir},
		{name: `dir\sub\file.txt`, body: "x", hdr: ntfs},
	}), Options{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"opt/":                 "5755",
		"opt/bootstrap":        "0755",
		"opt/bin/":             "5755",
		"opt/bin/tool":         "0755",
		"opt/extensions/":      "5755",
		"opt/extensions/ext":   "0755",
		"opt/lib/":             "5755",
		"opt/lib/bootstrap":    "0644",
		"opt/lib/a.so":         "0644",
		"opt/cfg/":             "5755",
		"opt/dir/":             "5755",
		"opt/dir/sub/":         "5755",
		"opt/dir/sub/file.txt": "0644",
	}, modesByName(readResult(t, r)))
	assert.Equal(t, 1, r.Normalized, "only the backslash name was rewritten")
}

func TestConvertZipUnixModes(t *testing.T) {
	r, err := convertBytes(t, buildZip(t, []zent{
		{name: "a", body: "x", mode: 0o600},
		{name: "b", body: "x", mode: 0o644},
		{name: "c", body: "x", mode: 0o700},
		{name: "d", body: "x", mode: 0o744},
		{name: "e", body: "x", mode: 0o4755 | fs.ModeSetuid},
		{name: "f", body: "x", mode: 0o2755 | fs.ModeSetgid},
		{name: "g", body: "x", mode: 0o755},
		{name: "h/", mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{name: "i/", mode: fs.ModeDir | 0o700},
		{name: "bin/no-exec", body: "x", mode: 0o644}, // modes win over conventions
	}), Options{})
	require.NoError(t, err)
	got := modesByName(readResult(t, r))
	for name, want := range map[string]string{
		"opt/a": "0644", "opt/b": "0644", "opt/c": "0755", "opt/d": "0755", "opt/e": "0755",
		"opt/f": "0755", "opt/g": "0755", "opt/h/": "5755", "opt/i/": "5755", "opt/bin/no-exec": "0644",
	} {
		assert.Equal(t, want, got[name], name)
	}
	assert.Equal(t, 7, r.Normalized) // a, c, d, e, f, h, i
}

func TestConvertZipOrderIndependent(t *testing.T) {
	ents := []zent{
		{name: "python/z.py", body: "z", mode: 0o644},
		{name: "python/a.py", body: "a", mode: 0o644, method: zip.Deflate},
		{name: "python/", mode: fs.ModeDir | 0o755},
		{name: "python-x/y", body: "y", mode: 0o644},
		{name: "lib/l", body: "target", mode: fs.ModeSymlink | 0o777},
	}
	var digests []string
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		rng.Shuffle(len(ents), func(i, j int) { ents[i], ents[j] = ents[j], ents[i] })
		r, err := convertBytes(t, buildZip(t, ents), Options{})
		require.NoError(t, err)
		digests = append(digests, r.Digest.String()+" "+r.DiffID.String())
		var names []string
		for _, e := range readResult(t, r) {
			names = append(names, e.Name)
		}
		assert.Equal(t, []string{"opt/", "opt/lib/", "opt/lib/l", "opt/python/", "opt/python/a.py", "opt/python/z.py", "opt/python-x/", "opt/python-x/y"}, names)
	}
	for _, d := range digests {
		assert.Equal(t, digests[0], d)
	}
}

func TestConvertZipDropsMacOSLitter(t *testing.T) {
	r, err := convertBytes(t, buildZip(t, []zent{
		{name: "extensions/ext", body: "x", mode: 0o755},
		{name: "extensions/._ext", body: "junk", mode: 0o644},
		{name: "__MACOSX/", mode: fs.ModeDir | 0o755},
		{name: "__MACOSX/extensions/._ext", body: "junk", mode: 0o644},
		{name: "._top", body: "junk"},
		{name: "./", mode: fs.ModeDir | 0o755},
	}), Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"extensions/._ext", "__MACOSX/", "__MACOSX/extensions/._ext", "._top"}, r.Dropped)
	var names []string
	for _, e := range readResult(t, r) {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"opt/", "opt/extensions/", "opt/extensions/ext"}, names)
}

func TestConvertZipCodePrefix(t *testing.T) {
	for _, tt := range []struct{ prefix, first string }{
		{"/var/task", "var/ var/task/ var/task/app.py"},
		{"/var/task/", "var/ var/task/ var/task/app.py"},
		{"/", "app.py"},
		{"", "opt/ opt/app.py"},
	} {
		r, err := convertBytes(t, buildZip(t, []zent{{name: "app.py", body: "x", mode: 0o644}}), Options{Prefix: tt.prefix})
		require.NoError(t, err, tt.prefix)
		var names []string
		for _, e := range readResult(t, r) {
			names = append(names, e.Name)
		}
		assert.Equal(t, tt.first, strings.Join(names, " "), tt.prefix)
	}
	_, err := convertBytes(t, buildZip(t, []zent{{name: "app.py", body: "x"}}), Options{Prefix: "var/task"})
	assert.ErrorContains(t, err, "want an absolute path")
}

func TestConvertZipStoredDeflatedDescriptors(t *testing.T) {
	big := strings.Repeat("lambda layer content\n", 20000)
	r, err := convertBytes(t, buildZip(t, []zent{
		{name: "stored-desc", body: big, mode: 0o644, method: zip.Store},
		{name: "deflated-desc", body: big, mode: 0o644, method: zip.Deflate},
		{name: "stored-raw", body: big, mode: 0o644, method: zip.Store, raw: true},
		{name: "deflated-raw", body: big, mode: 0o644, method: zip.Deflate, raw: true},
		{name: "empty", mode: 0o644},
	}), Options{})
	require.NoError(t, err)
	for _, e := range readResult(t, r) {
		if e.Type == tar.TypeReg && e.Name != "opt/empty" {
			assert.Equal(t, big, e.Body, e.Name)
		}
	}
	assert.Equal(t, 5, r.Files)
}

// The zip CLI writes entries without data descriptors and with its own
// extra fields; the converter must read what the common tool writes.
func TestConvertZipFromInfoZip(t *testing.T) {
	testregistry.RequireTool(t, "zip")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	require.NoError(t, os.MkdirAll(filepath.Join(src, "python", "pkg"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "python", "pkg", "m.py"), []byte(strings.Repeat("x = 1\n", 1000)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(src, "bootstrap"), []byte("#!/bin/sh\n"), 0o750))
	require.NoError(t, os.Symlink("pkg/m.py", filepath.Join(src, "python", "link.py")))
	zipPath := filepath.Join(dir, "layer.zip")
	cmd := exec.Command("zip", "-q", "-r", "-y", zipPath, ".")
	cmd.Dir = src
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	r, err := ConvertZip(context.Background(), zipPath, Options{})
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, map[string]string{
		"opt/":                "5755",
		"opt/bootstrap":       "0755",
		"opt/python/":         "5755",
		"opt/python/link.py":  "2777",
		"opt/python/pkg/":     "5755",
		"opt/python/pkg/m.py": "0644",
	}, modesByName(readResult(t, r)))
}

func TestConvertLongNamesUsePAX(t *testing.T) {
	long := strings.Repeat("d", 120) + "/" + strings.Repeat("n", 150) + ".py"
	r, err := convertBytes(t, buildZip(t, []zent{{name: long, body: "x", mode: 0o644}, {name: "l", body: strings.Repeat("t", 200), mode: fs.ModeSymlink | 0o777}}), Options{})
	require.NoError(t, err)
	rc, err := r.Layer.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var sawPAX bool
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if h.Name == "opt/"+long {
			sawPAX = h.Format == tar.FormatPAX && h.PAXRecords["path"] == h.Name
		}
		if h.Name == "opt/l" {
			assert.Equal(t, strings.Repeat("t", 200), h.Linkname)
		}
	}
	assert.True(t, sawPAX, "long name carried in a PAX record")
}

func TestConvertModTime(t *testing.T) {
	data := buildZip(t, []zent{{name: "a/b", body: "x", mode: 0o644}})
	mtimes := func(r *Result) []time.Time {
		rc, err := r.Layer.Uncompressed()
		require.NoError(t, err)
		defer rc.Close()
		tr := tar.NewReader(rc)
		var out []time.Time
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return out
			}
			require.NoError(t, err)
			out = append(out, h.ModTime)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	r, err := convertBytes(t, data, Options{})
	require.NoError(t, err)
	for _, m := range mtimes(r) {
		assert.Equal(t, int64(0), m.Unix())
	}
	def := r.Digest

	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	r, err = convertBytes(t, data, Options{})
	require.NoError(t, err)
	for _, m := range mtimes(r) {
		assert.Equal(t, int64(1700000000), m.Unix())
	}
	assert.NotEqual(t, def, r.Digest)

	r, err = convertBytes(t, data, Options{ModTime: time.Unix(1234, 999)})
	require.NoError(t, err)
	for _, m := range mtimes(r) {
		assert.Equal(t, int64(1234), m.Unix(), "explicit ModTime wins, sub-seconds dropped")
	}

	t.Setenv("SOURCE_DATE_EPOCH", "-5")
	_, err = convertBytes(t, data, Options{})
	assert.ErrorContains(t, err, "SOURCE_DATE_EPOCH")
}

// The bytes must not depend on how many blocks compress in parallel.
func TestConvertDeterministicAcrossConcurrency(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var ents []zent
	for i := range 40 {
		b := make([]byte, 100<<10)
		for j := range b {
			b[j] = "abcdefgh\n"[rng.IntN(9)]
		}
		ents = append(ents, zent{name: fmt.Sprintf("f%02d", i), body: string(b), mode: 0o644, method: zip.Deflate})
	}
	p := writeZip(t, ents)
	o, err := Options{ModTime: epoch}.resolve()
	require.NoError(t, err)
	var blobs [][]byte
	for _, conc := range []int{1, 3, 8} {
		f, err := os.Open(p)
		require.NoError(t, err)
		fi, err := f.Stat()
		require.NoError(t, err)
		r, err := convertZipFile(context.Background(), p, f, fi.Size(), o, nil, conc)
		f.Close()
		require.NoError(t, err)
		data, err := os.ReadFile(r.blobPath)
		require.NoError(t, err)
		require.Greater(t, len(data), 3*CompressionBlockSize/10, "several compression blocks")
		blobs = append(blobs, data)
		r.Close()
	}
	assert.True(t, bytes.Equal(blobs[0], blobs[1]), "concurrency 1 vs 3")
	assert.True(t, bytes.Equal(blobs[0], blobs[2]), "concurrency 1 vs 8")
}

func TestResultLayer(t *testing.T) {
	r, err := convertBytes(t, buildZip(t, []zent{{name: "x/y", body: "hello", mode: 0o644}}), Options{})
	require.NoError(t, err)
	l := r.Layer
	mt, err := l.MediaType()
	require.NoError(t, err)
	assert.Equal(t, types.OCILayer, mt)

	rc, err := l.Compressed()
	require.NoError(t, err)
	comp, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	sum := sha256.Sum256(comp)
	d, err := l.Digest()
	require.NoError(t, err)
	assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), d.String())
	assert.Equal(t, r.Digest, d)
	size, err := l.Size()
	require.NoError(t, err)
	assert.Equal(t, int64(len(comp)), size)
	assert.Equal(t, r.Size, size)

	rc, err = l.Uncompressed()
	require.NoError(t, err)
	raw, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	usum := sha256.Sum256(raw)
	diffID, err := l.DiffID()
	require.NoError(t, err)
	assert.Equal(t, "sha256:"+hex.EncodeToString(usum[:]), diffID.String())
	assert.Equal(t, int64(len(raw)), r.UncompressedSize)

	out := filepath.Join(t.TempDir(), "out.tar.gz")
	require.NoError(t, r.WriteFile(context.Background(), out))
	written, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, comp, written)

	blob := r.blobPath
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "Close twice")
	assert.NoFileExists(t, blob)
}

// ".." through a real directory of the archive is resolved lexically and
// accepted (S2 refuses it only through a symlink).
func TestConvertZipDotDotThroughDirectory(t *testing.T) {
	r, err := convertBytes(t, buildZip(t, []zent{
		{name: "a/b/", mode: fs.ModeDir | 0o755},
		{name: "a/b/../c", body: "c", mode: 0o644},
		{name: "a/l", body: "b", mode: fs.ModeSymlink | 0o777},
	}), Options{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"opt/": "5755", "opt/a/": "5755", "opt/a/b/": "5755", "opt/a/c": "0644", "opt/a/l": "2777",
	}, modesByName(readResult(t, r)))
}

// Without a cache, WriteFile puts the blob in place by a hard link from
// Options.TempDir (no second copy of the layer); with a cache it copies,
// so the output never shares a file with the cache.
func TestWriteFileLinksUncachedBlob(t *testing.T) {
	p := writeZip(t, []zent{{name: "a", body: strings.Repeat("x", 100000), mode: 0o644, method: zip.Deflate}})
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			outDir, cache := t.TempDir(), ""
			if cached {
				cache = t.TempDir()
			}
			r, err := ConvertZip(context.Background(), p, Options{TempDir: outDir, CacheDir: cache})
			require.NoError(t, err)
			out := filepath.Join(outDir, "sub.tar.gz")
			require.NoError(t, os.WriteFile(out, []byte("old"), 0o600), "an existing output is replaced")
			require.NoError(t, r.WriteFile(context.Background(), out))
			blobFI, err := os.Stat(r.blobPath)
			require.NoError(t, err)
			outFI, err := os.Stat(out)
			require.NoError(t, err)
			assert.Equal(t, !cached, os.SameFile(blobFI, outFI), "linked when uncached, copied when cached")
			assert.Equal(t, fs.FileMode(0o644), outFI.Mode().Perm())
			require.NoError(t, r.Close())
			data, err := os.ReadFile(out)
			require.NoError(t, err, "the output outlives Close")
			sum := sha256.Sum256(data)
			assert.Equal(t, r.Digest.Hex, hex.EncodeToString(sum[:]))
			ents, err := os.ReadDir(outDir)
			require.NoError(t, err)
			require.Len(t, ents, 1, "only the output is left in the output directory")
			assert.Equal(t, "sub.tar.gz", ents[0].Name())
		})
	}
}

func TestWriteFileLeavesNothingOnFailure(t *testing.T) {
	r, err := convertBytes(t, buildZip(t, []zent{{name: "a", body: "x", mode: 0o644}}), Options{})
	require.NoError(t, err)
	dir := t.TempDir()
	out := filepath.Join(dir, "layer.tar.gz")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, r.WriteFile(ctx, out), context.Canceled)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, ents)
	assert.Error(t, r.WriteFile(context.Background(), filepath.Join(dir, "missing", "layer.tar.gz")))
	ents, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, ents)
}
