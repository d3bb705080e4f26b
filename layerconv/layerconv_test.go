package layerconv

import (
	"archive/tar"
	"context"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConvertZipLayout(t *testing.T) {
	p := writeZip(t, []zent{
		{name: "python/lib/mod.py", body: "print(1)\n", mode: 0o600},
		{name: "./bin//tool", body: "#!/bin/sh\n", mode: 0o700},
		{name: "python/", mode: fs.ModeDir | 0o700},
		{name: "lib/libx.so", body: "ELF", mode: fs.ModeSetuid | 0o755},
		{name: "lib/link.so", body: "libx.so", mode: fs.ModeSymlink | 0o777},
		{name: "lib/abs", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777},
	})
	r, err := ConvertZip(context.Background(), p, Options{ModTime: epoch})
	require.NoError(t, err)
	defer r.Close()
	got := readResult(t, r)
	want := []tent{
		{Name: "opt/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "opt/bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "opt/bin/tool", Type: tar.TypeReg, Mode: 0o755, Body: "#!/bin/sh\n"},
		{Name: "opt/lib/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "opt/lib/abs", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "/etc/passwd"},
		{Name: "opt/lib/libx.so", Type: tar.TypeReg, Mode: 0o755, Body: "ELF"},
		{Name: "opt/lib/link.so", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "libx.so"},
		{Name: "opt/python/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "opt/python/lib/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "opt/python/lib/mod.py", Type: tar.TypeReg, Mode: 0o644, Body: "print(1)\n"},
	}
	assert.Equal(t, want, got)
	assert.Equal(t, 3, r.Files)
	assert.Equal(t, 5, r.Dirs)
	assert.Equal(t, 2, r.Symlinks)
	assert.Equal(t, 4, r.Normalized) // bin/tool (name+mode), python/, libx.so, mod.py
	assert.Empty(t, r.Dropped)
}
