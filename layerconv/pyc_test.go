package layerconv

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Unit tests of the .pyc rules on headers made here; pyc_python_test.go
// has Python make the .pyc files and judge the layer.

// magic311 is CPython 3.11's magic number (3495).
const magic311 = 3495

// pycFile is a .pyc with a PEP 552 header and a stand-in code object.
func pycFile(magic uint16, flags, mtime, size uint32) string {
	var h [pycHeaderLen]byte
	binary.LittleEndian.PutUint16(h[0:], magic)
	h[2], h[3] = '\r', '\n'
	binary.LittleEndian.PutUint32(h[4:], flags)
	binary.LittleEndian.PutUint32(h[8:], mtime)
	binary.LittleEndian.PutUint32(h[12:], size)
	return string(h[:]) + "\xe3code object"
}

func TestPycSourceName(t *testing.T) {
	for _, tc := range []struct {
		name, want string
	}{
		{"__pycache__/m.cpython-311.pyc", "m.py"},
		{"a/b/__pycache__/m.cpython-311.pyc", "a/b/m.py"},
		{"a/__pycache__/m.cpython-311.opt-1.pyc", "a/m.py"},
		{"a/__pycache__/m.cpython-312.opt-2.pyc", "a/m.py"},
		{"a/__pycache__/__init__.cpython-311.pyc", "a/__init__.py"},
		{"a/m.pyc", "a/m.py"},     // legacy
		{"m.pyc", "m.py"},         // legacy at the root
		{"a/m.x.pyc", "a/m.x.py"}, // legacy names are taken whole
		// Not what importlib.util.source_from_cache accepts:
		{"a/__pycache__/m.pyc", ""},
		{"a/__pycache__/m.a.b.c.pyc", ""},
		{"a/__pycache__/m.cpython-311.opt1.pyc", ""},
		{"a/__pycache__/m.cpython-311.opt-.pyc", ""},
		{"a/__pycache__/m.cpython-311.opt-!.pyc", ""},
		{"a/__pycache__/.cpython-311.pyc", ""},
		{"a/x__pycache__/m.cpython-311.pyc", "a/x__pycache__/m.cpython-311.py"},
		{"a/m.py", ""},
		{"a/m.pyo", ""},
		{".pyc", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pycSourceName(tc.name)
			assert.Equal(t, tc.want != "", ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRewritePycHeader(t *testing.T) {
	const srcMtime, srcSize, layer = 1600000000, 42, 1700000000
	src := pycSource{mtime: srcMtime, size: srcSize}
	for _, tc := range []struct {
		name string
		pyc  string
		want bool
	}{
		{"valid", pycFile(magic311, 0, srcMtime, srcSize), true},
		{"valid, 3.7", pycFile(3394, 0, srcMtime, srcSize), true},
		{"valid, a later Python", pycFile(3650, 0, srcMtime, srcSize), true},
		{"stale mtime", pycFile(magic311, 0, srcMtime+1, srcSize), false},
		{"stale size", pycFile(magic311, 0, srcMtime, srcSize+1), false},
		{"unchecked hash", pycFile(magic311, 1, srcMtime, srcSize), false},
		{"checked hash", pycFile(magic311, 3, srcMtime, srcSize), false},
		{"unknown flags", pycFile(magic311, 4, srcMtime, srcSize), false},
		{"before PEP 552", pycFile(3379, 0, srcMtime, srcSize), false},
		{"Python 2", pycFile(62211, 0, srcMtime, srcSize), false},
		{"not a pyc", "\x03\xf3ab" + pycFile(magic311, 0, srcMtime, srcSize)[4:], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h [pycHeaderLen]byte
			copy(h[:], tc.pyc)
			before := h
			assert.Equal(t, tc.want, rewritePycHeader(&h, src, layer))
			want := before
			if tc.want {
				binary.LittleEndian.PutUint32(want[8:], layer)
			}
			assert.Equal(t, want, h)
		})
	}
}

// The header may arrive in pieces; what comes out is the same.
func TestPycWriterPieces(t *testing.T) {
	in := pycFile(magic311, 0, 5, 7) + strings.Repeat("x", 100)
	want := pycFile(magic311, 0, 9, 7) + strings.Repeat("x", 100)
	for _, step := range []int{1, 3, 15, 16, 17, len(in)} {
		var out bytes.Buffer
		var p pycWriter
		p.reset(&out, pycSource{mtime: 5, size: 7}, 9)
		for i := 0; i < len(in); i += step {
			b := []byte(in[i:min(i+step, len(in))])
			orig := string(b)
			n, err := p.Write(b)
			require.NoError(t, err)
			require.Equal(t, len(b), n, "step %d", step)
			require.Equal(t, orig, string(b), "Write must not modify its argument")
		}
		assert.Equal(t, want, out.String(), "step %d", step)
		assert.True(t, p.rewritten)
	}
}

func TestExtTimestamp(t *testing.T) {
	ut := func(flags byte, mtime uint32) []byte {
		b := []byte{0x55, 0x54, 5, 0, flags, 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(b[5:], mtime)
		return b
	}
	other := []byte{0x75, 0x78, 3, 0, 1, 2, 3} // Info-ZIP uid/gid, before it
	for _, tc := range []struct {
		name  string
		extra []byte
		want  uint32
		ok    bool
	}{
		{"none", nil, 0, false},
		{"mtime", ut(1, 1600000001), 1600000001, true},
		{"mtime and atime flags", ut(3, 1600000001), 1600000001, true},
		{"after another field", append(other, ut(1, 7)...), 7, true},
		{"no mtime", ut(2, 9), 0, false},
		{"the 32 bits as they are", ut(1, 0xffffff00), 0xffffff00, true},
		{"truncated", ut(1, 9)[:7], 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := extTimestamp(tc.extra)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDirPycSource(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.py")
	require.NoError(t, os.WriteFile(p, []byte("x = 1\n"), 0o644))
	for _, tc := range []struct {
		mtime time.Time
		want  uint32
	}{
		{time.Unix(1600000001, 0), 1600000001},
		{time.Unix(1600000001, 999_000_000), 1600000001},
		// st_mtime is a double: 1600000001.99999999 is 1600000002.0.
		{time.Unix(1600000001, 999_999_990), 1600000002},
		// int() truncates toward zero.
		{time.Unix(-2, 500_000_000), 0xffffffff},
	} {
		require.NoError(t, os.Chtimes(p, tc.mtime, tc.mtime))
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, pycSource{mtime: tc.want, size: 6}, dirPycSource(fi), "%v", tc.mtime)
	}
}

// dosTime sets an entry's DOS time (no extended timestamp), as Python's
// zipfile writes it.
func dosTime(t time.Time) func(*zip.FileHeader) {
	return func(fh *zip.FileHeader) {
		t = t.UTC()
		fh.ModifiedDate = uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
		fh.ModifiedTime = uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	}
}

// extTime sets an entry's time the way the zip command does: DOS time
// plus an extended timestamp (archive/zip writes both from Modified).
func extTime(t time.Time) func(*zip.FileHeader) {
	return func(fh *zip.FileHeader) { fh.Modified = t }
}

func TestConvertPycZip(t *testing.T) {
	const (
		even  = 1600000000
		odd   = 1600000001
		layer = 1700000000
	)
	src := "x = 1\n"
	valid := pycFile(magic311, 0, even, uint32(len(src)))
	rewritten := pycFile(magic311, 0, layer, uint32(len(src)))
	validOdd := pycFile(magic311, 0, odd, uint32(len(src)))
	stale := pycFile(magic311, 0, even-10, uint32(len(src)))
	hashed := pycFile(magic311, 3, even, uint32(len(src)))
	ext, dos := extTime(time.Unix(even, 0)), dosTime(time.Unix(even, 0))
	extOdd, dosOdd := extTime(time.Unix(odd, 0)), dosTime(time.Unix(odd, 0))

	for _, tc := range []struct {
		name  string
		ents  []zent
		opts  Options
		want  map[string]string // .pyc path in the layer -> content
		count int
	}{{
		name: "valid, extended timestamp",
		ents: []zent{
			{name: "python/m.py", body: src, mode: 0o644, hdr: ext},
			{name: "python/__pycache__/m.cpython-311.pyc", body: valid, mode: 0o644, hdr: ext},
		},
		want:  map[string]string{"opt/python/__pycache__/m.cpython-311.pyc": rewritten},
		count: 1,
	}, {
		name: ".pyc before its source, opt level, legacy, under /var/task",
		ents: []zent{
			{name: "__pycache__/m.cpython-311.opt-1.pyc", body: valid, mode: 0o644, hdr: dos},
			{name: "m.pyc", body: valid, mode: 0o644, hdr: dos},
			{name: "m.py", body: src, mode: 0o644, hdr: dos},
		},
		opts: Options{Prefix: CodePrefix},
		want: map[string]string{
			"var/task/__pycache__/m.cpython-311.opt-1.pyc": rewritten,
			"var/task/m.pyc": rewritten,
		},
		count: 2,
	}, {
		name: "odd second, DOS time only: stale as extracted",
		ents: []zent{
			{name: "m.py", body: src, mode: 0o644, hdr: dosOdd},
			{name: "__pycache__/m.cpython-311.pyc", body: validOdd, mode: 0o644, hdr: dosOdd},
		},
		want: map[string]string{"opt/__pycache__/m.cpython-311.pyc": validOdd},
	}, {
		name: "odd second, extended timestamp",
		ents: []zent{
			{name: "m.py", body: src, mode: 0o644, hdr: extOdd},
			{name: "__pycache__/m.cpython-311.pyc", body: validOdd, mode: 0o644, hdr: extOdd},
		},
		want:  map[string]string{"opt/__pycache__/m.cpython-311.pyc": rewritten},
		count: 1,
	}, {
		name: "stale, hash-based, orphan, symlinked source, directory source",
		ents: []zent{
			{name: "s.py", body: src, mode: 0o644, hdr: ext},
			{name: "__pycache__/s.cpython-311.pyc", body: stale, mode: 0o644, hdr: ext},
			{name: "h.py", body: src, mode: 0o644, hdr: ext},
			{name: "__pycache__/h.cpython-311.pyc", body: hashed, mode: 0o644, hdr: ext},
			{name: "__pycache__/gone.cpython-311.pyc", body: valid, mode: 0o644, hdr: ext},
			{name: "l.py", body: "s.py", mode: fs.ModeSymlink | 0o777, hdr: ext},
			{name: "__pycache__/l.cpython-311.pyc", body: pycFile(magic311, 0, even, 4), mode: 0o644, hdr: ext},
			{name: "d.py/", mode: fs.ModeDir | 0o755, hdr: ext},
			{name: "d.pyc", body: pycFile(magic311, 0, even, 0), mode: 0o644, hdr: ext},
			{name: "short.py", body: src, mode: 0o644, hdr: ext},
			{name: "short.pyc", body: valid[:15], mode: 0o644, hdr: ext},
		},
		want: map[string]string{
			"opt/__pycache__/s.cpython-311.pyc":    stale,
			"opt/__pycache__/h.cpython-311.pyc":    hashed,
			"opt/__pycache__/gone.cpython-311.pyc": valid,
			"opt/__pycache__/l.cpython-311.pyc":    pycFile(magic311, 0, even, 4),
			"opt/d.pyc":                            pycFile(magic311, 0, even, 0),
			"opt/short.pyc":                        valid[:15],
		},
	}, {
		name: "turned off",
		ents: []zent{
			{name: "m.py", body: src, mode: 0o644, hdr: ext},
			{name: "__pycache__/m.cpython-311.pyc", body: valid, mode: 0o644, hdr: ext},
		},
		opts: Options{NoPycRewrite: true},
		want: map[string]string{"opt/__pycache__/m.cpython-311.pyc": valid},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.ModTime = time.Unix(layer, 0)
			data := buildZip(t, tc.ents)
			r, err := convertBytes(t, data, tc.opts)
			require.NoError(t, err)
			got := map[string]string{}
			for _, e := range readResult(t, r) {
				if strings.HasSuffix(e.Name, ".pyc") {
					got[e.Name] = e.Body
				}
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.count, r.PycRewritten)

			again, err := convertBytes(t, data, tc.opts)
			require.NoError(t, err)
			assert.Equal(t, r.Digest, again.Digest, "deterministic")
		})
	}
}

func TestConvertPycDir(t *testing.T) {
	const layer = 1700000000
	d := t.TempDir()
	src := "x = 1\n"
	mt := time.Unix(1600000001, 250_000_000)
	write := func(name, body string) {
		p := filepath.Join(d, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		require.NoError(t, os.Chtimes(p, mt, mt))
	}
	write("pkg/m.py", src)
	write("pkg/__pycache__/m.cpython-311.pyc", pycFile(magic311, 0, 1600000001, uint32(len(src))))
	write("pkg/s.py", src+"# edited\n")
	write("pkg/__pycache__/s.cpython-311.pyc", pycFile(magic311, 0, 1600000001, uint32(len(src))))

	for _, off := range []bool{false, true} {
		r, err := ConvertDir(context.Background(), d, Options{ModTime: time.Unix(layer, 0), Prefix: "/opt/python", NoPycRewrite: off})
		require.NoError(t, err)
		got := map[string]string{}
		for _, e := range readResult(t, r) {
			if strings.HasSuffix(e.Name, ".pyc") {
				got[e.Name] = e.Body
			}
		}
		valid := pycFile(magic311, 0, layer, uint32(len(src)))
		if off {
			valid = pycFile(magic311, 0, 1600000001, uint32(len(src)))
		}
		assert.Equal(t, map[string]string{
			"opt/python/pkg/__pycache__/m.cpython-311.pyc": valid,
			"opt/python/pkg/__pycache__/s.cpython-311.pyc": pycFile(magic311, 0, 1600000001, uint32(len(src))),
		}, got, "off=%v", off)
		assert.Equal(t, map[bool]int{false: 1, true: 0}[off], r.PycRewritten)
		require.NoError(t, r.Close())
	}
}

// The option is part of the cache key, and a hit reports the count.
func TestCachePyc(t *testing.T) {
	src := "x = 1\n"
	p := writeZip(t, []zent{
		{name: "m.py", body: src, mode: 0o644, hdr: extTime(time.Unix(1600000000, 0))},
		{name: "__pycache__/m.cpython-311.pyc", body: pycFile(magic311, 0, 1600000000, uint32(len(src))), mode: 0o644},
	})
	cache := t.TempDir()
	convert := func(off bool) *Result {
		r, err := ConvertZip(context.Background(), p, Options{ModTime: epoch, CacheDir: cache, NoPycRewrite: off})
		require.NoError(t, err)
		t.Cleanup(func() { r.Close() })
		return r
	}
	on1, off1, on2, off2 := convert(false), convert(true), convert(false), convert(true)
	assert.False(t, on1.CacheHit)
	assert.False(t, off1.CacheHit, "another key")
	assert.True(t, on2.CacheHit)
	assert.True(t, off2.CacheHit)
	assert.NotEqual(t, on1.Digest, off1.Digest)
	assert.Equal(t, on1.Digest, on2.Digest)
	assert.Equal(t, 1, on2.PycRewritten)
	assert.Equal(t, 0, off2.PycRewritten)
}
