package layerconv

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// zent is one entry of a zip made by a test.
type zent struct {
	name string
	body string
	// mode carries Unix modes (made-on-Unix zip) when non-zero; zero makes a
	// Windows-style entry (FAT host, no modes).
	mode   fs.FileMode
	method uint16
	// raw writes sizes and CRC in the local header (no data descriptor);
	// crc/size override the true values when non-zero.
	raw   bool
	crc   uint32
	usize uint64
	// comp, when set, is written verbatim as the compressed data (raw only).
	comp string
	// hdr lets a test tweak the header before it is written.
	hdr func(*zip.FileHeader)
}

func buildZip(t testing.TB, ents []zent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		fh := &zip.FileHeader{Name: e.name, Method: e.method}
		if e.mode != 0 {
			fh.SetMode(e.mode)
		}
		if e.hdr != nil {
			e.hdr(fh)
		}
		if e.raw {
			// CreateRaw takes compressed bytes: store or deflate them here.
			body := []byte(e.body)
			var comp []byte
			if e.comp != "" {
				comp = []byte(e.comp)
			} else if fh.Method == zip.Deflate {
				var cb bytes.Buffer
				fw, err := newTestFlateWriter(&cb)
				require.NoError(t, err)
				_, err = fw.Write(body)
				require.NoError(t, err)
				require.NoError(t, fw.Close())
				comp = cb.Bytes()
			} else {
				comp = body
			}
			fh.CRC32 = crcOf(body)
			if e.crc != 0 {
				fh.CRC32 = e.crc
			}
			fh.UncompressedSize64 = uint64(len(body))
			if e.usize != 0 {
				fh.UncompressedSize64 = e.usize
			}
			fh.CompressedSize64 = uint64(len(comp))
			w, err := zw.CreateRaw(fh)
			require.NoError(t, err)
			_, err = w.Write(comp)
			require.NoError(t, err)
			continue
		}
		w, err := zw.CreateHeader(fh)
		require.NoError(t, err)
		_, err = io.WriteString(w, e.body)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func writeZip(t testing.TB, ents []zent) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "layer.zip")
	require.NoError(t, os.WriteFile(p, buildZip(t, ents), 0o644))
	return p
}

// tent is a tar entry as read back.
type tent struct {
	Name     string
	Type     byte
	Mode     int64
	Linkname string
	Body     string
	// Mtime is the header's, in seconds: zero for the default mtime, the
	// epoch.
	Mtime int64
	// Size is the header's when Body holds only the file's first bytes;
	// zero when Body is all of it.
	Size int64
}

// readTarGz reads a layer with archive/tar (an independent reader of what
// the writer produced) and checks the invariants every layer must meet.
func readTarGz(t testing.TB, r io.Reader) []tent {
	t.Helper()
	zr, err := gzip.NewReader(r)
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	var out []tent
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.Zero(t, h.Uid, h.Name)
		require.Zero(t, h.Gid, h.Name)
		require.Empty(t, h.Uname, h.Name)
		require.Empty(t, h.Gname, h.Name)
		out = append(out, tent{Name: h.Name, Type: h.Typeflag, Mode: h.Mode, Linkname: h.Linkname, Body: string(body), Mtime: h.ModTime.Unix()})
	}
	return out
}

// readResult reads the layer back and checks that Result.Entries indexes
// exactly what archive/tar finds in it.
func readResult(t testing.TB, r *Result) []tent {
	t.Helper()
	rc, err := r.Layer.Compressed()
	require.NoError(t, err)
	defer rc.Close()
	got := readTarGz(t, rc)
	require.Equal(t, indexOf(got), r.Entries, "Result.Entries against the layer read back")
	return got
}

// indexOf is the index a layer's entries call for, from the ELF header
// layout (e_ident[EI_DATA] at 5: 1 little, 2 big endian; e_machine at 18).
func indexOf(ents []tent) []Entry {
	out := make([]Entry, 0, len(ents))
	for _, e := range ents {
		x := Entry{Path: strings.TrimSuffix(e.Name, "/"), Type: e.Type, Link: e.Linkname, Mode: e.Mode}
		if e.Type == tar.TypeReg {
			x.Mtime, x.Size = e.Mtime, e.Size
			if x.Size == 0 {
				x.Size = int64(len(e.Body))
			}
			if strings.HasSuffix(e.Name, ".pyc") && len(e.Body) >= 16 {
				x.Facts = &lambda.FileFacts{Pyc: []byte(e.Body[:16])}
			}
		}
		if b := e.Body; e.Type == tar.TypeReg && len(b) >= 20 && b[:4] == "\x7fELF" {
			switch b[5] {
			case 1:
				x.ELF, x.ELFMachine = true, uint16(b[18])|uint16(b[19])<<8
			case 2:
				x.ELF, x.ELFMachine = true, uint16(b[18])<<8|uint16(b[19])
			}
		}
		out = append(out, x)
	}
	return out
}

func convertBytes(t testing.TB, data []byte, opts Options) (*Result, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "layer.zip")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	r, err := ConvertZip(context.Background(), p, opts)
	if r != nil {
		t.Cleanup(func() { r.Close() })
	}
	return r, err
}

var epoch = time.Unix(0, 0)

func crcOf(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func newTestFlateWriter(w io.Writer) (io.WriteCloser, error) {
	return flate.NewWriter(w, flate.DefaultCompression)
}

func tarReader(r io.Reader) *tar.Reader { return tar.NewReader(r) }
