// Package testutil holds the test helpers shared across packages, one of
// each kind: a file tree described as values (F, Dir, Symlink), written as a
// zip (WriteZip) or a directory (WriteDir); an ELF header builder
// (ELFHeader); and a fixed instant (FixedTime). Fixtures are generated, not
// committed.
package testutil

import (
	"debug/elf"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
)

// FixedTime keeps test builds independent of SOURCE_DATE_EPOCH in the
// environment.
var FixedTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// File is one entry of a generated tree (the base generator's type, so the
// same values make bases, zips and directories).
type File = basegen.File

// F is a regular file.
func F(name string, mode fs.FileMode, body string) File {
	return File{Name: name, Mode: mode, Body: body}
}

// Dir is a directory (name ends with "/").
func Dir(name string) File { return File{Name: name, Mode: fs.ModeDir | 0o755} }

// Symlink is a symbolic link to target.
func Symlink(name, target string) File {
	return File{Name: name, Mode: fs.ModeSymlink | 0o777, Body: target}
}

// WriteZip writes the files as a zip named name in a fresh temp dir.
func WriteZip(t testing.TB, name string, files ...File) string {
	t.Helper()
	b, err := basegen.Zip(files)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// WriteDir writes the files into a fresh directory named code.
func WriteDir(t testing.TB, files ...File) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "code")
	require.NoError(t, os.MkdirAll(root, 0o755))
	for _, fl := range files {
		p := filepath.Join(root, filepath.FromSlash(fl.Name))
		switch {
		case fl.Mode.IsDir():
			require.NoError(t, os.MkdirAll(p, 0o755))
		case fl.Mode&fs.ModeSymlink != 0:
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.Symlink(fl.Body, p))
		default:
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(fl.Body), fl.Mode.Perm()))
			require.NoError(t, os.Chmod(p, fl.Mode.Perm()))
		}
	}
	return root
}

// ELFOption changes the header ELFHeader makes.
type ELFOption func(*elfOpts)

type elfOpts struct {
	order  binary.ByteOrder
	filler int
}

// BigEndian makes a big-endian (ELFDATA2MSB) header.
func BigEndian() ELFOption { return func(o *elfOpts) { o.order = binary.BigEndian } }

// Filler appends n bytes of varying content after the header, for files
// that stream through several writes.
func Filler(n int) ELFOption { return func(o *elfOpts) { o.filler = n } }

// ELFHeader is a 64-byte ELF64 header of a shared object for machine (by
// default little-endian): all a header check needs, valid for debug/elf,
// nothing that runs. It is the one ELF builder of the tests.
func ELFHeader(machine elf.Machine, opts ...ELFOption) string {
	o := elfOpts{order: binary.LittleEndian}
	for _, f := range opts {
		f(&o)
	}
	h := make([]byte, 64+o.filler)
	copy(h, "\x7fELF")
	h[4], h[6] = byte(elf.ELFCLASS64), byte(elf.EV_CURRENT)
	h[5] = byte(elf.ELFDATA2LSB)
	if o.order == binary.BigEndian {
		h[5] = byte(elf.ELFDATA2MSB)
	}
	o.order.PutUint16(h[16:], uint16(elf.ET_DYN))
	o.order.PutUint16(h[18:], uint16(machine))
	o.order.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	o.order.PutUint16(h[52:], 64) // e_ehsize
	o.order.PutUint16(h[54:], 56) // e_phentsize
	o.order.PutUint16(h[58:], 64) // e_shentsize
	for i := 64; i < len(h); i++ {
		h[i] = byte(i * 7)
	}
	return string(h)
}

// Zip is the files as a deterministic zip (Unix modes, fixed times).
func Zip(t testing.TB, files ...File) []byte {
	t.Helper()
	b, err := basegen.Zip(files)
	require.NoError(t, err)
	return b
}
