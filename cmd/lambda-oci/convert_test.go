package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// writeTestZip is a layer zip of name -> body; files under bin/ executable.
func writeTestZip(t *testing.T, files map[string]string) string {
	t.Helper()
	var fs []testutil.File
	for name, body := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "bin/") {
			mode = 0o755
		}
		fs = append(fs, testutil.F(name, mode, body))
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	return testutil.WriteZip(t, "layer.zip", fs...)
}

type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI is runCmd's result as one value.
func runCLI(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	code, stdout, stderr := runCmd(t, env, args...)
	return cliResult{code, stdout, stderr}
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestConvertPrintsDigest(t *testing.T) {
	zipPath := writeTestZip(t, map[string]string{"python/app.py": "print('hi')\n", "bin/tool": "#!/bin/sh\n"})
	out := filepath.Join(t.TempDir(), "layer.tar.gz")
	res := runCLI(t, nil, "convert", zipPath, "-o", out, "--no-cache")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, sha256File(t, out)+"\n", res.stdout)
	assert.Empty(t, res.stderr)
}

func TestConvertJSONAndCache(t *testing.T) {
	zipPath := writeTestZip(t, map[string]string{"nodejs/node_modules/x/index.js": "module.exports = 1\n", "__MACOSX/._x": "junk"})
	cache := filepath.Join(t.TempDir(), "cache")
	env := map[string]string{"LAMBDA_OCI_CACHE_DIR": cache, "SOURCE_DATE_EPOCH": "1700000000"}
	out := filepath.Join(t.TempDir(), "layer.tar.gz")

	var first map[string]any
	for i, wantHit := range []bool{false, true} {
		res := runCLI(t, env, "convert", zipPath, "-o", out, "--prefix", "/var/task", "--json")
		require.Equal(t, 0, res.code, res.stderr)
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
		for _, k := range []string{"digest", "diffID", "size", "uncompressedSize", "files", "dirs", "symlinks", "dropped", "normalized", "pycRewritten"} {
			assert.Contains(t, got, k)
		}
		assert.Equal(t, sha256File(t, out), got["digest"])
		fi, err := os.Stat(out)
		require.NoError(t, err)
		assert.EqualValues(t, fi.Size(), got["size"])
		assert.EqualValues(t, 1, got["files"])
		// var/, var/task/, nodejs/, node_modules/, x/
		assert.EqualValues(t, 5, got["dirs"])
		assert.Equal(t, []any{"__MACOSX/._x"}, got["dropped"])
		assert.Equal(t, wantHit, got["cacheHit"], "run %d", i)
		if i == 0 {
			first = got
		} else {
			delete(got, "cacheHit")
			delete(first, "cacheHit")
			assert.Equal(t, first, got)
		}
	}
	assert.DirExists(t, filepath.Join(cache, "layerconv"))

	// A different SOURCE_DATE_EPOCH is a different layer.
	env["SOURCE_DATE_EPOCH"] = "0"
	res := runCLI(t, env, "convert", zipPath, "-o", out, "--prefix", "/var/task")
	require.Equal(t, 0, res.code, res.stderr)
	assert.NotEqual(t, first["digest"], strings.TrimSpace(res.stdout))
}

func TestConvertNoCacheWritesNoCache(t *testing.T) {
	zipPath := writeTestZip(t, map[string]string{"a.txt": "a"})
	cache := filepath.Join(t.TempDir(), "cache")
	out := filepath.Join(t.TempDir(), "layer.tar.gz")
	res := runCLI(t, map[string]string{"LAMBDA_OCI_CACHE_DIR": cache}, "convert", zipPath, "-o", out, "--no-cache")
	require.Equal(t, 0, res.code, res.stderr)
	assert.NoDirExists(t, cache)
	assert.FileExists(t, out)

	res = runCLI(t, nil, "convert", zipPath, "-o", out, "--cache-dir", cache)
	require.Equal(t, 0, res.code, res.stderr)
	assert.DirExists(t, cache)
}

