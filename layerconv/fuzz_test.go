package layerconv

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

func fuzzSeeds(t testing.TB) [][]byte {
	golden, err := os.ReadFile(goldenZip)
	if err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{
		golden,
		{},
		[]byte("PK\x05\x06" + strings.Repeat("\x00", 18)),
		buildZip(t, []zent{{name: "a/b/c", body: "hello", mode: 0o644, method: zip.Deflate}, {name: "a/l", body: "b", mode: fs.ModeSymlink | 0o777}}),
		buildZip(t, []zent{{name: "../x", body: "x", mode: 0o644}}),
		buildZip(t, []zent{{name: "l", body: "/", mode: fs.ModeSymlink | 0o777}, {name: "l/x", body: "x", mode: 0o644}}),
		buildZip(t, []zent{{name: "d/", mode: fs.ModeDir | 0o700}, {name: "d", body: "x", mode: 0o644}}),
		buildZip(t, []zent{{name: `win\dir\bootstrap`, body: "x"}, {name: "bin/x", body: "y"}}),
		buildZip(t, []zent{{name: "c", body: "hello", mode: 0o644, method: zip.Deflate, raw: true, crc: 1}}),
		buildZip(t, []zent{{name: "s", body: "hello world", mode: 0o644, method: zip.Deflate, raw: true, usize: 3}}),
		buildZip(t, []zent{{name: "s", body: "hi", mode: 0o644, raw: true}, {name: "__MACOSX/._s", body: "x"}}),
		buildZip(t, []zent{{name: "python/.wh.app.py", body: "x", mode: 0o644}, {name: ".wh..wh..opq", body: ""}}),
		buildZip(t, []zent{{name: "d/l", body: "/etc", mode: fs.ModeSymlink | 0o777}, {name: "d/l/../x", body: "x", mode: 0o644}}),
	}
	return seeds
}

// FuzzConvert feeds arbitrary bytes to ConvertZip. It must never panic; it
// either refuses the input with a layerconv error or writes a layer that
// archive/tar reads back with every invariant intact.
func FuzzConvert(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		in := filepath.Join(dir, "in.zip")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cache := filepath.Join(dir, "cache")
		r, err := ConvertZip(context.Background(), in, Options{MaxSize: 8 << 20, CacheDir: cache, ModTime: epoch})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "layerconv: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			checkOnly(t, dir, "in.zip", "cache")
			return
		}
		defer r.Close()
		checkLayer(t, r)
		checkOnly(t, dir, "in.zip", "cache")
		hit, err := ConvertZip(context.Background(), in, Options{MaxSize: 8 << 20, CacheDir: cache, ModTime: epoch})
		if err != nil || !hit.CacheHit || !reflect.DeepEqual(hit.Entries, r.Entries) {
			t.Fatalf("cache hit: %v, hit %v, entries equal %v", err, hit != nil && hit.CacheHit, hit != nil && reflect.DeepEqual(hit.Entries, r.Entries))
		}
	})
}

// checkOnly fails when dir holds anything but the given names.
func checkOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		ok := false
		for _, n := range names {
			ok = ok || e.Name() == n
		}
		if !ok {
			t.Fatalf("unexpected %s in %s", e.Name(), dir)
		}
	}
}

