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

// ELFHeader is the start of a 64-bit little-endian ELF executable for the
// machine: enough for any e_machine reader.
func ELFHeader(machine elf.Machine) string {
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.LittleEndian.PutUint16(h[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(h[18:], uint16(machine))
	return string(h)
}
