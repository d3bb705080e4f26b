package layerconv

import (
	"archive/tar"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mkTree(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	must := func(err error) { t.Helper(); require.NoError(t, err) }
	must(os.WriteFile(filepath.Join(d, "app.py"), []byte("def handler(e, c): pass\n"), 0o600))
	must(os.MkdirAll(filepath.Join(d, "bin"), 0o700))
	must(os.WriteFile(filepath.Join(d, "bin", "run"), []byte("#!/bin/sh\n"), 0o700))
	must(os.Chmod(filepath.Join(d, "bin"), 0o700))
	must(os.MkdirAll(filepath.Join(d, "lib"), 0o755))
	must(os.Symlink("../app.py", filepath.Join(d, "lib", "link.py")))
	must(os.Symlink("/etc/passwd", filepath.Join(d, "lib", "passwd")))
	must(os.Symlink("/usr", filepath.Join(d, "usr"))) // a link to a directory outside: kept, not walked
	must(os.Link(filepath.Join(d, "app.py"), filepath.Join(d, "lib", "hard.py")))
	must(os.MkdirAll(filepath.Join(d, "__MACOSX"), 0o755))
	must(os.WriteFile(filepath.Join(d, "__MACOSX", "._app.py"), []byte("junk"), 0o644))
	must(os.WriteFile(filepath.Join(d, "lib", "._link.py"), []byte("junk"), 0o644))
	return d
}

func TestConvertDir(t *testing.T) {
	d := mkTree(t)
	r, err := Convert(context.Background(), d, Options{Prefix: CodePrefix})
	require.NoError(t, err)
	defer r.Close()
	got := readResult(t, r)
	code := "def handler(e, c): pass\n"
	assert.Equal(t, []tent{
		{Name: "var/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "var/task/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "var/task/app.py", Type: tar.TypeReg, Mode: 0o644, Body: code},
		{Name: "var/task/bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "var/task/bin/run", Type: tar.TypeReg, Mode: 0o755, Body: "#!/bin/sh\n"},
		{Name: "var/task/lib/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "var/task/lib/hard.py", Type: tar.TypeReg, Mode: 0o644, Body: code},
		{Name: "var/task/lib/link.py", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "../app.py"},
		{Name: "var/task/lib/passwd", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "/etc/passwd"},
		{Name: "var/task/usr", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "/usr"},
	}, got)
	assert.Equal(t, []string{"__MACOSX/", "lib/._link.py"}, r.Dropped)
	assert.Equal(t, 4, r.Normalized) // app.py, bin/, bin/run, lib/hard.py (same inode as app.py)
	assert.False(t, r.CacheHit)
}

// A directory and a zip of the same tree give the same layer.
func TestConvertDirMatchesZip(t *testing.T) {
	d := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(d, "python", "pkg"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d, "python", "pkg", "m.py"), []byte("x = 1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(d, "bootstrap"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.Symlink("pkg/m.py", filepath.Join(d, "python", "l.py")))
	rd, err := ConvertDir(context.Background(), d, Options{})
	require.NoError(t, err)
	defer rd.Close()
	rz, err := convertBytes(t, buildZip(t, []zent{
		{name: "bootstrap", body: "#!/bin/sh\n", mode: 0o755},
		{name: "python/pkg/m.py", body: "x = 1\n", mode: 0o644},
		{name: "python/l.py", body: "pkg/m.py", mode: fs.ModeSymlink | 0o777},
	}), Options{})
	require.NoError(t, err)
	assert.Equal(t, rz.Digest, rd.Digest)
	assert.Equal(t, rz.DiffID, rd.DiffID)
}

func TestConvertDirRefuses(t *testing.T) {
	t.Run("named pipe", func(t *testing.T) {
		d := t.TempDir()
		require.NoError(t, syscall.Mkfifo(filepath.Join(d, "fifo"), 0o644))
		_, err := ConvertDir(context.Background(), d, Options{})
		assert.ErrorIs(t, err, ErrUnsupportedType)
		assert.ErrorContains(t, err, `entry "fifo": unsupported file type: named pipe`)
	})
	t.Run("socket", func(t *testing.T) {
		d, err := os.MkdirTemp("", "sock")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(d) })
		l, err := net.Listen("unix", filepath.Join(d, "s"))
		require.NoError(t, err)
		defer l.Close()
		_, err = ConvertDir(context.Background(), d, Options{})
		assert.ErrorIs(t, err, ErrUnsupportedType)
		assert.ErrorContains(t, err, "socket")
	})
	t.Run("character device", func(t *testing.T) {
		d := t.TempDir()
		if err := syscall.Mknod(filepath.Join(d, "null"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
			t.Skipf("mknod needs privileges: %v", err)
		}
		_, err := ConvertDir(context.Background(), d, Options{})
		assert.ErrorIs(t, err, ErrUnsupportedType)
		assert.ErrorContains(t, err, `entry "null": unsupported file type: character device`)
	})
	t.Run("a link to a device is only a link", func(t *testing.T) {
		d := t.TempDir()
		require.NoError(t, os.Symlink("/dev/zero", filepath.Join(d, "zero")))
		r, err := ConvertDir(context.Background(), d, Options{})
		require.NoError(t, err)
		defer r.Close()
		assert.Equal(t, 1, r.Symlinks)
	})
	t.Run("over the limit before reading", func(t *testing.T) {
		d := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(d, "a"), make([]byte, 600), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(d, "b"), make([]byte, 600), 0o000)) // unreadable: never opened
		_, err := ConvertDir(context.Background(), d, Options{MaxSize: 1000})
		assert.ErrorIs(t, err, ErrTooLarge)
	})
	for _, tc := range []struct{ name, entry string }{
		{"a/.wh.app.py", "a/.wh.app.py"},
		{".wh..wh..opq", ".wh..wh..opq"},
		{"d/.wh.sub/f", "d/.wh.sub"},
	} {
		t.Run("whiteout "+tc.name, func(t *testing.T) {
			d := t.TempDir()
			full := filepath.Join(d, tc.name)
			require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
			require.NoError(t, os.WriteFile(full, []byte("x"), 0o644))
			tmp := t.TempDir()
			r, err := ConvertDir(context.Background(), d, Options{TempDir: tmp})
			assert.Nil(t, r)
			assert.ErrorIs(t, err, ErrWhiteout)
			assert.ErrorContains(t, err, fmt.Sprintf("entry %q", tc.entry))
			assertEmptyDir(t, tmp)
		})
	}
	t.Run("whiteout symlink", func(t *testing.T) {
		d := t.TempDir()
		require.NoError(t, os.Symlink("x", filepath.Join(d, ".wh.x")))
		_, err := ConvertDir(context.Background(), d, Options{})
		assert.ErrorIs(t, err, ErrWhiteout)
	})
	t.Run("missing", func(t *testing.T) {
		_, err := Convert(context.Background(), filepath.Join(t.TempDir(), "nope"), Options{})
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
}

// A file swapped for a link between the walk and the copy is refused rather
// than followed, whether the link leads outside the tree or inside it.
func TestConvertDirRefusesSwappedFile(t *testing.T) {
	for _, inside := range []bool{false, true} {
		d := t.TempDir()
		outside := filepath.Join(t.TempDir(), "secret")
		require.NoError(t, os.WriteFile(outside, []byte("secret!"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(d, "a.txt"), []byte("public!"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(d, "b.txt"), []byte("other!!"), 0o644))
		root, err := os.OpenRoot(d)
		require.NoError(t, err)
		defer root.Close()
		w := &dirWalk{src: d, root: root, max: DefaultMaxSize}
		require.NoError(t, w.walk(context.Background(), "."))
		es, err := buildTree(d, w.es)
		require.NoError(t, err)

		target := outside
		if inside {
			target = "b.txt"
		}
		require.NoError(t, os.Remove(filepath.Join(d, "a.txt")))
		require.NoError(t, os.Symlink(target, filepath.Join(d, "a.txt")))
		o, err := Options{}.resolve()
		require.NoError(t, err)
		src := &dirSource{path: d, root: root, infos: w.infos, buf: make([]byte, 4096)}
		_, err = finish(context.Background(), o, nil, es, src, &w.st, 0)
		require.Error(t, err, "inside=%v", inside)
		assert.Contains(t, err.Error(), `entry "a.txt"`)
		if inside {
			assert.ErrorIs(t, err, errChanged)
		}
	}
}
