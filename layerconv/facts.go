package layerconv

import (
	"encoding/binary"
	"io"
	"io/fs"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// recordFacts returns the writer a regular file's content is copied
// through and a function giving the file's content facts afterwards. For
// a file lambda.WantsFacts (a package.json, a jar on the Java class path,
// a .pyc) the writer keeps a copy, up to lambda.FactsLimit, so the facts
// come from the same pass that writes the layer; for every other file it
// is w itself and nothing is kept.
func recordFacts(w io.Writer, name string, size int64) (io.Writer, func() *lambda.FileFacts) {
	if !lambda.WantsFacts(name) {
		return w, func() *lambda.FileFacts { return nil }
	}
	limit := lambda.FactsLimit(name)
	if size > limit && !lambda.FactsFromHead(name) {
		return w, func() *lambda.FileFacts { return lambda.TooLargeFacts(name, size) }
	}
	fw := &factsWriter{w: w, buf: make([]byte, 0, min(size, limit))}
	return fw, func() *lambda.FileFacts { return lambda.ReadFacts(name, fw.buf) }
}

// factsWriter keeps what passes through it up to its buffer's capacity:
// all of a file whose facts need it, the head of one whose facts are there.
type factsWriter struct {
	w   io.Writer
	buf []byte
}

func (f *factsWriter) Write(p []byte) (int, error) {
	f.buf = append(f.buf, p[:min(len(p), cap(f.buf)-len(f.buf))]...)
	return f.w.Write(p)
}

// PycSource names the source file a .pyc belongs to by Python's rules
// (PEP 3147 __pycache__/NAME.TAG[.opt-N].pyc, or a legacy NAME.pyc beside
// NAME.py), the same rule the converter applies; name is a relative,
// "/"-separated path.
func PycSource(name string) (string, bool) { return pycSourceName(name) }

// PycValidInDir reports whether converting a directory finds the .pyc
// whose first bytes are head valid for its source src (a regular file of
// the same directory, its name PycSource's), and so records the layer's
// mtime in it: the layer's bytes depend on this, not on the mtimes
// themselves.
func PycValidInDir(head []byte, src fs.FileInfo) bool {
	mtime, size, ok := PycStamp(head)
	s := dirPycSource(src)
	return ok && mtime == s.mtime && size == s.size
}

// PycStamp reads a .pyc header (lambda.FileFacts.Pyc) the way the
// converter judges one: ok only for a timestamp-based PEP 552 header
// (flags 0), with the source mtime and size it records, which Python
// compares with int(st_mtime) and st_size, both modulo 2^32.
func PycStamp(h []byte) (mtime, size uint32, ok bool) {
	if len(h) < pycHeaderLen {
		return 0, 0, false
	}
	magic := binary.LittleEndian.Uint16(h[0:2])
	if string(h[2:4]) != "\r\n" || magic < pycMagicMin || magic >= pycMagicMax || binary.LittleEndian.Uint32(h[4:8]) != 0 {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint32(h[8:12]), binary.LittleEndian.Uint32(h[12:16]), true
}
