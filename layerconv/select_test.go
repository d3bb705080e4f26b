package layerconv

import (
	"archive/tar"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vendoredCode is function code with its dependencies beside it: a
// node_modules tree (a symlink and an empty directory in it), a package
// selected file by file (as a dist-info RECORD lists them) under an
// explicit directory entry, and an empty application directory.
func vendoredCode() []zent {
	return []zent{
		{name: "index.js", body: "exports.handler = async () => 1;\n", mode: 0o644},
		{name: "lib/", mode: fs.ModeDir | 0o755},
		{name: "lib/util.js", body: "module.exports = {};\n", mode: 0o600},
		{name: "node_modules/", mode: fs.ModeDir | 0o755},
		{name: "node_modules/ms/index.js", body: "module.exports = ms;\n", mode: 0o644},
		{name: "node_modules/ms/cli", body: "#!/bin/sh\n", mode: 0o700},
		{name: "node_modules/.bin/ms", body: "../ms/cli", mode: fs.ModeSymlink | 0o777},
		{name: "node_modules/empty/", mode: fs.ModeDir | 0o755},
		{name: "data/", mode: fs.ModeDir | 0o755},
		{name: "pkg/", mode: fs.ModeDir | 0o700},
		{name: "pkg/a.py", body: "a = 1\n", mode: 0o644},
		{name: "pkg/sub/b.py", body: "b = 1\n", mode: 0o755},
		{name: "./conf//app.json", body: `{"a":1}`},
	}
}

func splitOf(t *testing.T, src string, paths ...string) (deps, app *Result, whole *Result) {
	t.Helper()
	ctx := context.Background()
	var err error
	whole, err = Convert(ctx, src, Options{Prefix: CodePrefix})
	require.NoError(t, err)
	t.Cleanup(func() { whole.Close() })
	deps, err = Convert(ctx, src, Options{Prefix: CodePrefix, Select: &Selection{Paths: paths}})
	require.NoError(t, err)
	t.Cleanup(func() { deps.Close() })
	app, err = Convert(ctx, src, Options{Prefix: CodePrefix, Select: &Selection{Paths: paths, Exclude: true}})
	require.NoError(t, err)
	t.Cleanup(func() { app.Close() })
	return deps, app, whole
}

func layerEntries(t *testing.T, r *Result) []tent {
	t.Helper()
	rc, err := r.Layer.Compressed()
	require.NoError(t, err)
	defer rc.Close()
	return readTarGz(t, rc)
}

// merge applies layers in order the way an unpacker does.
func merge(layers ...[]tent) map[string]tent {
	m := map[string]tent{}
	for _, l := range layers {
		for _, e := range l {
			m[strings.TrimSuffix(e.Name, "/")] = e
		}
	}
	return m
}

// The two layers of a split are the one-layer conversion: same merged
// tree (modes, links, contents, directories), every file in exactly one
// layer, every parent directory in the layer that needs it, and a
// directory whose contents all went elsewhere not repeated. For zips and
// directories alike.
func TestSelectionSplitsIntoTheSameTree(t *testing.T) {
	zipPath := writeZip(t, vendoredCode())
	dir := dirOf(t, vendoredCode())
	for _, tc := range []struct{ name, src string }{{"zip", zipPath}, {"dir", dir}} {
		t.Run(tc.name, func(t *testing.T) {
			deps, app, whole := splitOf(t, tc.src, "node_modules", "pkg/a.py", "pkg/sub/b.py")
			de, ae, we := layerEntries(t, deps), layerEntries(t, app), layerEntries(t, whole)
			assert.Equal(t, merge(we), merge(de, ae), "deps then app is the one-layer tree")

			names := func(es []tent) []string {
				var out []string
				for _, e := range es {
					out = append(out, e.Name)
				}
				return out
			}
			assert.Equal(t, []string{"var/", "var/task/", "var/task/node_modules/", "var/task/node_modules/.bin/",
				"var/task/node_modules/.bin/ms", "var/task/node_modules/empty/", "var/task/node_modules/ms/",
				"var/task/node_modules/ms/cli", "var/task/node_modules/ms/index.js",
				"var/task/pkg/", "var/task/pkg/a.py", "var/task/pkg/sub/", "var/task/pkg/sub/b.py"}, names(de))
			assert.Equal(t, []string{"var/", "var/task/", "var/task/conf/", "var/task/conf/app.json", "var/task/data/",
				"var/task/index.js", "var/task/lib/", "var/task/lib/util.js"}, names(ae),
				"node_modules/ and pkg/ are not repeated in the application layer; the empty data/ stays there")
			for _, e := range de {
				if e.Type != tar.TypeDir {
					assert.NotContains(t, names(ae), e.Name, "a file is in one layer only")
				}
			}
			assert.Equal(t, whole.Files, deps.Files+app.Files)
			assert.Equal(t, whole.Symlinks, deps.Symlinks+app.Symlinks)
		})
	}
}

// The dependency layer depends only on the dependency files: editing the
// handler (and writing the zip in another order) keeps its digest, while
// the application layer changes.
func TestSelectionDependencyLayerSurvivesAnEdit(t *testing.T) {
	before := vendoredCode()
	after := append([]zent{}, vendoredCode()...)
	after[0].body = "exports.handler = async () => 2;\n"
	for i, j := 0, len(after)-1; i < j; i, j = i+1, j-1 {
		after[i], after[j] = after[j], after[i]
	}
	d1, a1, _ := splitOf(t, writeZip(t, before), "node_modules")
	d2, a2, _ := splitOf(t, writeZip(t, after), "node_modules")
	assert.Equal(t, d1.Digest, d2.Digest)
	assert.NotEqual(t, a1.Digest, a2.Digest)
}

// A selection is part of the cache key: the same zip converted whole, as
// dependencies and as the rest gives three entries, each a hit the second
// time with the digest of its own first conversion.
func TestSelectionCacheKey(t *testing.T) {
	src := writeZip(t, vendoredCode())
	cache := t.TempDir()
	ctx := context.Background()
	opts := []Options{
		{Prefix: CodePrefix, CacheDir: cache},
		{Prefix: CodePrefix, CacheDir: cache, Select: &Selection{Paths: []string{"node_modules"}}},
		{Prefix: CodePrefix, CacheDir: cache, Select: &Selection{Paths: []string{"node_modules"}, Exclude: true}},
	}
	first := map[string]bool{}
	var digests []string
	for _, o := range opts {
		r, err := ConvertZip(ctx, src, o)
		require.NoError(t, err)
		assert.False(t, r.CacheHit)
		digests = append(digests, r.Digest.String())
		first[r.Digest.String()] = true
		r.Close()
	}
	assert.Len(t, first, 3)
	for i, o := range opts {
		r, err := ConvertZip(ctx, src, o)
		require.NoError(t, err)
		assert.True(t, r.CacheHit)
		assert.Equal(t, digests[i], r.Digest.String())
		r.Close()
	}
}

func TestSelectionRefusals(t *testing.T) {
	src := writeZip(t, vendoredCode())
	for _, p := range []string{"", ".", "/node_modules", "a/../b", "../x", "node_modules/"} {
		_, err := Convert(context.Background(), src, Options{Select: &Selection{Paths: []string{p}}})
		assert.ErrorContains(t, err, "selection path", p)
	}
	// The whole input is validated whatever is selected.
	bad := append(vendoredCode(), zent{name: "node_modules/ms/../../../x", body: "x"})
	_, err := Convert(context.Background(), writeZip(t, bad), Options{Select: &Selection{Paths: []string{"lib"}}})
	assert.ErrorIs(t, err, ErrPathEscapes)
}

func TestListAndReadInputFile(t *testing.T) {
	src := writeZip(t, vendoredCode())
	ctx := context.Background()
	es, err := List(ctx, src, Options{Prefix: CodePrefix})
	require.NoError(t, err)
	var got []string
	for _, e := range es {
		n := e.Name
		if e.Dir {
			n += "/"
		}
		got = append(got, n)
	}
	assert.Equal(t, []string{"conf/", "conf/app.json", "data/", "index.js", "lib/", "lib/util.js", "node_modules/",
		"node_modules/.bin/", "node_modules/.bin/ms", "node_modules/empty/", "node_modules/ms/", "node_modules/ms/cli",
		"node_modules/ms/index.js", "pkg/", "pkg/a.py", "pkg/sub/", "pkg/sub/b.py"}, got, "normalised, sorted, synthesised parents included")

	for _, src := range []string{src, dirOf(t, vendoredCode())} {
		m, err := ReadInputFiles(ctx, src, []string{"conf/app.json", "pkg/a.py", "nope", "lib"}, 100)
		require.NoError(t, err)
		assert.Equal(t, map[string][]byte{"conf/app.json": []byte(`{"a":1}`), "pkg/a.py": []byte("a = 1\n")}, m,
			"found by normalised names; missing names and directories left out")
		_, err = ReadInputFiles(ctx, src, []string{"conf/app.json"}, 3)
		assert.ErrorIs(t, err, ErrTooLarge)
	}
}

// dirOf writes the zip entries as a directory tree.
func dirOf(t *testing.T, ents []zent) string {
	t.Helper()
	dir := t.TempDir()
	for _, e := range ents {
		p := filepath.Join(dir, filepath.FromSlash(e.name))
		switch {
		case e.mode&fs.ModeDir != 0:
			require.NoError(t, os.MkdirAll(p, 0o755))
		case e.mode&fs.ModeSymlink != 0:
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.Symlink(e.body, p))
		default:
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			mode := e.mode.Perm()
			if mode == 0 {
				mode = 0o644
			}
			require.NoError(t, os.WriteFile(p, []byte(e.body), mode))
		}
	}
	return dir
}
