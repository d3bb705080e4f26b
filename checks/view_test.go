package checks

import (
	"archive/tar"
	"context"
	"debug/elf"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

func listing(es ...Entry) *Listing {
	return &Listing{Version: listingVersion, Compression: Gzip, Entries: es}
}
func file(p string) Entry { return Entry{Path: p, Type: tar.TypeReg, Mode: 0o644} }
func dir(p string) Entry  { return Entry{Path: p, Type: tar.TypeDir, Mode: 0o755} }
func link(p, target string) Entry {
	return Entry{Path: p, Type: tar.TypeSymlink, Link: target, Mode: 0o777}
}
func elfFile(p string, m elf.Machine) Entry {
	return Entry{Path: p, Type: tar.TypeReg, Mode: 0o755, ELF: true, Machine: uint16(m)}
}

func TestViewWhiteouts(t *testing.T) {
	lower := listing(dir("opt"), dir("opt/a"), file("opt/a/x.py"), file("opt/b.py"), link("opt/c", "b.py"), dir("var"), dir("var/task"), file("var/task/app.py"))
	v := Merge([]*Listing{lower})
	assert.True(t, v.Exists("/opt/a/x.py"))
	assert.True(t, v.Exists("/opt/c"), "symlinks count as present")
	assert.False(t, v.Exists("/opt/a"), "directories are not modules")

	upper := listing(
		dir("opt"), dir("opt/a"),
		file("opt/a/.wh..wh..opq"),       // hides opt/a's lower contents
		file("opt/a/new.py"),             // but this layer's own entries stay
		file("opt/.wh.b.py"),             // deletes the file
		dir("var"), file("var/.wh.task"), // deletes a whole tree
		dir("opt/c"), // a dir replaces the symlink
		file("opt/c/inner.py"),
	)
	v = Merge([]*Listing{lower, upper})
	assert.False(t, v.Exists("/opt/a/x.py"))
	assert.True(t, v.Exists("/opt/a/new.py"))
	assert.False(t, v.Exists("/opt/b.py"))
	assert.False(t, v.Exists("/var/task/app.py"))
	assert.True(t, v.Exists("/opt/c/inner.py"))
	_, ok := v.Lookup("/opt/a/.wh..wh..opq")
	assert.False(t, ok, "markers are not files")
	assert.Equal(t, []string{"/opt/a/new.py"}, v.Glob("/opt/a/*.py"))
	n, ok := v.Lookup("/opt/c/inner.py")
	require.True(t, ok)
	assert.Equal(t, 1, n.Layer, "the node remembers its layer")
}

// The merged view applies whiteouts, opaque directories and type changes
// the way the container's overlay does: what the architecture rule sees.
func TestViewELF(t *testing.T) {
	arm, x86 := elf.EM_AARCH64, elf.EM_X86_64
	lower := listing(dir("opt"), dir("opt/a"), elfFile("opt/a/x.so", arm), dir("opt/a/b"), elfFile("opt/a/b/y.so", arm), dir("opt/c"), elfFile("opt/c/z.so", arm), elfFile("opt/w.so", arm))
	elfs := func(v *View) map[string]elf.Machine {
		out := map[string]elf.Machine{}
		v.Walk(func(p string, n Node) {
			if n.ELF {
				out[p] = elf.Machine(n.Machine)
			}
		})
		return out
	}
	all := map[string]elf.Machine{"/opt/a/x.so": arm, "/opt/a/b/y.so": arm, "/opt/c/z.so": arm, "/opt/w.so": arm}
	without := func(ps ...string) map[string]elf.Machine {
		out := map[string]elf.Machine{}
		for k, v := range all {
			out[k] = v
		}
		for _, p := range ps {
			delete(out, p)
		}
		return out
	}
	with := func(m map[string]elf.Machine, p string, mach elf.Machine) map[string]elf.Machine {
		m[p] = mach
		return m
	}
	for _, tc := range []struct {
		name  string
		upper *Listing
		want  map[string]elf.Machine
	}{
		{"nothing above", listing(), all},
		{"whiteout of a directory", listing(dir("opt"), dir("opt/a"), file("opt/a/.wh.b")), without("/opt/a/b/y.so")},
		{"whiteout of a file", listing(dir("opt"), file("opt/.wh.w.so")), without("/opt/w.so")},
		{"opaque directory", listing(dir("opt"), dir("opt/a"), file("opt/a/.wh..wh..opq"), elfFile("opt/a/new.so", x86)),
			with(without("/opt/a/x.so", "/opt/a/b/y.so"), "/opt/a/new.so", x86)},
		{"file replaces a directory", listing(dir("opt"), file("opt/c")), without("/opt/c/z.so")},
		{"symlink replaces a file", listing(dir("opt"), link("opt/w.so", "a/x.so")), without("/opt/w.so")},
		{"directory replaces a file", listing(dir("opt"), dir("opt/w.so")), without("/opt/w.so")},
		{"ELF replaced by ELF", listing(dir("opt"), elfFile("opt/w.so", x86)), with(without(), "/opt/w.so", x86)},
		{"a whiteout never hides its own layer's file", listing(dir("opt"), file("opt/.wh.w.so"), elfFile("opt/w.so", x86)), with(without(), "/opt/w.so", x86)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, elfs(Merge([]*Listing{lower, tc.upper})))
		})
	}
}

// The listing built from layerconv's index is the listing a decompression
// of the layer gives, for a fresh conversion and for a cache hit, zip and
// directory.
func TestListingFromIndexMatchesReadLayer(t *testing.T) {
	files := []basegen.File{
		testutil.F("python/app.py", 0o644, "def handler(e, c):\n    return 1\n"),
		testutil.F("python/native.so", 0o755, testutil.ELFHeader(elf.EM_X86_64)),
		testutil.F("bin/arm", 0o755, testutil.ELFHeader(elf.EM_AARCH64)),
		testutil.F("bin/short", 0o755, "\x7fELF\x02\x01"),
		testutil.F("bin/script", 0o755, "#!/bin/sh\nexec true with a long enough line\n"),
		testutil.Symlink("lib/libx.so", "../python/native.so"),
		testutil.Symlink("abs", "/var/task/app.py"),
		testutil.Dir("empty/"),
		// No whiteouts: layerconv refuses .wh. names (they would delete
		// lower-layer files), so an added layer never holds one.
	}
	ctx := context.Background()
	cache := t.TempDir()
	zipPath := testutil.WriteZip(t, "layer.zip", files...)
	dirPath := testutil.WriteDir(t, files...)
	for _, tc := range []struct {
		name, src, prefix string
		hit               bool
	}{
		{"zip", zipPath, "/opt", false},
		{"zip from the cache", zipPath, "/opt", true},
		{"directory", dirPath, "/var/task", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := layerconv.Convert(ctx, tc.src, layerconv.Options{Prefix: tc.prefix, CacheDir: cache, ModTime: testutil.FixedTime})
			require.NoError(t, err)
			defer res.Close()
			require.Equal(t, tc.hit, res.CacheHit)
			want, err := ReadLayer(ctx, res.Layer)
			require.NoError(t, err)
			kinds := map[byte]int{}
			elfs := 0
			for _, e := range want.Entries {
				kinds[e.Type]++
				if e.ELF {
					elfs++
				}
			}
			require.Equal(t, 2, elfs, "the fixture has two ELF files")
			for _, k := range []byte{tar.TypeDir, tar.TypeReg, tar.TypeSymlink} {
				require.Positive(t, kinds[k], "fixture covers kind %q", k)
			}
			assert.Equal(t, want, ListingFromIndex(res))
		})
	}
}
