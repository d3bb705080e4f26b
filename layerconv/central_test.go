package layerconv

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// localOffsets agrees with archive/zip: every offset it reads from the
// central directory is a local header that ends where archive/zip says
// the entry's data starts — for a plain zip, one with a stub prepended
// (self-extracting archives: every offset shifts), and the golden zip.
func TestLocalOffsetsAgreeWithArchiveZip(t *testing.T) {
	plain, err := os.ReadFile(writeZip(t, []zent{
		{name: "python/", mode: 0o755 | 1<<31},
		{name: "python/a.py", body: "a = 1\n", mode: 0o644},
		{name: "bin/tool", body: "#!/bin/sh\n", mode: 0o755},
	}))
	require.NoError(t, err)
	golden, err := os.ReadFile("../testdata/layerconv/golden.zip")
	require.NoError(t, err)
	stub := append([]byte("#!/bin/sh\nexit 0\n"+string(make([]byte, 1000))), plain...)
	for name, data := range map[string][]byte{"plain": plain, "golden": golden, "with a stub": stub} {
		t.Run(name, func(t *testing.T) {
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			require.NoError(t, err)
			offs, err := localOffsets(bytes.NewReader(data), int64(len(data)), len(zr.File))
			require.NoError(t, err)
			require.Len(t, offs, len(zr.File))
			for i, f := range zr.File {
				h := data[offs[i]:]
				require.Equal(t, "PK\x03\x04", string(h[:4]), f.Name)
				end := offs[i] + localLen + int64(binary.LittleEndian.Uint16(h[26:])) + int64(binary.LittleEndian.Uint16(h[28:]))
				want, err := f.DataOffset()
				require.NoError(t, err)
				assert.Equal(t, want, end, f.Name)
			}
		})
	}
	_, err = localOffsets(bytes.NewReader([]byte("not a zip at all")), 16, 0)
	assert.Error(t, err)
}
