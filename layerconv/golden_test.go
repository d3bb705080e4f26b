package layerconv

import (
	"archive/zip"
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/layerconv/golden.zip from goldenEntries")

const goldenZip = "../testdata/layerconv/golden.zip"

// The layer digest of golden.zip at /opt with the default mtime. It changes
// only when the layer format, CompressionLevel, CompressionBlockSize or the
// compressor changes: then bump formatVersion and review the new value.
const (
	goldenDigest = "sha256:28f0830fc0b59c89aea5927ec34b2ad526a7829b2e1ac5edf6f398a538992b93"
	goldenDiffID = "sha256:d11a98bfbca27815a7fd706b68ae52facf7413d81e7b585e976f45474a80e966"
)

func goldenEntries() []zent {
	return []zent{
		{name: "python/lib/python3.12/site-packages/pkg/__init__.py", body: "from .core import run\n", mode: 0o644, method: zip.Deflate},
		{name: "python/lib/python3.12/site-packages/pkg/core.py", body: strings.Repeat("def run(event, context):\n    return {'ok': True}\n", 20), mode: 0o600, method: zip.Deflate},
		{name: "python/lib/python3.12/site-packages/" + strings.Repeat("long_", 30) + "name.py", body: "x = 1\n", mode: 0o644},
		{name: "bin/tool", body: "#!/bin/sh\necho tool\n", mode: 0o700},
		{name: "lib/libdemo.so.1", body: "\x7fELF\x02\x01\x01\x00not really", mode: 0o755},
		{name: "lib/libdemo.so", body: "libdemo.so.1", mode: fs.ModeSymlink | 0o777},
		{name: "extensions/", mode: fs.ModeDir | 0o700},
		{name: "extensions/agent", body: "#!/bin/sh\n", mode: 0o755},
		{name: "extensions/._agent", body: "apple double"},
		{name: "__MACOSX/._bin", body: "resource fork"},
		{name: "./etc//config.json", body: `{"level": "info"}`, method: zip.Deflate},
	}
}

func TestGoldenDigest(t *testing.T) {
	if *updateGolden {
		require.NoError(t, os.MkdirAll(filepath.Dir(goldenZip), 0o755))
		require.NoError(t, os.WriteFile(goldenZip, buildZip(t, goldenEntries()), 0o644))
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	r, err := ConvertZip(context.Background(), goldenZip, Options{})
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, goldenDigest, r.Digest.String())
	assert.Equal(t, goldenDiffID, r.DiffID.String())
	assert.Equal(t, []string{"extensions/._agent", "__MACOSX/._bin"}, r.Dropped)
}