// writeRawZip writes a zip whose entries carry the given CRC-32 and
// uncompressed size in their headers (0: the true value), so a test can
// make an archive lie about an entry. bodies are stored deflated.
func writeRawZip(t *testing.T, ents []rawEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		var comp bytes.Buffer
		fw, err := flate.NewWriter(&comp, flate.DefaultCompression)
		require.NoError(t, err)
		_, err = fw.Write([]byte(e.body))
		require.NoError(t, err)
		require.NoError(t, fw.Close())
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE([]byte(e.body)),
			UncompressedSize64: uint64(len(e.body)), CompressedSize64: uint64(comp.Len())}
		fh.SetMode(0o644)
		if e.crc != 0 {
			fh.CRC32 = e.crc
		}
		if e.usize != 0 {
			fh.UncompressedSize64 = e.usize
		}
		w, err := zw.CreateRaw(fh)
		require.NoError(t, err)
		_, err = w.Write(comp.Bytes())
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	p := filepath.Join(t.TempDir(), "bad.zip")
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	return p
}

type rawEntry struct {
	name, body string
	crc        uint32
	usize      uint64
}

// A refused input leaves nothing: no output, no temporary file beside it,
// no parent directory convert created, whether the refusal comes from the
// names (before anything is written) or from content found wrong after
// megabytes of the layer are out (CRC, sizes), with or without the cache.
func TestConvertRefusalLeavesNoOutput(t *testing.T) {
	big := rawEntry{name: "a/big", body: strings.Repeat("lambda layer content\n", 200_000)} // 4 MB
	tests := map[string]struct {
		ents []rawEntry
		want string
	}{
		"path escape":     {[]rawEntry{{name: "../escape", body: "x"}}, `entry "../escape": path escapes the root`},
		"whiteout":        {[]rawEntry{{name: "python/.wh.app.py", body: "x"}}, `entry "python/.wh.app.py": name starts with .wh.`},
		"CRC mismatch":    {[]rawEntry{big, {name: "z/crc", body: "hello", crc: 0xdeadbeef}}, `entry "z/crc": CRC-32 mismatch`},
		"content longer":  {[]rawEntry{big, {name: "z/long", body: "hello world", usize: 5}}, `entry "z/long": declared size differs from the content`},
		"content shorter": {[]rawEntry{big, {name: "z/short", body: "hi", usize: 50}}, `entry "z/short": declared size differs from the content`},
	}
	for name, tt := range tests {
		for _, cache := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/cache=%v", name, cache), func(t *testing.T) {
				zipPath := writeRawZip(t, tt.ents)
				dir := t.TempDir()
				args := []string{"convert", zipPath, "-o", filepath.Join(dir, "existing", "layer.tar.gz")}
				require.NoError(t, os.Mkdir(filepath.Join(dir, "existing"), 0o755))
				cacheDir := filepath.Join(t.TempDir(), "cache")
				if cache {
					args = append(args, "--cache-dir", cacheDir)
				} else {
					args = append(args, "--no-cache")
				}
				res := runCLI(t, nil, args...)
				assert.Equal(t, 1, res.code)
				assert.Empty(t, res.stdout)
				assert.True(t, strings.HasPrefix(res.stderr, "lambda-oci: layerconv: "+zipPath+": "+tt.want), res.stderr)
				assertDirEmpty(t, filepath.Join(dir, "existing"))

				// Parents convert had to create are gone again.
				args[3] = filepath.Join(dir, "new", "sub", "layer.tar.gz")
				res = runCLI(t, nil, args...)
				assert.Equal(t, 1, res.code)
				assert.NoDirExists(t, filepath.Join(dir, "new"))
				if cache {
					assert.NoDirExists(t, filepath.Join(cacheDir, "layerconv", "blobs"))
					if tmp := filepath.Join(cacheDir, "layerconv", "tmp"); strings.HasPrefix(name, "content") || name == "CRC mismatch" {
						assertDirEmpty(t, tmp) // the conversion had started
					}
				}
			})
		}
	}
}

func assertDirEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Empty(t, names, "left in %s", dir)
}

