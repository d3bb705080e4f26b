package layerconv

import (
	"archive/tar"
	"archive/zip"
	"context"
	"debug/elf"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// elfHeader is the start of a 64-bit ELF file for machine in the given
// byte order (EI_DATA 1 little, 2 big endian), followed by filler.
func elfHeader(machine uint16, order byte, filler int) string {
	opts := []testutil.ELFOption{testutil.Filler(filler)}
	if order == 2 {
		opts = append(opts, testutil.BigEndian())
	}
	return testutil.ELFHeader(elf.Machine(machine), opts...)
}

func TestEntriesIndex(t *testing.T) {
	ents := []zent{
		{name: "bin/x86", body: elfHeader(62, 1, 0), mode: 0o755},
		// Deflated and over the copy buffer: the header arrives through the
		// inflater, the file in several writes.
		{name: "lib/libarm.so", body: elfHeader(183, 1, 600<<10), mode: 0o755, method: zip.Deflate},
		{name: "lib/ppc64", body: elfHeader(21, 2, 10), mode: 0o644},
		{name: "lib/none", body: elfHeader(0, 1, 0), mode: 0o644},
		{name: "lib/short", body: "\x7fELF\x02\x01\x01", mode: 0o644},
		{name: "lib/badorder", body: strings.Replace(elfHeader(62, 1, 0), "\x7fELF\x02\x01", "\x7fELF\x02\x07", 1), mode: 0o644},
		{name: "lib/script.sh", body: "#!/bin/sh\necho this is not an ELF file\n", mode: 0o755},
		{name: "lib/empty", body: "", mode: 0o644},
		{name: "lib/libarm.so.1", body: "libarm.so", mode: fs.ModeSymlink | 0o777},
		{name: "abs", body: "/opt/bin/x86", mode: fs.ModeSymlink | 0o777},
		{name: "data/", mode: fs.ModeDir | 0o755},
	}
	want := []Entry{
		{Path: "opt", Type: tar.TypeDir, Mode: 0o755},
		{Path: "opt/abs", Type: tar.TypeSymlink, Link: "/opt/bin/x86", Mode: 0o777},
		{Path: "opt/bin", Type: tar.TypeDir, Mode: 0o755},
		{Path: "opt/bin/x86", Type: tar.TypeReg, ELF: true, ELFMachine: 62, Mode: 0o755},
		{Path: "opt/data", Type: tar.TypeDir, Mode: 0o755},
		{Path: "opt/lib", Type: tar.TypeDir, Mode: 0o755},
		{Path: "opt/lib/badorder", Type: tar.TypeReg, Mode: 0o644},
		{Path: "opt/lib/empty", Type: tar.TypeReg, Mode: 0o644},
		{Path: "opt/lib/libarm.so", Type: tar.TypeReg, ELF: true, ELFMachine: 183, Mode: 0o755},
		{Path: "opt/lib/libarm.so.1", Type: tar.TypeSymlink, Link: "libarm.so", Mode: 0o777},
		{Path: "opt/lib/none", Type: tar.TypeReg, ELF: true, ELFMachine: 0, Mode: 0o644},
		{Path: "opt/lib/ppc64", Type: tar.TypeReg, ELF: true, ELFMachine: 21, Mode: 0o644},
		{Path: "opt/lib/script.sh", Type: tar.TypeReg, Mode: 0o755},
		{Path: "opt/lib/short", Type: tar.TypeReg, Mode: 0o644},
	}
	// Regular files record their size (and the default mtime, the epoch).
	for i := range want {
		for _, e := range ents {
			if want[i].Type == tar.TypeReg && want[i].Path == "opt/"+e.name {
				want[i].Size = int64(len(e.body))
			}
		}
	}
	p := writeZip(t, ents)
	cache := t.TempDir()
	ctx := context.Background()

	fresh, err := ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)
	require.False(t, fresh.CacheHit)
	assert.Equal(t, want, fresh.Entries)
	readResult(t, fresh) // the index is what archive/tar reads back

	hit, err := ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)
	require.True(t, hit.CacheHit)
	assert.Equal(t, want, hit.Entries)

	// A key written before the index existed (no version, no entries) must
	// be converted again, not read as a layer without entries.
	keys, err := filepath.Glob(filepath.Join(cache, "layerconv", "keys", "*.json"))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	raw, err := os.ReadFile(keys[0])
	require.NoError(t, err)
	var old map[string]any
	require.NoError(t, json.Unmarshal(raw, &old))
	require.Contains(t, old, "entries")
	delete(old, "entries")
	delete(old, "version")
	raw, err = json.Marshal(old)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keys[0], raw, 0o644))
	again, err := ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)
	assert.False(t, again.CacheHit, "an entry without the index is a miss")
	assert.Equal(t, fresh.Digest, again.Digest)
	assert.Equal(t, want, again.Entries)
	hit, err = ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)
	assert.True(t, hit.CacheHit, "the old entry was replaced")
	assert.Equal(t, want, hit.Entries)

	// Another metadata version, or an index that disagrees with the
	// counts, is a miss too.
	for name, damage := range map[string]func(*cacheMeta){
		"version": func(m *cacheMeta) { m.Version = metaVersion + 1 },
		"index":   func(m *cacheMeta) { m.Entries = m.Entries[:3] },
	} {
		raw, err = os.ReadFile(keys[0])
		require.NoError(t, err)
		var m cacheMeta
		require.NoError(t, json.Unmarshal(raw, &m))
		damage(&m)
		raw, err = json.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(keys[0], raw, 0o644))
		again, err = ConvertZip(ctx, p, Options{CacheDir: cache})
		require.NoError(t, err)
		assert.False(t, again.CacheHit, name)
		assert.Equal(t, want, again.Entries, name)
	}
}

func TestEntriesIndexDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "lib"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(elfHeader(183, 1, 100)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lib", "app.py"), []byte("print(1)\n"), 0o644))
	require.NoError(t, os.Symlink("../bootstrap", filepath.Join(dir, "lib", "boot")))
	r, err := ConvertDir(context.Background(), dir, Options{Prefix: CodePrefix})
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, []Entry{
		{Path: "var", Type: tar.TypeDir, Mode: 0o755},
		{Path: "var/task", Type: tar.TypeDir, Mode: 0o755},
		{Path: "var/task/bootstrap", Type: tar.TypeReg, ELF: true, ELFMachine: 183, Mode: 0o755, Size: int64(len(elfHeader(183, 1, 100)))},
		{Path: "var/task/lib", Type: tar.TypeDir, Mode: 0o755},
		{Path: "var/task/lib/app.py", Type: tar.TypeReg, Mode: 0o644, Size: int64(len("print(1)\n"))},
		{Path: "var/task/lib/boot", Type: tar.TypeSymlink, Link: "../bootstrap", Mode: 0o777},
	}, r.Entries)
	readResult(t, r)
}

func TestELFMachine(t *testing.T) {
	for _, tc := range []struct {
		name string
		head string
		want uint16
		ok   bool
	}{
		{"x86-64", elfHeader(62, 1, 0), 62, true},
		{"aarch64", elfHeader(183, 1, 0), 183, true},
		{"big endian", elfHeader(21, 2, 0), 21, true},
		{"exactly 20 bytes", elfHeader(62, 1, 0)[:20], 62, true},
		{"19 bytes", elfHeader(62, 1, 0)[:19], 0, false},
		{"unknown byte order", strings.Replace(elfHeader(62, 1, 0), "\x7fELF\x02\x01", "\x7fELF\x02\x00", 1), 0, false},
		{"script", "#!/bin/sh\necho hello world\n", 0, false},
	} {
		m, ok := ELFMachine([]byte(tc.head))
		assert.Equal(t, tc.ok, ok, tc.name)
		assert.Equal(t, tc.want, m, tc.name)
	}
}
