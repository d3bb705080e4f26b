// Package benchzip generates the realistic Lambda layer zip that
// BenchmarkConvert and scripts/bench-compare.sh measure: a Python-style
// site-packages tree of a few thousand files, source text, shared-library
// style binaries and some already-compressed data, about 100 MB unzipped.
// The output depends only on the seed.
package benchzip

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"

	"github.com/klauspost/compress/flate"
)

// Stats describe a generated zip.
type Stats struct {
	Files            int
	UncompressedSize int64
}

// Options size the zip; the zero value gives the benchmark's ~100 MB.
type Options struct {
	TotalSize int64 // approximate sum of file sizes (default 100 MB)
	Seed      uint64
}

var words = strings.Fields(`def class return import from self if else elif for while in not and or
None True False try except finally raise with as lambda yield async await pass break continue
print len range dict list str int float bool tuple set isinstance getattr setattr hasattr
request response client session config logger handler event context data value result items
keys values update append extend format join split strip encode decode json loads dumps path
os sys re time datetime timezone boto3 botocore resource table bucket key object stream buffer
_parse _validate _build _get _set _load _dump _read _write __init__ __name__ __main__ args kwargs
=  == != <= >= + - * / % ( ) [ ] { } : , . " ' # 0 1 2 10 100 1024 "utf-8" 'application/json'`)

// text writes Python-looking source of about n bytes.
func text(w io.Writer, r *rand.Rand, n int) int {
	var sb strings.Builder
	for sb.Len() < n {
		indent := r.IntN(4) * 4
		sb.WriteString(strings.Repeat(" ", indent))
		for range 3 + r.IntN(9) {
			sb.WriteString(words[r.IntN(len(words))])
			if r.IntN(3) > 0 {
				sb.WriteByte(' ')
			}
			if r.IntN(8) == 0 {
				fmt.Fprintf(&sb, "%d", r.IntN(5000))
			}
		}
		sb.WriteByte('\n')
	}
	s := sb.String()[:n]
	io.WriteString(w, s)
	return n
}

// binary writes shared-library-like bytes: skewed "machine code", symbol
// string tables and zero padding, about as compressible as real .so files.
func binary(w io.Writer, r *rand.Rand, n int) int {
	buf := make([]byte, 0, n)
	blocks := make([][]byte, 256)
	for i := range blocks {
		b := make([]byte, 6+r.IntN(40))
		for j := range b {
			b[j] = byte(r.IntN(256))
			if r.IntN(3) == 0 {
				b[j] = []byte{0x48, 0x89, 0x8b, 0xe8, 0x0f, 0x00, 0xff, 0x24, 0x45, 0xc3}[r.IntN(10)]
			}
		}
		blocks[i] = b
	}
	for len(buf) < n {
		switch k := r.IntN(10); {
		case k < 6: // code: basic blocks repeat with small changes
			for range 64 + r.IntN(512) {
				b := blocks[r.IntN(len(blocks))]
				start := len(buf)
				buf = append(buf, b...)
				for range 1 + r.IntN(2) {
					buf[start+r.IntN(len(b))] = byte(r.IntN(256))
				}
			}
		case k < 9: // symbol names
			for range 16 + r.IntN(64) {
				buf = append(buf, "_ZN"...)
				buf = append(buf, words[r.IntN(len(words))]...)
				buf = append(buf, words[r.IntN(len(words))]...)
				buf = append(buf, 0)
			}
		default: // padding
			buf = append(buf, make([]byte, 64+r.IntN(1024))...)
		}
	}
	w.Write(buf[:n])
	return n
}

// random writes incompressible bytes (images, wheels, already-gzipped data).
func random(w io.Writer, r *rand.Rand, n int) int {
	buf := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	w.Write(buf)
	return n
}

// Write writes the zip to w.
func Write(w io.Writer, o Options) (Stats, error) {
	if o.TotalSize == 0 {
		o.TotalSize = 100 << 20
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x1a3bda))
	bw := bufio.NewWriterSize(w, 1<<20)
	zw := zip.NewWriter(bw)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, 6)
	})
	var st Stats
	add := func(name string, mode fs.FileMode, gen func(io.Writer, *rand.Rand, int) int, n int) error {
		fh := &zip.FileHeader{Name: name, Method: zip.Deflate}
		fh.SetMode(mode)
		fw, err := zw.CreateHeader(fh)
		if err != nil {
			return err
		}
		st.Files++
		st.UncompressedSize += int64(gen(fw, r, n))
		return nil
	}
	base := "python/lib/python3.12/site-packages/"
	for pkg := 0; st.UncompressedSize < o.TotalSize; pkg++ {
		dir := fmt.Sprintf("%spkg%03d/", base, pkg)
		for mod := range 20 + r.IntN(30) {
			sub := ""
			if mod%7 == 6 {
				sub = fmt.Sprintf("sub%d/", mod/7)
			}
			var err error
			switch k := r.IntN(100); {
			case k < 70:
				err = add(fmt.Sprintf("%s%smod%d.py", dir, sub, mod), 0o644, text, 1000+r.IntN(30000))
			case k < 90:
				err = add(fmt.Sprintf("%s%s_ext%d.cpython-312-x86_64-linux-gnu.so", dir, sub, mod), 0o755, binary, 20000+r.IntN(250000))
			default:
				err = add(fmt.Sprintf("%s%sdata%d.bin", dir, sub, mod), 0o644, random, 5000+r.IntN(80000))
			}
			if err != nil {
				return st, err
			}
		}
		fh := &zip.FileHeader{Name: dir + "current"}
		fh.SetMode(fs.ModeSymlink | 0o777)
		fw, err := zw.CreateHeader(fh)
		if err != nil {
			return st, err
		}
		io.WriteString(fw, "mod0.py")
	}
	if err := zw.Close(); err != nil {
		return st, err
	}
	return st, bw.Flush()
}
