package image

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

func TestFSViewWhiteouts(t *testing.T) {
	v := fsView{}
	v.apply(&layerScan{Entries: []scanEntry{
		{Path: "opt", Type: entDir}, {Path: "opt/a", Type: entDir}, {Path: "opt/a/x.py", Type: entFile},
		{Path: "opt/b.py", Type: entFile}, {Path: "opt/c", Type: entSymlink, Link: "b.py"},
		{Path: "var/task/app.py", Type: entFile},
	}})
	assert.True(t, v.exists("/opt/a/x.py"))
	assert.True(t, v.exists("/opt/c"), "symlinks count as present")
	assert.False(t, v.exists("/opt/a"), "directories are not modules")

	v.apply(&layerScan{Entries: []scanEntry{
		{Path: "opt/a", Type: entOpaque},      // hides opt/a's lower contents
		{Path: "opt/a/new.py", Type: entFile}, // but this layer's own entries stay
		{Path: "opt/b.py", Type: entWhiteout}, // deletes the file
		{Path: "var/task", Type: entWhiteout}, // deletes a whole tree
		{Path: "opt/c", Type: entDir},         // a dir replaces the symlink
		{Path: "opt/c/inner.py", Type: entFile},
	}})
	assert.False(t, v.exists("/opt/a/x.py"))
	assert.True(t, v.exists("/opt/a/new.py"))
	assert.False(t, v.exists("/opt/b.py"))
	assert.False(t, v.exists("/var/task/app.py"))
	assert.True(t, v.exists("/opt/c/inner.py"))
	assert.ElementsMatch(t, []string{"/opt/a/new.py"}, v.glob("/opt/a/*.py"))
}

func TestELFMachine(t *testing.T) {
	m, ok := elfMachine([]byte(elf(elfMachineAArch64)))
	assert.True(t, ok)
	assert.Equal(t, uint16(elfMachineAArch64), m)

	be := []byte(elf(0))
	be[5] = 2              // big endian
	be[18], be[19] = 0, 21 // PowerPC64
	m, ok = elfMachine(be)
	assert.True(t, ok)
	assert.Equal(t, uint16(21), m)
	assert.Equal(t, "e_machine 21", elfMachineName(m))

	_, ok = elfMachine([]byte("#!/bin/sh\necho not an ELF file"))
	assert.False(t, ok)
	_, ok = elfMachine([]byte("\x7fELF"))
	assert.False(t, ok, "too short to hold e_machine")
}

func TestMatchesPrefix(t *testing.T) {
	pre := []string{"opt/", "var/runtime/bootstrap"}
	for p, want := range map[string]bool{
		"opt": true, "opt/x": true, "optx": false, "var/runtime/bootstrap": true,
		"var/runtime/bootstrap.d": false, "var/runtime": false,
	} {
		assert.Equal(t, want, matchesPrefix(p, pre), p)
	}
	assert.True(t, matchesPrefix("anything", []string{""}))
}

// The scan built from layerconv's index is the scan a decompression of the
// layer gives, for a fresh conversion and for a cache hit, zip and directory.
func TestScanFromIndexMatchesScanLayer(t *testing.T) {
	files := []basegen.File{
		f("python/app.py", 0o644, "def handler(e, c):\n    return 1\n"),
		f("python/native.so", 0o755, elf(elfMachineX8664)),
		f("bin/arm", 0o755, elf(elfMachineAArch64)),
		f("bin/short", 0o755, "\x7fELF\x02\x01"),
		f("bin/script", 0o755, "#!/bin/sh\nexec true with a long enough line\n"),
		sym("lib/libx.so", "../python/native.so"),
		sym("abs", "/var/task/app.py"),
		d("empty/"),
		// No whiteouts: layerconv refuses .wh. names (they would delete
		// lower-layer files), so an added layer never holds one.
	}
	ctx := context.Background()
	cache := t.TempDir()
	zipPath := writeZip(t, "layer.zip", files...)
	dirPath := writeDir(t, files...)
	for _, tc := range []struct {
		name, src, prefix string
		hit               bool
	}{
		{"zip", zipPath, "/opt", false},
		{"zip from the cache", zipPath, "/opt", true},
		{"directory", dirPath, "/var/task", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := layerconv.Convert(ctx, tc.src, layerconv.Options{Prefix: tc.prefix, CacheDir: cache, ModTime: fixedTime})
			require.NoError(t, err)
			defer res.Close()
			require.Equal(t, tc.hit, res.CacheHit)
			want, err := scanLayer(ctx, res.Layer, []string{""}, true)
			require.NoError(t, err)
			require.Len(t, want.ELF, 2, "the fixture has two ELF files")
			kinds := map[string]int{}
			for _, e := range want.Entries {
				kinds[e.Type]++
			}
			for _, k := range []string{entDir, entFile, entSymlink} {
				require.Positive(t, kinds[k], "fixture covers kind %q", k)
			}
			assert.Equal(t, want, scanFromIndex(res))
		})
	}
}

// Added layers are listed from layerconv's index, never decompressed: the
// scan cache (written for every layer the scanner reads) holds only the
// base layers, and on a cache hit the layer blob is opened exactly once,
// by layerconv's digest check (inotify counts the opens, so no hook in
// the build is needed and none can be bypassed).
func TestBuildDoesNotDecompressAddedLayers(t *testing.T) {
	cache := t.TempDir()
	base := baseImage(t, "x86_64")
	opts := demoOpts(t, base)
	opts.CacheDir = cache
	first := mustBuild(t, opts)

	baseLayers, err := base.Layers()
	require.NoError(t, err)
	var want []string
	for _, l := range baseLayers {
		d, err := l.Digest()
		require.NoError(t, err)
		want = append(want, d.Algorithm+"-"+d.Hex+".json")
	}
	scans, err := filepath.Glob(filepath.Join(cache, "layer-scan", "*", "*.json"))
	require.NoError(t, err)
	var got []string
	for _, s := range scans {
		got = append(got, filepath.Base(s))
	}
	assert.ElementsMatch(t, want, got, "only base layers were scanned")

	blobs, err := filepath.Glob(filepath.Join(cache, "layerconv", "blobs", "sha256", "*"))
	require.NoError(t, err)
	require.Len(t, blobs, 1, "the layer zip is cached (the code directory is not)")
	// Without its scan cache, a build that lists the added layer by
	// decompressing it has to open the blob again.
	require.NoError(t, os.RemoveAll(filepath.Join(cache, "layer-scan")))

	w := watchOpens(t, blobs[0])
	second, err := Build(context.Background(), opts)
	require.NoError(t, err)
	defer second.Close()
	assert.Equal(t, 1, w.opens(t), "the blob is opened once, by layerconv's cache-hit check (hash, no inflating), never by the build")
	assert.Equal(t, first.Digest, second.Digest)
	added := second.Layers[len(baseLayers)]
	assert.True(t, added.CacheHit)
	want1 := first.Layers[len(baseLayers)]
	want1.CacheHit = true
	assert.Equal(t, want1, added)

	// Control: the watch sees an open the way the build would make it.
	f, err := os.Open(blobs[0])
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, 1, w.opens(t), "control")
}
