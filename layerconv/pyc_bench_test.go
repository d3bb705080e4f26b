package layerconv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// stdlibZip zips python3's own standard library (its config-* directory of
// build files left out), compiled by python3 at optimisation levels 0, 1
// and 2: a layer most of whose files are valid timestamp .pyc files.
func stdlibZip(b *testing.B) (path string, size int64) {
	b.Helper()
	testregistry.RequireTool(b, "python3", "zip", "cp")
	stdlib := strings.TrimSpace(runTool(b, "", "python3", "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"))
	work := b.TempDir()
	tree := filepath.Join(work, "python")
	runTool(b, work, "cp", "-a", stdlib, tree)
	configs, err := filepath.Glob(filepath.Join(tree, "config-*"))
	require.NoError(b, err)
	for _, c := range configs {
		require.NoError(b, os.RemoveAll(c))
	}
	runTool(b, tree, "python3", "-m", "compileall", "-q", "-q", "-o", "0", "-o", "1", "-o", "2", "--invalidation-mode", "timestamp", ".")
	path = filepath.Join(work, "stdlib.zip")
	runTool(b, work, "zip", "-q", "-r", path, "python")
	size, err = DeclaredSize(path)
	require.NoError(b, err)
	return path, size
}

// BenchmarkConvertPyc converts python3's compiled standard library with the
// .pyc rewrite and without it; MB/s counts unzipped bytes.
func BenchmarkConvertPyc(b *testing.B) {
	p, size := stdlibZip(b)
	for _, tc := range []struct {
		name string
		off  bool
	}{{"rewrite", false}, {"off", true}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(size)
			var n int
			for b.Loop() {
				r, err := ConvertZip(context.Background(), p, Options{ModTime: epoch, NoPycRewrite: tc.off})
				require.NoError(b, err)
				n = r.PycRewritten
				require.NoError(b, r.Close())
			}
			b.ReportMetric(float64(n), "pyc-rewritten")
		})
	}
}
