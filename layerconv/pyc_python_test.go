package layerconv

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// Python makes the .pyc files, the zip command and Python's zipfile make
// the zips, GNU tar extracts the layer and Python judges every .pyc in it
// with the functions its importer uses (SourceLoader.get_code's checks).

// pycCheckScript prints {relative .pyc path: status} for every .pyc under
// argv[1], judged as SourceLoader.get_code judges a cached file:
// valid/stale (timestamp), hash-valid/hash-stale (checked hash),
// unchecked-hash, orphan (no source). A legacy NAME.pyc is judged against
// NAME.py the same way (Python 3 itself only runs it without the source).
const pycCheckScript = `
import _imp, json, os, sys
import importlib.util
import importlib._bootstrap_external as be
root = sys.argv[1]
out = {}
for d, _, files in os.walk(root):
    for f in files:
        if not f.endswith('.pyc'):
            continue
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)
        src = importlib.util.source_from_cache(p) if os.path.basename(d) == '__pycache__' else p[:-1]
        if not os.path.isfile(src):
            out[rel] = 'orphan'
            continue
        data = open(p, 'rb').read()
        name = os.path.basename(src)[:-3]
        details = {'name': name, 'path': p}
        flags = be._classify_pyc(data, name, details)
        try:
            if flags & 1:
                if not flags & 2:
                    out[rel] = 'unchecked-hash'
                    continue
                sh = _imp.source_hash(be._RAW_MAGIC_NUMBER, open(src, 'rb').read())
                be._validate_hash_pyc(data, sh, name, details)
                out[rel] = 'hash-valid'
            else:
                st = os.stat(src)
                be._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size, name, details)
                out[rel] = 'valid'
        except ImportError:
            out[rel] = 'hash-stale' if flags & 1 else 'stale'
json.dump(out, sys.stdout)
`

// zipfileScript zips argv[1] into argv[2] with Python's zipfile: DOS times
// only (local time: the tests run it with TZ=UTC), no extra fields.
const zipfileScript = `
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as zf:
    for d, dirs, files in os.walk(src):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(d, f)
            zf.write(p, os.path.relpath(p, src))
`

// toolEnv is the environment of the tools the tests run: UTC, and no
// SOURCE_DATE_EPOCH (with it, compileall would write hash-based files).
func toolEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOURCE_DATE_EPOCH=") && !strings.HasPrefix(kv, "TZ=") {
			env = append(env, kv)
		}
	}
	return append(env, "TZ=UTC", "LC_ALL=C")
}

func runTool(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = toolEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), stderr.String())
	return string(out)
}

// pycStatus runs pycCheckScript over root.
func pycStatus(t *testing.T, root string) map[string]string {
	t.Helper()
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(runTool(t, root, "python3", "-I", "-B", "-c", pycCheckScript, root)), &got))
	return got
}

