package layerconv

import (
	"encoding/binary"
	"io"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// Entry is one tar entry of a converted layer, recorded while it was
// written so that a consumer (image's handler, bootstrap and architecture
// checks) need not decompress the layer again to list it.
//
// The index costs 80 bytes of memory per entry plus the path, and about
// 20 bytes of JSON plus the path in the cache metadata, a regular file
// 10 to 25 more for its size and mtime, a .pyc 35 more for its header:
// for the 70,000-entry zip64 test (before sizes and mtimes were recorded),
// 4.2 MB in memory, a 2 MB metadata file and about 65 ms to decode it on
// a cache hit (a few ms for typical layers).
type Entry struct {
	// Path is the tar name without its trailing "/" (names never start
	// with "/"): already clean, "opt/python/app.py", "opt".
	Path string `json:"p"`
	// Type is the tar typeflag: tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	// (the converter writes no other kind).
	Type byte `json:"t"`
	// Link is a symlink's target.
	Link string `json:"l,omitempty"`
	// Mode is the permission bits written to the tar header, so checks
	// (files every user can read) need not decompress the layer either.
	Mode int64 `json:"o"`
	// Mtime (whole seconds since the epoch) and Size are a regular file's
	// header fields, what Python compares a .pyc's record with (checks'
	// stale-bytecode rule); zero for other entries.
	Mtime int64 `json:"mt,omitempty"`
	Size  int64 `json:"sz,omitempty"`
	// ELF reports a regular file starting with an ELF header (at least 20
	// bytes, ELF magic, a known byte order); ELFMachine is its e_machine
	// (62 x86-64, 183 AArch64). A separate flag, because an ELF file may
	// declare e_machine 0 and must still be reported.
	ELF        bool   `json:"e,omitempty"`
	ELFMachine uint16 `json:"m,omitempty"`
	// Facts are what checks need from the file's content, for the few
	// files lambda.WantsFacts (package.json fields, the classes of a jar on
	// the Java class path, a .pyc's header), recorded as the file is
	// written: a .pyc's header as written, after any rewrite.
	Facts *lambda.FileFacts `json:"f,omitempty"`
}

// elfHeadLen is how much of a file ELFMachine needs: e_machine ends at 20.
const elfHeadLen = 20

// ELFMachine reads e_machine from the first bytes of a file, honouring the
// byte order the header declares; ok is false for anything not ELF.
func ELFMachine(head []byte) (machine uint16, ok bool) {
	if len(head) < elfHeadLen || string(head[:4]) != "\x7fELF" {
		return 0, false
	}
	switch head[5] {
	case 1:
		return binary.LittleEndian.Uint16(head[18:20]), true
	case 2:
		return binary.BigEndian.Uint16(head[18:20]), true
	}
	return 0, false
}

// headWriter keeps the first elfHeadLen bytes of what passes through it, so
// files are classified as they stream into the tar writer: no second read,
// nothing buffered beyond those bytes.
type headWriter struct {
	w    io.Writer
	head [elfHeadLen]byte
	n    int
}

func (h *headWriter) reset() { h.n = 0 }

func (h *headWriter) Write(p []byte) (int, error) {
	if h.n < len(h.head) {
		h.n += copy(h.head[h.n:], p)
	}
	return h.w.Write(p)
}

// elf reports the machine of the file just written, if it is ELF.
func (h *headWriter) elf() (uint16, bool) {
	return ELFMachine(h.head[:h.n])
}
