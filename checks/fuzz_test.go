package checks

import (
	"bytes"
	"context"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// FuzzReadLayer feeds arbitrary blobs (tar, gzip, zstd or garbage) to the
// layer reader: it must return a listing or an error, never panic or hang,
// and a listing's size is the bytes it hashed.
func FuzzReadLayer(f *testing.F) {
	tr := testutil.PyTar(f,
		testutil.TarEntry{Name: "opt", Type: "dir", Mode: 0o755},
		testutil.TarEntry{Name: "opt/a.py", Mode: 0o600, Body: "x"},
		testutil.TarEntry{Name: "opt/b.py", Type: "hardlink", Link: "opt/a.py", Mode: 0o600},
		testutil.TarEntry{Name: "opt/c", Type: "symlink", Link: "a.py", Mode: 0o777},
		testutil.TarEntry{Name: "opt/x.so", Mode: 0o755, Body: testutil.ELFHeader(183)})
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tr)
	zw.Close()
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(tr)
	ze.Close()
	for _, seed := range [][]byte{tr, gz.Bytes(), zs.Bytes(), tr[:700], gz.Bytes()[:20], {0x1f, 0x8b}, {0x28, 0xb5, 0x2f, 0xfd}, nil} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		// The blob as the registry would serve it: tarball.LayerFromOpener
		// would gzip a plain tar first and hide the plain path.
		ls, err := ReadLayer(context.Background(), rawLayer{blob})
		if err != nil {
			return
		}
		if ls.Compression == Plain && ls.UncompressedSize != int64(len(blob)) {
			t.Fatalf("plain blob of %d bytes measured as %d", len(blob), ls.UncompressedSize)
		}
		_ = Merge([]*Listing{ls})
	})
}

// rawLayer serves its bytes as the compressed blob, whatever they are.
type rawLayer struct{ b []byte }

func (l rawLayer) Digest() (v1.Hash, error)             { return v1.Hash{}, nil }
func (l rawLayer) DiffID() (v1.Hash, error)             { return v1.Hash{}, nil }
func (l rawLayer) Size() (int64, error)                 { return int64(len(l.b)), nil }
func (l rawLayer) MediaType() (types.MediaType, error)  { return types.OCILayer, nil }
func (l rawLayer) Uncompressed() (io.ReadCloser, error) { return l.Compressed() }
func (l rawLayer) Compressed() (io.ReadCloser, error)   { return io.NopCloser(bytes.NewReader(l.b)), nil }
