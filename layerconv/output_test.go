package layerconv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// outputSpellings names the input zip at dir/in.zip in ways that are the
// same file whatever the name: the path itself, a ../ detour, a hard link
// and a symlink to it.
var outputSpellings = []struct {
	name string
	make func(t *testing.T, dir string) string // returns the output path
}{
	{"same path", func(t *testing.T, dir string) string { return filepath.Join(dir, "in.zip") }},
	{"../ spelling", func(t *testing.T, dir string) string {
		return filepath.Join(dir, "..", filepath.Base(dir)) + "/./in.zip"
	}},
	{"hard link", func(t *testing.T, dir string) string {
		p := filepath.Join(dir, "link.zip")
		require.NoError(t, os.Link(filepath.Join(dir, "in.zip"), p))
		return p
	}},
	{"symlink", func(t *testing.T, dir string) string {
		p := filepath.Join(dir, "sym.zip")
		require.NoError(t, os.Symlink("in.zip", p))
		return p
	}},
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// WriteFile never replaces the file it converted: same device and inode,
// whatever the output's name.
func TestWriteFileRefusesTheInput(t *testing.T) {
	data := buildZip(t, []zent{{name: "python/app.py", body: "print(1)\n", mode: 0o644}})
	for _, sp := range outputSpellings {
		for _, cached := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/cached=%v", sp.name, cached), func(t *testing.T) {
				dir := t.TempDir()
				in := filepath.Join(dir, "in.zip")
				require.NoError(t, os.WriteFile(in, data, 0o644))
				out := sp.make(t, dir)
				before := dirNames(t, dir)
				opts := Options{TempDir: dir}
				if cached {
					opts.CacheDir = t.TempDir()
				}
				r, err := ConvertZip(context.Background(), in, opts)
				require.NoError(t, err)
				err = r.WriteFile(context.Background(), out)
				require.NoError(t, r.Close())
				require.ErrorIs(t, err, ErrOutputIsInput)
				assert.Equal(t, fmt.Sprintf("layerconv: write %s: would overwrite the input %s (the same file)", out, in), err.Error())
				got, err := os.ReadFile(in)
				require.NoError(t, err)
				assert.True(t, bytes.Equal(data, got), "the input is intact")
				assert.Equal(t, before, dirNames(t, dir), "nothing added or removed")
			})
		}
	}
}

// CheckOutput tells before converting what WriteFile would refuse after.
func TestCheckOutput(t *testing.T) {
	data := buildZip(t, []zent{{name: "a", body: "x", mode: 0o644}})
	for _, sp := range outputSpellings {
		t.Run(sp.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.zip")
			require.NoError(t, os.WriteFile(in, data, 0o644))
			out := sp.make(t, dir)
			err := CheckOutput(in, out)
			require.ErrorIs(t, err, ErrOutputIsInput)
			assert.Equal(t, fmt.Sprintf("layerconv: write %s: would overwrite the input %s (the same file)", out, in), err.Error())
		})
	}
	others := []struct {
		name string
		make func(t *testing.T, dir string) string
	}{
		{"missing output", func(t *testing.T, dir string) string { return filepath.Join(dir, "out.tar.gz") }},
		{"a copy", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "copy.zip")
			require.NoError(t, os.WriteFile(p, data, 0o644))
			return p
		}},
		{"missing parent", func(t *testing.T, dir string) string { return filepath.Join(dir, "no", "out.tar.gz") }},
	}
	for _, o := range others {
		t.Run(o.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.zip")
			require.NoError(t, os.WriteFile(in, data, 0o644))
			assert.NoError(t, CheckOutput(in, o.make(t, dir)))
		})
	}
	t.Run("missing input", func(t *testing.T) {
		// Converting will say what is wrong with it.
		dir := t.TempDir()
		assert.NoError(t, CheckOutput(filepath.Join(dir, "nope.zip"), filepath.Join(dir, "out")))
	})
}