// convert -o creates missing parents, refuses a directory as the output,
// and without the cache never writes the layer to the system temporary
// directory (it is written beside the output and linked into place).
func TestConvertOutputPlacement(t *testing.T) {
	zipPath := writeTestZip(t, map[string]string{"python/app.py": "print('hi')\n"})
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "does-not-exist"))
	out := filepath.Join(t.TempDir(), "a", "b", "layer.tar.gz")
	res := runCLI(t, nil, "convert", zipPath, "-o", out, "--no-cache")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, sha256File(t, out)+"\n", res.stdout)
	fi, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o644), fi.Mode().Perm())
	assertDirEmptyBut(t, filepath.Dir(out), "layer.tar.gz")

	res = runCLI(t, nil, "convert", zipPath, "-o", filepath.Dir(out), "--no-cache")
	assert.Equal(t, 1, res.code)
	assert.Equal(t, "lambda-oci: layerconv: output "+filepath.Dir(out)+" is a directory: name the .tar.gz file to write\n", res.stderr)
}

func assertDirEmptyBut(t *testing.T, dir string, keep string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{keep}, names)
}

func TestConvertInterrupted(t *testing.T) {
	zipPath := writeTestZip(t, map[string]string{"python/app.py": "print('hi')\n"})
	out := filepath.Join(t.TempDir(), "layer.tar.gz")
	for _, args := range [][]string{{"--no-cache"}, {"--cache-dir", filepath.Join(t.TempDir(), "c")}} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // as Ctrl-C does through main's signal.NotifyContext
		var stdout, stderr bytes.Buffer
		code := run(ctx, append([]string{"convert", zipPath, "-o", out}, args...), &app{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
		assert.Equal(t, 1, code)
		assert.Empty(t, stdout.String())
		assert.Equal(t, "lambda-oci: convert: interrupted; "+out+" not written\n", stderr.String())
		assertDirEmpty(t, filepath.Dir(out))
	}
}

func TestConvertUsageErrors(t *testing.T) {
	zipPath := writeTestZip(t, map[string]string{"a.txt": "a"})
	tests := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"no output":       {args: []string{"convert", zipPath}, want: "convert: missing required flag: -o OUT.tar.gz"},
		"relative prefix": {args: []string{"convert", zipPath, "-o", "x.tar.gz", "--prefix", "opt"}, want: "--prefix"},
		"missing input":   {args: []string{"convert", zipPath + ".nope", "-o", "x.tar.gz", "--no-cache"}, want: "no such file"},
		"no args":         {args: []string{"convert"}, want: "accepts 1 arg"},
		"bad epoch":       {args: []string{"convert", zipPath, "-o", "x.tar.gz"}, env: map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, want: `SOURCE_DATE_EPOCH="yesterday"`},
		"signed epoch":    {args: []string{"convert", zipPath, "-o", "x.tar.gz"}, env: map[string]string{"SOURCE_DATE_EPOCH": "+5"}, want: `SOURCE_DATE_EPOCH="+5"`},
		"epoch past 9999": {args: []string{"convert", zipPath, "-o", "x.tar.gz"}, env: map[string]string{"SOURCE_DATE_EPOCH": "253402300800"}, want: `SOURCE_DATE_EPOCH="253402300800": want whole seconds since 1970 (digits only, at most 253402300799)`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			res := runCLI(t, tt.env, tt.args...)
			assert.Equal(t, wantCode(name, map[string]int{"no args": exitUsage, "no output": exitUsage, "relative prefix": exitUsage}), res.code)
			assert.Empty(t, res.stdout)
			assert.Contains(t, res.stderr, tt.want)
			assert.NoFileExists(t, "x.tar.gz")
		})
	}
}

func TestConvertDirectory(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "app.py"), []byte("def handler(e, c): return 1\n"), 0o600))
	out := filepath.Join(t.TempDir(), "code.tar.gz")
	res := runCLI(t, map[string]string{"LAMBDA_OCI_CACHE_DIR": filepath.Join(t.TempDir(), "c")}, "convert", src, "-o", out, "--prefix", "/var/task", "--json")
	require.Equal(t, 0, res.code, res.stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
	assert.Equal(t, sha256File(t, out), got["digest"])
	assert.EqualValues(t, 1, got["files"])
	assert.EqualValues(t, 2, got["dirs"])
	assert.EqualValues(t, 1, got["normalized"], "0600 became 0644")
	assert.Equal(t, []any{}, got["dropped"])
}

