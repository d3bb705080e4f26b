package layerconv

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConvertZipRefuses(t *testing.T) {
	file := func(name string) zent { return zent{name: name, body: "x", mode: 0o644} }
	tests := []struct {
		name  string
		ents  []zent
		want  error
		entry string // the entry the message must name
		msg   string // more of the message
	}{
		{"parent traversal", []zent{file("../x")}, ErrPathEscapes, "../x", "path escapes the root"},
		{"traversal after a dir", []zent{file("a/../../x")}, ErrPathEscapes, "a/../../x", ""},
		{"absolute", []zent{file("/etc/passwd")}, ErrAbsolutePath, "/etc/passwd", ""},
		{"windows traversal", []zent{{name: `..\evil`, body: "x"}}, ErrPathEscapes, `..\evil`, ""},
		{"NUL in name", []zent{file("a\x00b")}, ErrInvalidName, "a\x00b", "NUL"},
		{"invalid UTF-8", []zent{file("a\xffb")}, ErrInvalidName, "a\xffb", "UTF-8"},
		{"duplicate after normalisation", []zent{file("a/x"), file("./a//x")}, ErrDuplicate, "./a//x", ""},
		{"duplicate directories", []zent{{name: "d/", mode: fs.ModeDir | 0o755}, {name: "./d/", mode: fs.ModeDir | 0o755}}, ErrDuplicate, "", ""},
		{"file and directory", []zent{file("a"), {name: "a/", mode: fs.ModeDir | 0o755}}, ErrFileDirConflict, "", ""},
		{"file used as a parent", []zent{file("a"), file("a/b")}, ErrFileDirConflict, "a/b", ""},
		{"below a symlink", []zent{{name: "lib", body: "/tmp", mode: fs.ModeSymlink | 0o777}, file("lib/x")}, ErrBelowSymlink, "lib/x", `"lib"`},
		{"below a symlinked dir deeper", []zent{{name: "a/l", body: "..", mode: fs.ModeSymlink | 0o777}, {name: "a/l/b/", mode: fs.ModeDir | 0o755}, file("a/l/b/c")}, ErrBelowSymlink, "", ""},
		{"encrypted", []zent{{name: "secret", body: "x", mode: 0o644, raw: true, hdr: func(h *zip.FileHeader) { h.Flags |= 1 }}}, ErrEncrypted, "secret", ""},
		{"bzip2", []zent{{name: "b", body: "x", mode: 0o644, raw: true, hdr: func(h *zip.FileHeader) { h.Method = 12 }}}, ErrUnsupportedMethod, "b", "12 (bzip2)"},
		{"CRC mismatch", []zent{{name: "c", body: "hello", mode: 0o644, method: zip.Deflate, raw: true, crc: 0xdeadbeef}}, ErrChecksum, "c", ""},
		{"content longer than declared", []zent{{name: "l", body: "hello world", mode: 0o644, method: zip.Deflate, raw: true, usize: 5}}, ErrSizeMismatch, "l", "declared size differs"},
		{"content shorter than declared", []zent{{name: "s", body: "hi", mode: 0o644, method: zip.Deflate, raw: true, usize: 50}}, ErrSizeMismatch, "s", ""},
		{"stored size mismatch", []zent{{name: "st", body: "hello", mode: 0o644, raw: true, usize: 3}}, ErrSizeMismatch, "st", ""},
		{"named pipe", []zent{{name: "p", mode: fs.ModeNamedPipe | 0o644}}, ErrUnsupportedType, "p", "named pipe"},
		{"device", []zent{{name: "dev", mode: fs.ModeDevice | 0o644}}, ErrUnsupportedType, "dev", "block device"},
		{"empty symlink", []zent{{name: "l", mode: fs.ModeSymlink | 0o777}}, ErrInvalidSymlink, "l", ""},
		{"file named like the root", []zent{file(".")}, ErrInvalidName, ".", ""},
		{"whiteout file", []zent{file("python/.wh.app.py")}, ErrWhiteout, "python/.wh.app.py", `".wh.app.py"`},
		{"opaque whiteout", []zent{file(".wh..wh..opq")}, ErrWhiteout, ".wh..wh..opq", "OCI whiteout"},
		{"whiteout directory", []zent{{name: "a/.wh.b/", mode: fs.ModeDir | 0o755}}, ErrWhiteout, "a/.wh.b/", ""},
		{"whiteout as a parent", []zent{file("a/.wh.b/c")}, ErrWhiteout, "a/.wh.b/c", ""},
		{"whiteout stepped out of", []zent{file("a/.wh.b/../c")}, ErrWhiteout, "a/.wh.b/../c", ""},
		{"windows whiteout", []zent{{name: `lib\.wh.x`, body: "x"}}, ErrWhiteout, `lib\.wh.x`, ""},
		{"whiteout symlink", []zent{{name: ".wh.lib", body: "x", mode: fs.ModeSymlink | 0o777}}, ErrWhiteout, ".wh.lib", ""},
		{"dot-dot through a symlink", []zent{{name: "d/lnk", body: "/etc", mode: fs.ModeSymlink | 0o777}, file("d/lnk/../x")}, ErrBelowSymlink, "d/lnk/../x", `"d/lnk"`},
		{"dot-dot through a symlinked ancestor", []zent{{name: "a/l", body: "/", mode: fs.ModeSymlink | 0o777}, file("a/l/x/../../y")}, ErrBelowSymlink, "a/l/x/../../y", `"a/l"`},
		{"dot-dot through a symlink, listed later", []zent{file("l/../x"), {name: "l", body: "/", mode: fs.ModeSymlink | 0o777}}, ErrBelowSymlink, "l/../x", `"l"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeZip(t, tt.ents)
			tmp := t.TempDir()
			r, err := ConvertZip(context.Background(), p, Options{TempDir: tmp})
			require.Error(t, err)
			assert.Nil(t, r)
			assert.ErrorIs(t, err, tt.want)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, p, ce.Source)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "layerconv: "+p+": "), msg)
			if tt.entry != "" {
				assert.Equal(t, tt.entry, ce.Entry)
				assert.Contains(t, msg, fmt.Sprintf("entry %q: ", tt.entry))
			}
			assert.Contains(t, msg, tt.msg)
			assertEmptyDir(t, tmp)
		})
	}
}

func TestErrorMessageShape(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "layer.zip"), buildZip(t, []zent{{name: "../x", body: "x", mode: 0o644}}), 0o644))
	t.Chdir(dir)
	_, err := ConvertZip(context.Background(), "layer.zip", Options{})
	require.Error(t, err)
	assert.Equal(t, `layerconv: layer.zip: entry "../x": path escapes the root`, err.Error())
}

func TestConvertZipRefusesCorruptArchives(t *testing.T) {
	good := buildZip(t, []zent{
		{name: "a.txt", body: strings.Repeat("hello lambda ", 1000), mode: 0o644, method: zip.Deflate},
		{name: "b.txt", body: strings.Repeat("more text ", 1000), mode: 0o644, method: zip.Deflate},
	})
	flipped := bytes.Clone(good)
	// Damage the deflate stream of the first entry (after its 30-byte
	// local header and name).
	for i := 40; i < 60; i++ {
		flipped[i] ^= 0x5a
	}
	tests := map[string][]byte{
		"empty":            {},
		"not a zip":        []byte("this is not a zip file at all, just text"),
		"truncated":        good[:len(good)/2],
		"no central dir":   good[:len(good)-30],
		"damaged deflate":  flipped,
		"garbage appended": append(bytes.Repeat([]byte{0xff}, 10), good[10:]...),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := convertBytes(t, data, Options{})
			require.Error(t, err)
			assert.Nil(t, r)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrChecksum) || errors.Is(err, ErrSizeMismatch), err.Error())
		})
	}
}

// A bomb is refused from the central directory alone: the entry's data is
// not even valid deflate, so any attempt to inflate it would fail with a
// different error.
func TestConvertZipRefusesBombBeforeInflating(t *testing.T) {
	data := buildZip(t, []zent{
		{name: "small", body: "x", mode: 0o644, method: zip.Deflate, raw: true},
		{name: "bomb", comp: "\xff\xffnot deflate", mode: 0o644, method: zip.Deflate, raw: true, usize: 20 << 30},
	})
	r, err := convertBytes(t, data, Options{})
	require.Error(t, err)
	assert.Nil(t, r)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.NotErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "10737418240")

	// Under a custom limit, the same holds for a sum of sizes.
	var ents []zent
	for i := range 10 {
		ents = append(ents, zent{name: fmt.Sprintf("f%d", i), comp: "\xff\xffgarbage", mode: 0o644, method: zip.Deflate, raw: true, usize: 1000})
	}
	_, err = convertBytes(t, buildZip(t, ents), Options{MaxSize: 9999})
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = convertBytes(t, buildZip(t, ents), Options{MaxSize: 10000})
	assert.ErrorIs(t, err, ErrCorrupt, "within the limit, the garbage is inflated and refused")
}

// assertEmptyDir fails unless dir exists and holds nothing.
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.Empty(t, names, "left behind in %s", dir)
}

// Failures found only while content streams, after part of the layer is
// written, leave nothing behind: not in Options.TempDir, not in the cache.
func TestMidStreamFailureLeavesNoOutput(t *testing.T) {
	big := strings.Repeat("lambda layer content\n", 200_000) // 4 MB: several compressed blocks out first
	tests := map[string]struct {
		bad  zent
		want error
	}{
		"CRC mismatch":         {zent{name: "z/crc", body: "hello", mode: 0o644, method: zip.Deflate, raw: true, crc: 0xdeadbeef}, ErrChecksum},
		"content longer":       {zent{name: "z/long", body: "hello world", mode: 0o644, method: zip.Deflate, raw: true, usize: 5}, ErrSizeMismatch},
		"content shorter":      {zent{name: "z/short", body: "hi", mode: 0o644, method: zip.Deflate, raw: true, usize: 50}, ErrSizeMismatch},
		"symlink CRC mismatch": {zent{name: "z/link", body: "target", mode: fs.ModeSymlink | 0o777, raw: true, crc: 1}, ErrChecksum},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := writeZip(t, []zent{{name: "a/big", body: big, mode: 0o644, method: zip.Deflate}, tt.bad})
			for _, cached := range []bool{false, true} {
				tmp, cache := t.TempDir(), ""
				if cached {
					cache = t.TempDir()
				}
				r, err := ConvertZip(context.Background(), p, Options{TempDir: tmp, CacheDir: cache})
				require.Error(t, err)
				assert.Nil(t, r)
				assert.ErrorIs(t, err, tt.want)
				assert.Contains(t, err.Error(), fmt.Sprintf("entry %q", tt.bad.name))
				assertEmptyDir(t, tmp)
				if cached {
					assertEmptyDir(t, filepath.Join(cache, "layerconv", "tmp"))
					assert.NoDirExists(t, filepath.Join(cache, "layerconv", "blobs"))
					assert.NoDirExists(t, filepath.Join(cache, "layerconv", "keys"))
				}
			}
		})
	}
}

// The local header's name must be the central directory's: tools that
// stream a zip read the local one (z/lhdiff.zip: local "/etc", central
// "safe" was converted to opt/safe).
func TestConvertZipRefusesLocalNameMismatch(t *testing.T) {
	good := buildZip(t, []zent{{name: "ok", body: "fine", mode: 0o644}, {name: "safe", body: "x", mode: 0o644}})
	second := bytes.Index(good[4:], []byte("PK\x03\x04")) + 4 // the second local header
	require.Greater(t, second, 4)
	require.Equal(t, "safe", string(good[second+30:second+34]))

	sameLen := bytes.Clone(good)
	copy(sameLen[second+30:], "/etc")
	shorter := bytes.Clone(good)
	shorter[second+26] = 3 // local name "saf", the rest read as the extra field
	shorter[second+28]++

	for name, data := range map[string][]byte{"same length": sameLen, "other length": shorter} {
		t.Run(name, func(t *testing.T) {
			r, err := convertBytes(t, data, Options{})
			require.Error(t, err)
			assert.Nil(t, r)
			assert.ErrorIs(t, err, ErrCorrupt)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "safe", ce.Entry)
			assert.Contains(t, err.Error(), "the local header names it")
		})
	}
	r, err := convertBytes(t, good, Options{})
	require.NoError(t, err, "control: the untouched zip converts")
	assert.Equal(t, 2, r.Files)
}

func TestSourceDateEpochValidation(t *testing.T) {
	tests := []struct {
		value string
		want  int64 // -1: refused
	}{
		{"0", 0},
		{"1700000000", 1700000000},
		{"253402300799", 253402300799},
		{"253402300800", -1},
		{"99999999999999999999", -1},
		{"+5", -1},
		{"-5", -1},
		{"-0", -1},
		{" 5", -1},
		{"5\n", -1},
		{"1e9", -1},
		{"0x10", -1},
		{"yesterday", -1},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := ModTimeFromEnv(func(k string) string {
				if k == "SOURCE_DATE_EPOCH" {
					return tt.value
				}
				return ""
			})
			if tt.want < 0 {
				require.Error(t, err)
				assert.Contains(t, err.Error(), fmt.Sprintf("SOURCE_DATE_EPOCH=%q", tt.value))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Unix())
		})
	}
	// The same bound holds for an explicit ModTime.
	p := writeZip(t, []zent{{name: "a", body: "a", mode: 0o644}})
	_, err := ConvertZip(context.Background(), p, Options{ModTime: time.Unix(MaxSourceDateEpoch+1, 0)})
	assert.ErrorContains(t, err, "9999-12-31")
	r, err := ConvertZip(context.Background(), p, Options{ModTime: time.Unix(MaxSourceDateEpoch, 0)})
	require.NoError(t, err)
	r.Close()
}

func TestPrefixWhiteoutRefused(t *testing.T) {
	p := writeZip(t, []zent{{name: "a", body: "a", mode: 0o644}})
	_, err := ConvertZip(context.Background(), p, Options{Prefix: "/opt/.wh.x"})
	assert.ErrorIs(t, err, ErrWhiteout)
}