// checkLayer verifies a layer's identity and its tar invariants.
func checkLayer(t *testing.T, r *Result) {
	t.Helper()
	comp, err := os.ReadFile(r.blobPath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(comp)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != r.Digest.String() || int64(len(comp)) != r.Size {
		t.Fatalf("digest/size %s/%d, file %s/%d", r.Digest, r.Size, got, len(comp))
	}
	zr, err := gzip.NewReader(strings.NewReader(string(comp)))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(zr, h))
	kinds := map[string]byte{}
	prev := ""
	var files, dirs, links int
	var read []tent // with at most the first 20 bytes of each body
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var head [20]byte
		n, _ := io.ReadFull(tr, head[:])
		read = append(read, tent{Name: hdr.Name, Type: hdr.Typeflag, Mode: hdr.Mode, Linkname: hdr.Linkname, Body: string(head[:n]), Mtime: hdr.ModTime.Unix(), Size: hdr.Size})
		if _, err := io.Copy(io.Discard, tr); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if name != "opt" && !strings.HasPrefix(name, "opt/") {
			t.Fatalf("%q outside the prefix", hdr.Name)
		}
		// Linux could not create it: GNU tar and podman would fail.
		if len(name)+1 > 4095 || len(hdr.Linkname) > 4095 {
			t.Fatalf("%q (%d bytes) -> %d bytes: over PATH_MAX", shorten(hdr.Name), len(name), len(hdr.Linkname))
		}
		for _, c := range strings.Split(name, "/") {
			if c == "" || c == "." || c == ".." {
				t.Fatalf("unclean name %q", hdr.Name)
			}
			if len(c) > 255 {
				t.Fatalf("%q: a component over NAME_MAX", hdr.Name)
			}
			// An OCI unpacker would delete lower-layer files for it.
			if strings.HasPrefix(c, ".wh.") {
				t.Fatalf("whiteout name %q", hdr.Name)
			}
		}
		if prev != "" && cmpPath(prev, name) >= 0 {
			t.Fatalf("%q after %q: not sorted or duplicate", name, prev)
		}
		prev = name
		if i := strings.LastIndexByte(name, '/'); i > 0 {
			if kinds[name[:i]] != tar.TypeDir {
				t.Fatalf("%q: parent %q missing or not a directory", name, name[:i])
			}
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" || hdr.ModTime.Unix() != 0 {
			t.Fatalf("%q: owner or mtime not normalised", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			dirs++
			if hdr.Mode != 0o755 || !strings.HasSuffix(hdr.Name, "/") {
				t.Fatalf("dir %q mode %o", hdr.Name, hdr.Mode)
			}
		case tar.TypeReg:
			files++
			if hdr.Mode != 0o644 && hdr.Mode != 0o755 {
				t.Fatalf("file %q mode %o", hdr.Name, hdr.Mode)
			}
		case tar.TypeSymlink:
			links++
			if hdr.Linkname == "" || hdr.Mode != 0o777 {
				t.Fatalf("symlink %q -> %q mode %o", hdr.Name, hdr.Linkname, hdr.Mode)
			}
		default:
			t.Fatalf("%q: type %c", hdr.Name, hdr.Typeflag)
		}
		kinds[name] = hdr.Typeflag
	}
	io.Copy(h, zr)
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != r.DiffID.String() {
		t.Fatalf("diffID %s, content %s", r.DiffID, got)
	}
	if files != r.Files || dirs != r.Dirs || links != r.Symlinks {
		t.Fatalf("counts %d/%d/%d, result %d/%d/%d", files, dirs, links, r.Files, r.Dirs, r.Symlinks)
	}
	if want := indexOf(read); !reflect.DeepEqual(want, r.Entries) {
		t.Fatalf("Result.Entries %+v, layer %+v", r.Entries, want)
	}
}

// FuzzConvertNames builds well-formed zips from fuzzed names and entry kinds,
// reaching the name, tree and mode rules that byte-level mutation of a zip
// rarely gets past the zip reader to. Each line of names is one entry; the
// matching byte of kinds picks file, directory, symlink or a Windows entry,
// and its executable bit.
func FuzzConvertNames(f *testing.F) {
	f.Add("a/b/c\na/b\n./x//y\n", []byte{0, 1, 2})
	f.Add("lib\nlib/x\n", []byte{2, 0})
	f.Add("__MACOSX/._a\nextensions/._e\nbin\\tool\n", []byte{0, 0, 3})
	f.Add("a\na/\n../b\n", []byte{0, 1, 0})
	f.Add("bootstrap\nbin/x\nextensions/y/z\n", []byte{3, 3, 7})
	f.Add("python/.wh.app.py\n.wh..wh..opq\nx/.wh.d/\n", []byte{0, 0, 1})
	f.Add("d/l\nd/l/../x\n", []byte{2, 0})
	f.Add("a/"+strings.Repeat("n", 256)+"\n"+strings.Repeat("d/", 2100)+"f\n", []byte{0, 0})
	f.Fuzz(func(t *testing.T, names string, kinds []byte) {
		lines := strings.Split(names, "\n")
		if len(lines) > 64 {
			lines = lines[:64]
		}
		var ents []zent
		for i, name := range lines {
			if name == "" {
				continue
			}
			var k byte
			if i < len(kinds) {
				k = kinds[i]
			}
			e := zent{name: name, body: name}
			switch k % 4 {
			case 0:
				e.mode = 0o644
				if k&4 != 0 {
					e.mode = 0o750
				}
			case 1:
				e.mode, e.body = fs.ModeDir|0o700, ""
				if !strings.HasSuffix(e.name, "/") {
					e.name += "/"
				}
			case 2:
				e.mode = fs.ModeSymlink | 0o777
			case 3: // Windows-made: no modes
			}
			ents = append(ents, e)
		}
		data, err := tryBuildZip(ents)
		if err != nil {
			t.Skip(err) // names archive/zip itself will not write
		}
		dir := t.TempDir()
		in := filepath.Join(dir, "in.zip")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ConvertZip(context.Background(), in, Options{ModTime: epoch})
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("not a layerconv.Error: %v", err)
			}
			return
		}
		// Whiteouts are refused whatever else the names do (checkLayer
		// also looks at the output; this looks at the input).
		for _, e := range ents {
			name := e.name
			if e.mode == 0 { // Windows-made: backslashes separate
				name = strings.ReplaceAll(name, `\`, "/")
			}
			for c := range strings.SplitSeq(name, "/") {
				if strings.HasPrefix(c, ".wh.") {
					t.Fatalf("%q converted: a whiteout component", e.name)
				}
			}
		}
		defer r.Close()
		checkLayer(t, r)
	})
}

// tryBuildZip is buildZip for fuzzing: it reports errors instead of failing.
func tryBuildZip(ents []zent) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		fh := &zip.FileHeader{Name: e.name}
		if e.mode != 0 {
			fh.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(fh)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
