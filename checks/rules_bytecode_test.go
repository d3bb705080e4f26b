package checks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

// pyJudge prints the sorted relative paths of the timestamp-based .pyc
// files under argv[1] that Python's importer finds stale for their source
// (importlib's own _classify_pyc and _validate_timestamp_pyc against
// os.stat), one per line; hash-based files and orphans are not judged.
const pyJudge = `
import os, sys
import importlib.util
import importlib._bootstrap_external as be
root = sys.argv[1]
stale = []
for d, _, files in os.walk(root):
    for f in files:
        if not f.endswith('.pyc'):
            continue
        p = os.path.join(d, f)
        src = importlib.util.source_from_cache(p) if os.path.basename(d) == '__pycache__' else p[:-1]
        if not os.path.isfile(src):
            continue
        data = open(p, 'rb').read()
        name = os.path.basename(src)[:-3]
        details = {'name': name, 'path': p}
        if be._classify_pyc(data, name, details) & 1:
            continue
        st = os.stat(src)
        try:
            be._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size, name, details)
        except ImportError:
            stale.append(os.path.relpath(p, root))
print("\n".join(sorted(stale)))
`

// pyTreeScript writes a layer tree of Python packages at argv[1] with
// Python's own compiler, then makes some .pyc files stale the ways a
// user's tree does: a source edited (new mtime), a source rewritten under
// its old mtime (new size). What stays valid: goodpkg; badpkg/__init__.
const pyTreeScript = `
import compileall, os, py_compile, sys
root = sys.argv[1]
sp = os.path.join(root, 'python/lib/python%d.%d/site-packages' % sys.version_info[:2])
files = {
    sp + '/goodpkg/__init__.py': 'from . import mod\n',
    sp + '/goodpkg/mod.py': 'GOOD = 1\n',
    sp + '/badpkg/__init__.py': '',
    sp + '/badpkg/mod.py': 'BAD = 1\n',
    sp + '/six.py': 'SIX = 6\n',
    sp + '/hashed/__init__.py': 'H = 1\n',
    root + '/python/legacy.py': 'LEGACY = 1\n',
    root + '/python/orphan/gone.py': 'GONE = 1\n',
}
for p, body in files.items():
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'w') as f:
        f.write(body)
    os.utime(p, (1600000000, 1600000000))
TS = py_compile.PycInvalidationMode.TIMESTAMP
for p in files:
    if '/hashed/' in p:
        py_compile.compile(p, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    elif p.endswith('legacy.py'):
        py_compile.compile(p, cfile=p + 'c', invalidation_mode=TS)
    else:
        py_compile.compile(p, invalidation_mode=TS)
os.utime(sp + '/badpkg/mod.py', (1600000100, 1600000100))
with open(sp + '/six.py', 'w') as f:
    f.write('SIX = 6 * 1\n')
os.utime(sp + '/six.py', (1600000000, 1600000000))
with open(root + '/python/legacy.py', 'a') as f:
    f.write('# edited\n')
os.utime(root + '/python/legacy.py', (1600000000, 1600000000))
os.utime(sp + '/hashed/__init__.py', (1600000200, 1600000200))
os.remove(root + '/python/orphan/gone.py')
`

func pyTool(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	// SOURCE_DATE_EPOCH would make py_compile write hash-based files.
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=", "TZ=UTC")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s: %s", strings.Join(args, " "), stderr.String())
	return string(out)
}

// judge is Python's list of stale .pyc files under root, as absolute
// paths of the image (root is where /opt is).
func judge(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Fields(pyTool(t, "python3", "-I", "-B", "-c", pyJudge, root)) {
		out = append(out, "/"+filepath.ToSlash(l))
	}
	return out
}

var staleCount = regexp.MustCompile(`^(\d+) of (\d+) timestamp-based \.pyc files`)

