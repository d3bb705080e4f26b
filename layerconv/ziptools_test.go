package layerconv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// The same files give the same layer whatever made the zip: Info-ZIP
// (directory entries, its extra fields, stored or deflated at any level),
// Python's zipfile (files only, in another order) and the directory
// itself, each from a tree with other mtimes — the content is the
// contract, not the archive.
func TestSameFilesSameDigestWhateverTheZipTool(t *testing.T) {
	testregistry.RequireTool(t, "zip", "python3")
	tree := func(t *testing.T, mtime time.Time) string {
		t.Helper()
		src := t.TempDir()
		files := map[string]string{
			"python/pkg/__init__.py": "",
			"python/pkg/m.py":        strings.Repeat("x = 1\n", 2000),
			"python/pkg/data.bin":    strings.Repeat("\x00\x01\x02", 5000),
			"bin/tool":               "#!/bin/sh\necho hi\n",
		}
		for name, body := range files {
			p := filepath.Join(src, filepath.FromSlash(name))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			mode := os.FileMode(0o644)
			if strings.HasPrefix(name, "bin/") {
				mode = 0o755
			}
			require.NoError(t, os.WriteFile(p, []byte(body), mode))
		}
		require.NoError(t, os.Symlink("pkg/m.py", filepath.Join(src, "python", "link.py")))
		require.NoError(t, filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.Mode()&os.ModeSymlink != 0 {
				return err
			}
			return os.Chtimes(p, mtime, mtime)
		}))
		return src
	}
	run := func(t *testing.T, dir string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	digest := func(t *testing.T, src string) string {
		t.Helper()
		r, err := Convert(context.Background(), src, Options{})
		require.NoError(t, err)
		defer r.Close()
		return r.Digest.String()
	}

	want := digest(t, tree(t, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)))
	for _, tc := range []struct {
		name string
		make func(t *testing.T, src, out string)
	}{
		{"info-zip deflate -9", func(t *testing.T, src, out string) { run(t, src, "zip", "-q", "-r", "-y", "-9", out, ".") }},
		{"info-zip stored", func(t *testing.T, src, out string) { run(t, src, "zip", "-q", "-r", "-y", "-0", out, ".") }},
		{"info-zip no extra fields", func(t *testing.T, src, out string) { run(t, src, "zip", "-q", "-r", "-y", "-X", out, ".") }},
		{"python zipfile, files only, reverse order", func(t *testing.T, src, out string) {
			run(t, src, "python3", "-c", `
import os, sys, zipfile
paths = []
for root, dirs, files in os.walk("."):
    for f in files:
        paths.append(os.path.join(root, f)[2:])
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for p in sorted(paths, reverse=True):
        if os.path.islink(p):
            zi = zipfile.ZipInfo(p)
            zi.create_system = 3
            zi.external_attr = 0o120777 << 16
            z.writestr(zi, os.readlink(p))
        else:
            z.write(p)
`, out)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tree(t, time.Date(2024, 6, 7, 8, 9, 10, 0, time.UTC))
			out := filepath.Join(t.TempDir(), "layer.zip")
			tc.make(t, src, out)
			require.Equal(t, want, digest(t, out))
		})
	}
}