// pycTree writes modules, has python3 compile them, then makes some of the
// .pyc files stale and one an orphan. It returns the tree and the statuses
// Python gives its .pyc files there.
func pycTree(t *testing.T) (string, map[string]string) {
	t.Helper()
	d := t.TempDir()
	at := func(sec, nsec int64) time.Time { return time.Unix(sec, nsec) }
	files := []struct {
		name, body string
		mtime      time.Time
	}{
		{"mod_valid.py", "VALID = 1\n", at(1600000000, 0)},
		{"mod_odd.py", "ODD = 11\n", at(1600000001, 0)},       // odd: DOS time cannot hold it
		{"mod_frac.py", "FRAC = 111\n", at(1600000002, 75e7)}, // int(st_mtime) drops the fraction
		{"mod_stale.py", "STALE = 1\n", at(1600000000, 0)},
		{"mod_resized.py", "RESIZED = 1\n", at(1600000000, 0)},
		{"mod_checked.py", "CHECKED = 1\n", at(1600000000, 0)},
		{"mod_unchecked.py", "UNCHECKED = 1\n", at(1600000000, 0)},
		{"gone.py", "GONE = 1\n", at(1600000000, 0)},
		{"legacy.py", "LEGACY = 1\n", at(1600000000, 0)},
		{"pkg/__init__.py", "", at(1600000000, 0)},
		{"pkg/sub.py", "from . import x\n", at(1600000000, 0)},
		{"pkg/x.py", "X = 'data'\n", at(1600000000, 0)},
	}
	for _, f := range files {
		p := filepath.Join(d, f.name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(f.body), 0o644))
		require.NoError(t, os.Chtimes(p, f.mtime, f.mtime))
	}
	compile := func(args ...string) {
		runTool(t, d, "python3", append([]string{"-m", "compileall", "-q"}, args...)...)
	}
	compile("--invalidation-mode", "timestamp", "-o", "0", "-o", "1", "mod_valid.py")
	compile("--invalidation-mode", "timestamp", "mod_odd.py", "mod_frac.py", "mod_stale.py", "mod_resized.py", "gone.py", "pkg")
	compile("--invalidation-mode", "checked-hash", "mod_checked.py")
	compile("--invalidation-mode", "unchecked-hash", "mod_unchecked.py")
	compile("--invalidation-mode", "timestamp", "-b", "legacy.py")

	// Edited after compiling: a new mtime; new content under the old mtime.
	touched := at(1600000100, 0)
	require.NoError(t, os.Chtimes(filepath.Join(d, "mod_stale.py"), touched, touched))
	resized := filepath.Join(d, "mod_resized.py")
	require.NoError(t, os.WriteFile(resized, []byte("RESIZED = 1 + 1\n"), 0o644))
	require.NoError(t, os.Chtimes(resized, at(1600000000, 0), at(1600000000, 0)))
	require.NoError(t, os.Remove(filepath.Join(d, "gone.py")))

	tag := strings.TrimSpace(runTool(t, d, "python3", "-I", "-c", "import sys; print(sys.implementation.cache_tag)"))
	want := map[string]string{
		"__pycache__/mod_valid.TAG.pyc":       "valid",
		"__pycache__/mod_valid.TAG.opt-1.pyc": "valid",
		"__pycache__/mod_odd.TAG.pyc":         "valid",
		"__pycache__/mod_frac.TAG.pyc":        "valid",
		"__pycache__/mod_stale.TAG.pyc":       "stale",
		"__pycache__/mod_resized.TAG.pyc":     "stale",
		"__pycache__/mod_checked.TAG.pyc":     "hash-valid",
		"__pycache__/mod_unchecked.TAG.pyc":   "unchecked-hash",
		"__pycache__/gone.TAG.pyc":            "orphan",
		"legacy.pyc":                          "valid",
		"pkg/__pycache__/__init__.TAG.pyc":    "valid",
		"pkg/__pycache__/sub.TAG.pyc":         "valid",
		"pkg/__pycache__/x.TAG.pyc":           "valid",
	}
	statuses := map[string]string{}
	for k, v := range want {
		statuses[strings.ReplaceAll(k, "TAG", tag)] = v
	}
	// Python agrees with the tree as meant, before any conversion.
	require.Equal(t, statuses, pycStatus(t, d))
	return d, statuses
}

// extractLayer writes r's layer and extracts it with GNU tar, which sets
// every file's mtime from its header.
func extractLayer(t *testing.T, r *Result) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "layer.tar.gz")
	require.NoError(t, r.WriteFile(t.Context(), out))
	dest := t.TempDir()
	runTool(t, dest, "tar", "-xzf", out, "-C", dest)
	return dest
}

