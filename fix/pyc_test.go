package fix

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// pycLayerScript compiles a task root at argv[1] with Python (valid .pyc
// files; one source with a sub-second mtime, whose .pyc records the whole
// seconds; one edited after compiling, so stale) and writes it as a PAX
// tar to stdout, times kept to the nanosecond, modes 0600/0700: a layer
// fix must rewrite for Lambda's user.
const pycLayerScript = `
import io, os, py_compile, sys, tarfile
root = sys.argv[1]
task = os.path.join(root, 'var/task')
os.makedirs(task)
for name, body, mtime in (('app.py', 'import helper\n', 1600000000.75), ('helper.py', 'H = 1\n', 1600000000), ('old.py', 'O = 1\n', 1600000000)):
    p = os.path.join(task, name)
    open(p, 'w').write(body)
    os.utime(p, ns=(int(mtime * 1e9), int(mtime * 1e9)))
    py_compile.compile(p, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
os.utime(os.path.join(task, 'old.py'), (1600000100, 1600000100))
out = io.BytesIO()
with tarfile.open(fileobj=out, mode='w', format=tarfile.PAX_FORMAT) as tf:
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for n in sorted(dirs) + sorted(files):
            p = os.path.join(d, n)
            ti = tf.gettarinfo(p, os.path.relpath(p, root))
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ''
            ti.mode = 0o700 if ti.isdir() else 0o600
            if ti.isdir():
                tf.addfile(ti)
            else:
                tf.addfile(ti, open(p, 'rb'))
sys.stdout.buffer.write(out.getvalue())
`

// pyStale lists the .pyc files under argv[1] that importlib finds stale
// for their source (_validate_timestamp_pyc against os.stat).
const pyStale = `
import os, sys
import importlib.util
import importlib._bootstrap_external as be
for d, _, files in sorted(os.walk(sys.argv[1])):
    for f in sorted(files):
        if f.endswith('.pyc'):
            p = os.path.join(d, f)
            src = importlib.util.source_from_cache(p)
            data = open(p, 'rb').read()
            st = os.stat(src)
            try:
                be._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size, f, {})
            except ImportError:
                print(os.path.relpath(p, sys.argv[1]))
`

func python(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("python3", args...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=") // else py_compile writes hash-based files
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "python3: %s", stderr.String())
	return string(out)
}

// untar extracts a tar stream with GNU tar, which sets each file's mtime
// from its header, and returns what Python finds stale there.
func staleAfterExtracting(t *testing.T, r io.Reader) []string {
	t.Helper()
	dest := t.TempDir()
	cmd := exec.Command("tar", "-xf", "-", "-C", dest)
	cmd.Stdin = r
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "tar: %s", out)
	return strings.Fields(python(t, "-I", "-B", "-c", pyStale, dest))
}

// A layer fix rewrites (its modes) keeps every .pyc exactly as valid or as
// stale for its source as it was: fix keeps each entry's header times,
// sub-second ones included (a writer that rounded them to whole seconds,
// as archive/tar does for a header of unknown format, would make the .pyc
// of a source whose mtime ends in .75 stale). Python judges the layer
// before and after, as GNU tar extracts it; the stale-bytecode warning
// counts the same one file.
func TestFixKeepsBytecodeValidity(t *testing.T) {
	testregistry.RequireTool(t, "python3", "tar")
	layer := []byte(python(t, "-I", "-c", pycLayerScript, t.TempDir()))
	before := staleAfterExtracting(t, strings.NewReader(string(layer)))
	tag := strings.TrimSpace(python(t, "-I", "-c", "import sys; print(sys.implementation.cache_tag)"))
	require.Equal(t, []string{"var/task/__pycache__/old." + tag + ".pyc"}, before, "the fixture: one stale .pyc, the others valid")

	dir := t.TempDir()
	w := testutil.NewLayout(t, dir)
	w.Name("fixture", w.Image(ociImage("amd64", layer, "gzip", types.OCILayer, t)))
	img := open(t, "oci:"+dir)
	ctx := context.Background()
	res, err := Fix(ctx, img.Index, img.Image, Options{TempDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { res.Close() })
	require.True(t, res.Changed)
	require.Len(t, res.Layers, 1)
	assert.Contains(t, fmtChanges(res.Layers[0].Changes), "mode(s) made readable", "the layer was rewritten")

	layers, err := res.Image.Layers()
	require.NoError(t, err)
	rc, err := layers[1].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	assert.Equal(t, before, staleAfterExtracting(t, rc), "valid stays valid, stale stays stale")

	var warned []checks.Finding
	for _, f := range res.Findings {
		if f.Rule == checks.RuleStaleBytecode {
			warned = append(warned, f)
		}
	}
	require.Len(t, warned, 1, "%v", res.Findings)
	assert.Contains(t, warned[0].Message, "1 of 3 timestamp-based .pyc files")
	assert.Contains(t, warned[0].Message, "/var/task/old (1)")
}
