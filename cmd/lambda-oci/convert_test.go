package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeTestZip(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		fh := &zip.FileHeader{Name: name, Method: zip.Deflate}
		fh.SetMode(0o644)
		if strings.HasPrefix(name, "bin/") {
			fh.SetMode(0o755)
		}
		w, err := zw.CreateHeader(fh)
		require.NoError(t, err)
		_, err = w.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	p := filepath.Join(t.TempDir(), "layer.zip")
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	return p
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &app{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }})
	return cliResult{code, out.String(), errb.String()}
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
		for _, k := range []string{"digest", "diffID", "size", "uncompressedSize", "files", "dirs", "symlinks", "dropped", "normalized"} {
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

func TestConvertRefusalLeavesNoOutput(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fh := &zip.FileHeader{Name: "../escape"}
	fh.SetMode(fs.FileMode(0o644))
	w, err := zw.CreateHeader(fh)
	require.NoError(t, err)
	w.Write([]byte("x"))
	require.NoError(t, zw.Close())
	zipPath := filepath.Join(dir, "bad.zip")
	require.NoError(t, os.WriteFile(zipPath, buf.Bytes(), 0o644))
	out := filepath.Join(dir, "out", "layer.tar.gz")
	require.NoError(t, os.Mkdir(filepath.Dir(out), 0o755))

	res := runCLI(t, nil, "convert", zipPath, "-o", out, "--no-cache")
	assert.Equal(t, 1, res.code)
	assert.Empty(t, res.stdout)
	assert.Equal(t, "lambda-oci: layerconv: "+zipPath+`: entry "../escape": path escapes the root`+"\n", res.stderr)
	entries, err := os.ReadDir(filepath.Dir(out))
	require.NoError(t, err)
	assert.Empty(t, entries, "no output and no temporary file")
}

func TestConvertUsageErrors(t *testing.T) {
	zipPath := writeTestZip(t, map[string]string{"a.txt": "a"})
	tests := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"no output":       {args: []string{"convert", zipPath}, want: "-o OUT.tar.gz is required"},
		"relative prefix": {args: []string{"convert", zipPath, "-o", "x.tar.gz", "--prefix", "opt"}, want: "--prefix"},
		"missing input":   {args: []string{"convert", zipPath + ".nope", "-o", "x.tar.gz", "--no-cache"}, want: "no such file"},
		"no args":         {args: []string{"convert"}, want: "accepts 1 arg"},
		"bad epoch":       {args: []string{"convert", zipPath, "-o", "x.tar.gz"}, env: map[string]string{"SOURCE_DATE_EPOCH": "yesterday"}, want: "SOURCE_DATE_EPOCH"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			res := runCLI(t, tt.env, tt.args...)
			assert.Equal(t, 1, res.code)
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
