package layerconv

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lambda-oci/lambda-oci/layerconv/internal/benchzip"
	"github.com/stretchr/testify/require"
)

// benchZip writes the benchmark zip (the one scripts/bench-compare.sh also
// measures) once per benchmark run.
func benchZip(b *testing.B) (string, benchzip.Stats) {
	b.Helper()
	p := filepath.Join(b.TempDir(), "bench.zip")
	f, err := os.Create(p)
	require.NoError(b, err)
	st, err := benchzip.Write(f, benchzip.Options{})
	require.NoError(b, err)
	require.NoError(b, f.Close())
	return p, st
}

// BenchmarkConvert converts a ~100 MB, few-thousand-file layer zip; MB/s
// counts unzipped bytes.
func BenchmarkConvert(b *testing.B) {
	p, st := benchZip(b)
	b.SetBytes(st.UncompressedSize)
	b.ResetTimer()
	var size int64
	for b.Loop() {
		r, err := ConvertZip(context.Background(), p, Options{ModTime: epoch})
		require.NoError(b, err)
		size = r.Size
		require.NoError(b, r.Close())
	}
	b.ReportMetric(float64(size)/float64(st.UncompressedSize), "out/in")
}
