package layerconv

import (
	"archive/tar"
	"archive/zip"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// parsePerm turns "rwxr-xr-x" into 0755.
func parsePerm(t *testing.T, s string) int64 {
	t.Helper()
	require.Len(t, s, 9)
	var m int64
	for i, c := range s {
		if c != '-' {
			m |= 1 << (8 - i)
		}
	}
	return m
}

// TestGNUTarReadsLayers reads layers back with GNU tar, an independent
// implementation, and compares names, types, modes, owners and link targets
// with what archive/tar sees; then extracts them.
func TestGNUTarReadsLayers(t *testing.T) {
	testregistry.RequireTool(t, "tar")
	long := "python/lib/python3.12/site-packages/" + strings.Repeat("verylongpackagename", 8) + "/module_with_a_long_name.py"
	r, err := convertBytes(t, buildZip(t, []zent{
		{name: long, body: "print(1)\n", mode: 0o600, method: zip.Deflate},
		{name: "bin/tool", body: "#!/bin/sh\necho hi\n", mode: 0o700},
		{name: "lib/libx.so.1", body: "\x7fELF", mode: 0o755},
		{name: "lib/libx.so", body: "libx.so.1", mode: fs.ModeSymlink | 0o777},
		{name: "lib/abs", body: "/var/task/lib", mode: fs.ModeSymlink | 0o777},
		{name: "empty/", mode: fs.ModeDir | 0o700},
		{name: "bootstrap", body: "#!/bin/sh\n"},
	}), Options{ModTime: epoch})
	require.NoError(t, err)
	want := readResult(t, r)

	out := filepath.Join(t.TempDir(), "layer.tar.gz")
	require.NoError(t, r.WriteFile(t.Context(), out))
	cmd := exec.Command("tar", "--numeric-owner", "-tvzf", out)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	listing, err := cmd.CombinedOutput()
	require.NoError(t, err, string(listing))

	var got []tent
	for _, line := range strings.Split(strings.TrimSpace(string(listing)), "\n") {
		f := strings.Fields(line)
		require.GreaterOrEqual(t, len(f), 6, line)
		assert.Equal(t, "0/0", f[1], line)
		assert.Equal(t, "1970-01-01", f[3], line)
		e := tent{Name: f[5], Mode: parsePerm(t, f[0][1:])}
		switch f[0][0] {
		case 'd':
			e.Type = tar.TypeDir
		case 'l':
			e.Type = tar.TypeSymlink
			require.Len(t, f, 8, line)
			require.Equal(t, "->", f[6])
			e.Linkname = f[7]
		case '-':
			e.Type = tar.TypeReg
		default:
			t.Fatalf("unexpected type in %q", line)
		}
		got = append(got, e)
	}
	for i := range want {
		want[i].Body = ""
	}
	assert.Equal(t, want, got)

	// Extraction gives the same tree, with the modes asked for.
	dest := t.TempDir()
	cmd = exec.Command("tar", "-xzf", out, "-C", dest)
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, string(msg))
	fi, err := os.Lstat(filepath.Join(dest, "opt", "bin", "tool"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o755), fi.Mode().Perm())
	target, err := os.Readlink(filepath.Join(dest, "opt", "lib", "libx.so"))
	require.NoError(t, err)
	assert.Equal(t, "libx.so.1", target)
	body, err := os.ReadFile(filepath.Join(dest, "opt", long))
	require.NoError(t, err)
	assert.Equal(t, "print(1)\n", string(body))
}