// The stale-bytecode warning agrees with Python's importer on the same
// files: for a layer that kept its files' times (a tar of the tree, read
// by ReadLayer), and for the layers layerconv makes of it with and without
// its .pyc rewrite (the listing from its index, which must equal what
// ReadLayer gives). Python judges each layer as GNU tar extracts it.
func TestStaleBytecode(t *testing.T) {
	testregistry.RequireTool(t, "python3", "tar")
	ctx := context.Background()
	tree := t.TempDir()
	pyTool(t, "python3", "-I", "-c", pyTreeScript, tree)
	ver := strings.TrimSpace(pyTool(t, "python3", "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"))
	sp := "/opt/python/lib/python" + ver + "/site-packages"

	// A tar of the tree at /opt, with its times, as a Dockerfile COPY would
	// make it.
	optTree := t.TempDir()
	require.NoError(t, os.Symlink(tree, filepath.Join(optTree, "opt")))
	kept := pyTool(t, "tar", "-C", optTree, "-chf", "-", "opt")

	convert := func(noRewrite bool) (*Listing, string) {
		res, err := layerconv.Convert(ctx, tree, layerconv.Options{Prefix: "/opt", ModTime: testutil.FixedTime, NoPycRewrite: noRewrite})
		require.NoError(t, err)
		t.Cleanup(func() { res.Close() })
		read, err := ReadLayer(ctx, res.Layer)
		require.NoError(t, err)
		fromIndex := ListingFromIndex(res)
		require.Equal(t, read, fromIndex, "the index records what a read of the layer finds")
		blob := filepath.Join(t.TempDir(), "layer.tar.gz")
		require.NoError(t, res.WriteFile(ctx, blob))
		dest := t.TempDir()
		pyTool(t, "tar", "-xzf", blob, "-C", dest)
		return fromIndex, dest
	}

	for _, tc := range []struct {
		name    string
		layer   func(t *testing.T) (*Listing, string)
		stale   []string // packages named, as paths
		counted int      // timestamp-based .pyc files with a source
	}{
		{"tar that kept the files' times", func(t *testing.T) (*Listing, string) {
			ls, err := ReadLayer(ctx, rawLayer{[]byte(kept)})
			require.NoError(t, err)
			dest := t.TempDir()
			cmd := exec.Command("tar", "-xf", "-", "-C", dest)
			cmd.Stdin = strings.NewReader(kept)
			require.NoError(t, cmd.Run())
			return ls, dest
		}, []string{sp + "/badpkg", sp + "/six", "/opt/python/legacy"}, 6},
		{"converted, valid .pyc rewritten", func(t *testing.T) (*Listing, string) { return convert(false) },
			[]string{sp + "/badpkg", sp + "/six", "/opt/python/legacy"}, 6},
		{"converted without the rewrite", func(t *testing.T) (*Listing, string) { return convert(true) },
			[]string{sp + "/badpkg", sp + "/goodpkg", sp + "/six", "/opt/python/legacy"}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, extracted := tc.layer(t)
			want := judge(t, extracted)
			require.NotEmpty(t, want, "the fixture has stale files in every case")

			img := withLayer(ls)
			var fs []Finding
			for _, f := range Run(img, Config{}) {
				if f.Rule == RuleStaleBytecode {
					fs = append(fs, f)
				}
			}
			require.Len(t, fs, 1, "one finding for the one layer with stale .pyc files")
			f := fs[0]
			assert.Equal(t, Warn, f.Severity)
			assert.Equal(t, 3, f.Layer)
			m := staleCount.FindStringSubmatch(f.Message)
			require.NotNil(t, m, f.Message)
			assert.Equal(t, strconv.Itoa(len(want)), m[1], "as many stale files as Python finds: %v\n%s", want, f.Message)
			assert.Equal(t, strconv.Itoa(tc.counted), m[2])
			var named []string
			for _, l := range strings.Split(f.Message, "\n")[1:] {
				named = append(named, strings.Fields(l)[0])
			}
			sort.Strings(tc.stale)
			assert.Equal(t, tc.stale, named, f.Message)
			assert.Equal(t, tc.stale[0], f.Path)
		})
	}

	// An image whose .pyc files are all valid (or not judged) raises nothing.
	t.Run("valid only", func(t *testing.T) {
		ls, _ := convert(false)
		var es []Entry
		for _, e := range ls.Entries {
			if !strings.Contains(e.Path, "badpkg/") && !strings.Contains(e.Path, "six") && !strings.Contains(e.Path, "legacy") {
				es = append(es, e)
			}
		}
		ls.Entries = es
		assert.Empty(t, Run(withLayer(ls), Config{}))
	})
}

// withLayer is goodImage with one more added layer.
func withLayer(ls *Listing) *Image {
	img := goodImage()
	ls.DiffID = digestOf('3')
	img.Layers = append(img.Layers, Layer{Digest: digestOf('c'), MediaType: img.Layers[0].MediaType, DiffID: ls.DiffID, Origin: Added, Listing: ls, Kind: "layer"})
	img.Config.RootFS.DiffIDs = append(img.Config.RootFS.DiffIDs, ls.DiffID)
	return img
}

// pycPackage names the top-level package below the nearest root.
func TestPycPackage(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"/opt/python/lib/python3.12/site-packages/numpy/core/_methods.py", "/opt/python/lib/python3.12/site-packages/numpy"},
		{"/opt/python/lib/python3.12/site-packages/six.py", "/opt/python/lib/python3.12/site-packages/six"},
		{"/opt/python/requests/api.py", "/opt/python/requests"},
		{"/opt/python/util.py", "/opt/python/util"},
		{"/var/task/app.py", "/var/task/app"},
		{"/var/task/vendor/x/y.py", "/var/task/vendor"},
		{"/var/lang/lib/python3.12/json/decoder.py", "/var/lang/lib/python3.12/json"},
		{"/usr/lib/python3/dist-packages/yaml/x.py", "/usr/lib/python3/dist-packages/yaml"},
		{"/srv/tool/x.py", "/srv/tool"},
	} {
		assert.Equal(t, tc.want, pycPackage(tc.src, "/var/task"), tc.src)
	}
}
