package layerconv

import (
	"archive/zip"
	"encoding/binary"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// Python bytecode.
//
// A timestamp-based .pyc (PEP 552, flags 0) records its source's mtime and
// size; Python uses it only while both still match the source's stat
// (int(st_mtime) & 0xFFFFFFFF, st_size & 0xFFFFFFFF). The layer gives every
// file one mtime, so a .pyc valid in the input would be stale in the image,
// and Lambda's user cannot write the recompiled one back: every cold start
// would compile again. So a .pyc that is valid for its source as the input
// has them gets the layer's mtime recorded instead, and stays valid. One
// that is stale in the input stays exactly as stale (never made to look
// valid), and hash-based ones, orphans and anything not clearly a PEP 552
// .pyc pass through untouched.
//
// The decision needs the source's mtime and size before the .pyc is
// written, in any entry order: both come from the zip's central directory
// or the directory walk's stats, so the content is still read once, and
// only the 16-byte header of a .pyc is held back.

// pycHeaderLen is the PEP 552 header: magic, flags, then mtime and size
// (or a source hash) as little-endian uint32s.
const pycHeaderLen = 16

// Magic numbers with a PEP 552 header: 3392 (3.7a2) introduced the flags
// word. Python 3 numbers count up from 3000, Python 1.x and 2.x used
// 20121 and above (2.7: 62211), whose headers are shorter.
const (
	pycMagicMin = 3392
	pycMagicMax = 20000
)

// pycSource is what the input says of a .pyc's source, as an extractor
// would set it and Python would then stat it.
type pycSource struct {
	mtime uint32 // int(st_mtime) & 0xFFFFFFFF
	size  uint32 // st_size & 0xFFFFFFFF
}

// pycSourceName names the source a .pyc belongs to, by Python's rules:
// D/__pycache__/NAME.TAG[.opt-N].pyc belongs to D/NAME.py
// (importlib.util.source_from_cache), and a legacy D/NAME.pyc to D/NAME.py.
func pycSourceName(name string) (string, bool) {
	if !strings.HasSuffix(name, ".pyc") {
		return "", false
	}
	dir, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i+1], name[i+1:]
	}
	parent := strings.TrimSuffix(dir, "/")
	parent = parent[strings.LastIndexByte(parent, '/')+1:]
	if parent != "__pycache__" {
		stem := strings.TrimSuffix(base, ".pyc")
		if stem == "" {
			return "", false
		}
		return dir + stem + ".py", true
	}
	switch strings.Count(base, ".") {
	case 2:
	case 3:
		parts := strings.Split(base, ".")
		opt, ok := strings.CutPrefix(parts[2], "opt-")
		if !ok || opt == "" || strings.IndexFunc(opt, func(r rune) bool { return !isAlnum(r) }) >= 0 {
			return "", false
		}
	default:
		return "", false
	}
	stem := base[:strings.IndexByte(base, '.')]
	if stem == "" {
		return "", false
	}
	return strings.TrimSuffix(dir, "__pycache__/") + stem + ".py", true
}

// isAlnum is str.isalnum for the ASCII that opt- levels are made of;
// anything else is not a level Python writes.
func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

// markPyc finds the .pyc files of es (sorted, as buildTree leaves them)
// whose source is a regular file of the same input and records what the
// input says of that source; srcOf tells it for an entry. A source that is
// a symlink is not followed: what an extractor would stat through it is
// not the entry's own time, so its .pyc is left alone.
func markPyc(es []entry, srcOf func(*entry) pycSource) {
	for i := range es {
		e := &es[i]
		if e.kind != kindFile || e.size < pycHeaderLen {
			continue
		}
		name, ok := pycSourceName(e.name)
		if !ok {
			continue
		}
		j, found := slices.BinarySearchFunc(es, name, func(x entry, n string) int { return cmpPath(x.name, n) })
		if !found || es[j].kind != kindFile {
			continue
		}
		s := srcOf(&es[j])
		e.pyc = &s
	}
}