func TestPycValidityAsPythonSeesIt(t *testing.T) {
	testregistry.RequireTool(t, "python3", "zip", "unzip", "tar")
	tree, inTree := pycTree(t)
	work := t.TempDir()
	zipCmd := filepath.Join(work, "zip-command.zip")
	runTool(t, tree, "zip", "-q", "-r", zipCmd, ".")
	zipfileZip := filepath.Join(work, "zipfile.zip")
	runTool(t, tree, "python3", "-I", "-c", zipfileScript, tree, zipfileZip)

	// How Python sees the .pyc files of each input once an extractor has
	// unpacked it: Info-ZIP's unzip sets the extended timestamp, or the DOS
	// time read as local time (UTC here).
	inputStatus := func(t *testing.T, zipPath string) map[string]string {
		d := t.TempDir()
		runTool(t, d, "unzip", "-q", zipPath, "-d", d)
		return pycStatus(t, d)
	}
	dosStatus := func() map[string]string {
		m := map[string]string{}
		for k, v := range inTree {
			m[k] = v
			if strings.Contains(k, "mod_odd.") {
				m[k] = "stale" // 1600000001 is 1600000000 in DOS time
			}
		}
		return m
	}()
	allStale := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			if v == "valid" {
				v = "stale"
			}
			out[k] = v
		}
		return out
	}
	count := func(m map[string]string) (n int) {
		for _, v := range m {
			if v == "valid" {
				n++
			}
		}
		return n
	}

	for _, tc := range []struct {
		name        string
		input       string
		opts        Options
		sourceEpoch string
		inInput     map[string]string // as an extractor leaves the input
		want        map[string]string // in the layer
		rewritten   int
	}{
		{name: "directory", input: tree, opts: Options{Prefix: "/opt/python"}, inInput: inTree, want: inTree, rewritten: count(inTree)},
		{name: "zip command", input: zipCmd, opts: Options{Prefix: CodePrefix}, inInput: inTree, want: inTree, rewritten: count(inTree)},
		{name: "zipfile, DOS times", input: zipfileZip, inInput: dosStatus, want: dosStatus, rewritten: count(dosStatus)},
		{name: "zip command, odd SOURCE_DATE_EPOCH", input: zipCmd, sourceEpoch: "1234567891", inInput: inTree, want: inTree, rewritten: count(inTree)},
		{name: "zip command, rewrite off", input: zipCmd, opts: Options{NoPycRewrite: true}, inInput: inTree, want: allStale(inTree)},
		{name: "directory, rewrite off", input: tree, opts: Options{NoPycRewrite: true}, inInput: inTree, want: allStale(inTree)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.input != tree {
				require.Equal(t, tc.inInput, inputStatus(t, tc.input), "the input as unzip extracts it")
			}
			if tc.sourceEpoch != "" {
				t.Setenv("SOURCE_DATE_EPOCH", tc.sourceEpoch)
			} else if tc.opts.ModTime.IsZero() {
				tc.opts.ModTime = time.Unix(1700000000, 0)
			}
			r, err := Convert(context.Background(), tc.input, tc.opts)
			require.NoError(t, err)
			defer r.Close()
			prefix := tc.opts.Prefix
			if prefix == "" {
				prefix = DefaultPrefix
			}
			root := filepath.Join(extractLayer(t, r), prefix)
			assert.Equal(t, tc.want, pycStatus(t, root), "Python on the extracted layer")
			assert.Equal(t, tc.rewritten, r.PycRewritten)

			// Only the recorded mtime of the valid ones changed, to the layer's.
			var layerMtime [4]byte
			binary.LittleEndian.PutUint32(layerMtime[:], uint32(layerModTime(t, r).Unix()))
			for rel, status := range tc.inInput {
				orig, err := os.ReadFile(filepath.Join(tree, rel))
				require.NoError(t, err)
				got, err := os.ReadFile(filepath.Join(root, rel))
				require.NoError(t, err)
				if status == "valid" && !tc.opts.NoPycRewrite {
					copy(orig[8:12], layerMtime[:])
				}
				assert.Equal(t, orig, got, rel)
			}
		})
	}
}

// layerModTime is the mtime r's entries carry, read from its first tar
// header.
func layerModTime(t *testing.T, r *Result) time.Time {
	t.Helper()
	rc, err := r.Layer.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	h, err := tarReader(rc).Next()
	require.NoError(t, err)
	return h.ModTime
}

// The import system itself takes the modules from their .pyc files in
// the layer, and still refuses the stale one.
func TestPycImportFromLayer(t *testing.T) {
	testregistry.RequireTool(t, "python3", "zip", "tar")
	tree, _ := pycTree(t)
	zipPath := filepath.Join(t.TempDir(), "layer.zip")
	runTool(t, tree, "zip", "-q", "-r", zipPath, ".")
	for _, off := range []bool{false, true} {
		r, err := ConvertZip(context.Background(), zipPath, Options{ModTime: time.Unix(1700000000, 0), NoPycRewrite: off})
		require.NoError(t, err)
		root := filepath.Join(extractLayer(t, r), "opt")
		require.NoError(t, r.Close())

		cmd := exec.Command("python3", "-I", "-B", "-v", "-c",
			"import sys; sys.path.insert(0, sys.argv[1]); import mod_valid, mod_odd, mod_frac, mod_stale, pkg.sub; print(pkg.sub.x.X)", root)
		cmd.Env = toolEnv()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, stderr.String())
		assert.Equal(t, "data\n", string(out))
		log := stderr.String()
		for _, m := range []string{"mod_valid", "mod_odd", "mod_frac", "pkg", "pkg.sub", "pkg.x"} {
			stale := "# bytecode is stale for '" + m + "'"
			file := m
			if m == "pkg" {
				file = "pkg.__init__"
			}
			parts := strings.Split(file, ".")
			src := filepath.Join(append([]string{root}, parts...)...) + ".py"
			matches := " matches " + src + "\n"
			if off {
				assert.Contains(t, log, stale, "without the rewrite")
				assert.NotContains(t, log, matches, "without the rewrite")
			} else {
				assert.NotContains(t, log, stale)
				assert.Contains(t, log, matches)
			}
		}
		assert.Contains(t, log, "# bytecode is stale for 'mod_stale'", "stale stays stale")
	}
}
