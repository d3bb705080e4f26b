package layerconv

import (
	"archive/zip"
	"context"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// DeclaredSize is what Options.MaxSize is checked against, told without
// converting: a budget across inputs can be checked before any of them is.
func TestDeclaredSize(t *testing.T) {
	mkdir := func(t *testing.T, files map[string]string, links map[string]string) string {
		d := t.TempDir()
		for name, body := range files {
			p := filepath.Join(d, name)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		}
		for name, target := range links {
			p := filepath.Join(d, name)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.Symlink(target, p))
		}
		return d
	}
	tests := []struct {
		name string
		make func(t *testing.T) string
		want int64
		// converts: Convert at MaxSize want succeeds and at want-1 is
		// refused with ErrTooLarge (the two counts agree).
		converts bool
	}{
		{"zip: files and a symlink", func(t *testing.T) string {
			return writeZip(t, []zent{
				{name: "a", body: strings.Repeat("a", 1000), mode: 0o644, method: zip.Deflate},
				{name: "d/", mode: fs.ModeDir | 0o755},
				{name: "d/b", body: "bb", mode: 0o644},
				{name: "d/l", body: "../a", mode: fs.ModeSymlink | 0o777},
			})
		}, 1006, true},
		{"zip: litter counts, as layerconv counts it", func(t *testing.T) string {
			return writeZip(t, []zent{{name: "a", body: "aaa", mode: 0o644}, {name: "__MACOSX/._a", body: "xy"}})
		}, 5, true},
		{"zip: empty", func(t *testing.T) string { return writeZip(t, nil) }, 0, false},
		{"zip: declared, not inflated", func(t *testing.T) string {
			return writeZip(t, []zent{{name: "bomb", comp: "\xff\xffnot deflate", mode: 0o644, method: zip.Deflate, raw: true, usize: 20 << 30}})
		}, 20 << 30, false},
		{"zip: overflow saturates", func(t *testing.T) string {
			return writeZip(t, []zent{
				{name: "a", comp: "x", mode: 0o644, method: zip.Deflate, raw: true, usize: 1 << 62},
				{name: "b", comp: "x", mode: 0o644, method: zip.Deflate, raw: true, usize: 1 << 62},
				{name: "c", comp: "x", mode: 0o644, method: zip.Deflate, raw: true, usize: math.MaxUint64 - 5},
			})
		}, math.MaxInt64, false},
		{"zip: one entry over MaxInt64", func(t *testing.T) string {
			return writeZip(t, []zent{
				{name: "a", body: "abc", mode: 0o644},
				{name: "b", comp: "x", mode: 0o644, method: zip.Deflate, raw: true, usize: math.MaxUint64 - 1},
			})
		}, math.MaxInt64, false},
		{"directory: files and symlink targets", func(t *testing.T) string {
			return mkdir(t, map[string]string{"app.py": "12345", "lib/x.so": "1234567890"}, map[string]string{"lib/l": "x.so", "abs": "/etc/passwd"})
		}, 5 + 10 + 4 + 11, true},
		{"directory: litter left out, as layerconv leaves it", func(t *testing.T) string {
			return mkdir(t, map[string]string{"a": "aaa", "__MACOSX/._a": "junk", "d/._b": "junk"}, map[string]string{"._l": "target"})
		}, 3, true},
		{"directory: a link to a directory is not followed", func(t *testing.T) string {
			return mkdir(t, map[string]string{"a": "aa"}, map[string]string{"usr": "/usr"})
		}, 2 + 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.make(t)
			n, err := DeclaredSize(p)
			require.NoError(t, err)
			assert.Equal(t, tt.want, n)
			if !tt.converts {
				return
			}
			r, err := Convert(context.Background(), p, Options{MaxSize: n, TempDir: t.TempDir()})
			require.NoError(t, err, "at MaxSize = DeclaredSize")
			r.Close()
			_, err = Convert(context.Background(), p, Options{MaxSize: n - 1, TempDir: t.TempDir()})
			assert.ErrorIs(t, err, ErrTooLarge, "at MaxSize = DeclaredSize - 1")
		})
	}
}

func TestDeclaredSizeErrors(t *testing.T) {
	dir := t.TempDir()
	notZip := filepath.Join(dir, "x.zip")
	require.NoError(t, os.WriteFile(notZip, []byte("not a zip"), 0o644))
	unreadable := filepath.Join(dir, "sub")
	require.NoError(t, os.MkdirAll(filepath.Join(unreadable, "locked"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(unreadable, "locked"), 0))
	t.Cleanup(func() { os.Chmod(filepath.Join(unreadable, "locked"), 0o755) })
	tests := []struct {
		name, path string
		want       error
		msg        string
	}{
		{"missing", filepath.Join(dir, "nope.zip"), fs.ErrNotExist, "layerconv: "},
		{"not a zip", notZip, ErrCorrupt, "layerconv: " + notZip + ": truncated or corrupt archive"},
		{"unreadable directory", unreadable, fs.ErrPermission, "layerconv: " + unreadable + ": entry \"locked\": "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == fs.ErrPermission && os.Geteuid() == 0 {
				t.Skip("root reads any directory")
			}
			n, err := DeclaredSize(tt.path)
			assert.Zero(t, n)
			assert.ErrorIs(t, err, tt.want)
			assert.ErrorContains(t, err, tt.msg)
		})
	}
}