// zipPycSource is a zip entry's mtime as an extractor sets it: the
// extended-timestamp field's (its 32 bits as they are, which is what
// Python compares) when there is one, else the DOS time read as UTC.
// The central directory's field is read: zip writes the same mtime in the
// local header, and the central directory is what is known up front.
func zipPycSource(f *zip.File) pycSource {
	s := pycSource{size: uint32(f.UncompressedSize64)}
	if t, ok := extTimestamp(f.Extra); ok {
		s.mtime = t
		return s
	}
	// The raw DOS fields: Modified would prefer NTFS or Unix extra fields,
	// which extractors do not all read.
	d, t := f.ModifiedDate, f.ModifiedTime
	dos := time.Date(int(d>>9)+1980, time.Month(d>>5&0xf), int(d&0x1f), int(t>>11), int(t>>5&0x3f), int(t&0x1f)*2, 0, time.UTC)
	s.mtime = uint32(dos.Unix())
	return s
}

// extTimestamp reads the mtime of an extended-timestamp extra field
// (0x5455: a flags byte, bit 0 announcing the mtime that follows).
func extTimestamp(extra []byte) (uint32, bool) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if n > len(extra) {
			return 0, false
		}
		if body := extra[:n]; id == 0x5455 && n >= 5 && body[0]&1 != 0 {
			return binary.LittleEndian.Uint32(body[1:5]), true
		}
		extra = extra[n:]
	}
	return 0, false
}

// dirPycSource is a file's stat as Python reads it: st_mtime is the
// double sec + nsec*1e-9 and int() truncates it toward zero, which is
// not always the whole seconds (an nsec close to a second rounds up).
func dirPycSource(fi fs.FileInfo) pycSource {
	t := fi.ModTime()
	// The conversion stops the compiler fusing multiply and add, which
	// CPython's fill_time does not do on the platforms we build for.
	f := float64(t.Unix()) + float64(float64(t.Nanosecond())*1e-9)
	return pycSource{mtime: uint32(int64(f)), size: uint32(fi.Size())}
}

// pycWriter holds back the header of one .pyc on its way to w and, when
// it is a timestamp-based header valid for src, records mtime instead of
// the source's.
type pycWriter struct {
	w         io.Writer
	src       pycSource
	mtime     uint32
	head      [pycHeaderLen]byte
	n         int
	rewritten bool
}

func (p *pycWriter) reset(w io.Writer, src pycSource, mtime uint32) {
	*p = pycWriter{w: w, src: src, mtime: mtime}
}

// Write never returns before the header is complete unless p has ended:
// markPyc marks only files of at least pycHeaderLen bytes and the source
// delivers exactly their size, so all of the header comes through.
func (p *pycWriter) Write(b []byte) (int, error) {
	if p.n == pycHeaderLen {
		return p.w.Write(b)
	}
	k := copy(p.head[p.n:], b)
	p.n += k
	if p.n < pycHeaderLen {
		return k, nil
	}
	p.rewritten = rewritePycHeader(&p.head, p.src, p.mtime)
	if _, err := p.w.Write(p.head[:]); err != nil {
		return 0, err
	}
	n, err := p.w.Write(b[k:])
	return k + n, err
}

// rewritePycHeader records mtime in h when h is a timestamp-based PEP 552
// header that is valid for src, and reports whether it was.
func rewritePycHeader(h *[pycHeaderLen]byte, src pycSource, mtime uint32) bool {
	magic := binary.LittleEndian.Uint16(h[0:2])
	if string(h[2:4]) != "\r\n" || magic < pycMagicMin || magic >= pycMagicMax {
		return false
	}
	if binary.LittleEndian.Uint32(h[4:8]) != 0 { // hash-based or unknown flags
		return false
	}
	if binary.LittleEndian.Uint32(h[8:12]) != src.mtime || binary.LittleEndian.Uint32(h[12:16]) != src.size {
		return false // stale in the input: stays stale
	}
	binary.LittleEndian.PutUint32(h[8:12], mtime)
	return true
}

// pycMtime is the layer's mtime as Python compares it with a .pyc's.
func pycMtime(t time.Time) uint32 { return uint32(t.Unix()) }