// convert IN -o OUT refuses an OUT that is IN itself (same file, however
// named) before converting, and leaves IN and its directory as they were.
func TestConvertRefusesOutputThatIsTheInput(t *testing.T) {
	tests := map[string]func(t *testing.T, in string) string{
		"same path": func(t *testing.T, in string) string { return in },
		"../ spelling": func(t *testing.T, in string) string {
			dir := filepath.Dir(in)
			return filepath.Join(dir, "..", filepath.Base(dir)) + "/./" + filepath.Base(in)
		},
		"hard link": func(t *testing.T, in string) string {
			p := filepath.Join(filepath.Dir(in), "link.zip")
			require.NoError(t, os.Link(in, p))
			return p
		},
	}
	for name, spell := range tests {
		for _, cache := range []string{"--no-cache", "--cache-dir"} {
			t.Run(name+"/"+cache, func(t *testing.T) {
				in := writeTestZip(t, map[string]string{"python/app.py": "print('hi')\n"})
				out := spell(t, in)
				want := sha256File(t, in)
				ents, err := os.ReadDir(filepath.Dir(in))
				require.NoError(t, err)
				args := []string{"convert", in, "-o", out, cache}
				cacheDir := filepath.Join(t.TempDir(), "cache")
				if cache == "--cache-dir" {
					args = append(args, cacheDir)
				}
				res := runCLI(t, nil, args...)
				assert.Equal(t, 1, res.code)
				assert.Empty(t, res.stdout)
				assert.Equal(t, fmt.Sprintf("lambda-oci: layerconv: write %s: would overwrite the input %s (the same file)\n", filepath.Clean(out), in), res.stderr)
				assert.Equal(t, want, sha256File(t, in), "the input is intact")
				after, err := os.ReadDir(filepath.Dir(in))
				require.NoError(t, err)
				assert.Equal(t, ents, after, "nothing written beside it")
				assert.NoDirExists(t, cacheDir, "refused before converting")
			})
		}
	}
}

// convert --json counts the .pyc files kept valid, in the cache too;
// --no-pyc-rewrite leaves them stale, a layer of its own.
func TestConvertPycRewritten(t *testing.T) {
	const mtime = 1600000000
	src := "x = 1\n"
	pyc := make([]byte, 16, 32)
	binary.LittleEndian.PutUint16(pyc, 3495) // CPython 3.11
	copy(pyc[2:], "\r\n")
	binary.LittleEndian.PutUint32(pyc[8:], mtime)
	binary.LittleEndian.PutUint32(pyc[12:], uint32(len(src)))
	pyc = append(pyc, "\xe3code"...)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{
		{"python/m.py", src},
		{"python/__pycache__/m.cpython-311.pyc", string(pyc)},
	} {
		fh := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: time.Unix(mtime, 0)}
		fh.SetMode(0o644)
		w, err := zw.CreateHeader(fh)
		require.NoError(t, err)
		_, err = w.Write([]byte(f.body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	zipPath := filepath.Join(t.TempDir(), "layer.zip")
	require.NoError(t, os.WriteFile(zipPath, buf.Bytes(), 0o644))

	env := map[string]string{"LAMBDA_OCI_CACHE_DIR": filepath.Join(t.TempDir(), "cache")}
	out := filepath.Join(t.TempDir(), "layer.tar.gz")
	digests := map[string]bool{}
	for _, tc := range []struct {
		flags    []string
		want     int
		cacheHit bool
	}{
		{nil, 1, false},
		{nil, 1, true},
		{[]string{"--no-pyc-rewrite"}, 0, false},
		{[]string{"--no-pyc-rewrite"}, 0, true},
	} {
		res := runCLI(t, env, append([]string{"convert", zipPath, "-o", out, "--json"}, tc.flags...)...)
		require.Equal(t, 0, res.code, res.stderr)
		var got convertJSON
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
		assert.Equal(t, tc.want, got.PycRewritten, "%v", tc.flags)
		assert.Equal(t, tc.cacheHit, got.CacheHit, "%v", tc.flags)
		digests[got.Digest] = true
	}
	assert.Len(t, digests, 2)
}
