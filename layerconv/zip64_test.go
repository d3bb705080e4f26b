package layerconv

import (
	"archive/zip"
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// More entries than a classic zip can count need the zip64 end records.
func TestConvertZip64ManyEntries(t *testing.T) {
	const n = 70000
	p := filepath.Join(t.TempDir(), "many.zip")
	f, err := os.Create(p)
	require.NoError(t, err)
	bw := bufio.NewWriter(f)
	zw := zip.NewWriter(bw)
	for i := range n {
		fh := &zip.FileHeader{Name: fmt.Sprintf("d%02d/f%05d", i%50, i), Method: zip.Store}
		fh.SetMode(0o644)
		w, err := zw.CreateHeader(fh)
		require.NoError(t, err)
		_, err = w.Write([]byte{byte(i)})
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, bw.Flush())
	require.NoError(t, f.Close())

	r, err := ConvertZip(context.Background(), p, Options{})
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, n, r.Files)
	assert.Equal(t, 51, r.Dirs)
	got := readResult(t, r)
	assert.Len(t, got, n+51)
	assert.Equal(t, "opt/d49/f69999", got[len(got)-1].Name)
	assert.Equal(t, string([]byte{byte(69999 % 256)}), got[len(got)-1].Body)
}

// zeroReader yields n zero bytes.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), z.n)]
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// An entry over 4 GiB needs zip64 sizes, written by zip.Writer as a
// streamed (data descriptor) entry. Zeros keep the zip small.
func TestConvertZip64HugeEntry(t *testing.T) {
	if raceEnabled {
		// The race detector makes the pure-Go deflate ~30x slower (minutes
		// for 4 GiB), so this one test runs in a child built without it.
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.CommandContext(t.Context(), goBin, "test", "-count=1", "-v", "-run", "^TestConvertZip64HugeEntry$", ".")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		require.Contains(t, string(out), "--- PASS: TestConvertZip64HugeEntry")
		return
	}
	const size = 4<<30 + 12345
	p := filepath.Join(t.TempDir(), "huge.zip")
	f, err := os.Create(p)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	fh := &zip.FileHeader{Name: "big/zeros.bin", Method: zip.Deflate}
	fh.SetMode(0o644)
	w, err := zw.CreateHeader(fh)
	require.NoError(t, err)
	_, err = io.CopyBuffer(w, &zeroReader{n: size}, make([]byte, 1<<20))
	require.NoError(t, err)
	fh2 := &zip.FileHeader{Name: "big/after.txt", Method: zip.Deflate}
	fh2.SetMode(0o644)
	w, err = zw.CreateHeader(fh2)
	require.NoError(t, err)
	_, err = io.WriteString(w, "after the big one")
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())

	r, err := ConvertZip(context.Background(), p, Options{})
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, 2, r.Files)
	assert.Greater(t, r.UncompressedSize, int64(size))
	rc, err := r.Layer.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tarReader(rc)
	var sizes = map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, tr)
		require.NoError(t, err)
		sizes[h.Name] = n
	}
	assert.Equal(t, int64(size), sizes["opt/big/zeros.bin"])
	assert.Equal(t, int64(len("after the big one")), sizes["opt/big/after.txt"])
}
