package layerconv

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
)

// Zip "version made by" hosts whose external attributes carry Unix modes.
const (
	creatorFAT   = 0
	creatorUnix  = 3
	creatorNTFS  = 11
	creatorVFAT  = 14
	creatorMacOS = 19
)

const (
	sIFMT   = 0o170000
	sIFIFO  = 0o010000
	sIFCHR  = 0o020000
	sIFDIR  = 0o040000
	sIFBLK  = 0o060000
	sIFREG  = 0o100000
	sIFLNK  = 0o120000
	sIFSOCK = 0o140000

	msdosDir = 0x10
)

// ConvertZip converts a Lambda layer or code zip.
func ConvertZip(ctx context.Context, zipPath string, opts Options) (*Result, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(zipPath)
	if err != nil {
		return nil, fmt.Errorf("layerconv: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("layerconv: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, srcErr(zipPath, errors.New("not a regular file"))
	}

	var c *cache
	var sumHex string
	if o.cacheDir != "" {
		sum, err := hashFile(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("layerconv: %s: %w", zipPath, err)
		}
		sumHex = hex.EncodeToString(sum)
		c = newCache(o, sum)
		c.sweep()
		if r, ok := c.lookup(ctx); ok {
			r.src, r.srcInfo, r.InputSHA256 = zipPath, fi, sumHex
			return r, nil
		}
	}
	r, err := convertZipFile(ctx, zipPath, f, fi.Size(), o, c, 0)
	if err != nil {
		return nil, err
	}
	r.src, r.srcInfo, r.InputSHA256 = zipPath, fi, sumHex
	return r, nil
}

func convertZipFile(ctx context.Context, zipPath string, f *os.File, size int64, o resolved, c *cache, concurrency int) (*Result, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, srcErr(zipPath, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	var st stats
	es, err := scanZip(zipPath, f, zr, size, o, &st)
	if err != nil {
		return nil, err
	}
	es, err = buildTree(zipPath, es)
	if err != nil {
		return nil, err
	}
	if !o.noPycRewrite {
		markPyc(es, func(e *entry) pycSource { return zipPycSource(zr.File[e.src]) })
	}
	if o.sel != nil {
		es = o.sel.apply(es, &st)
	}
	src := &zipSource{path: zipPath, files: zr.File, br: bufio.NewReaderSize(nil, 256<<10), buf: make([]byte, 256<<10)}
	return finish(ctx, o, c, es, src, &st, concurrency)
}

// scanZip validates every entry without reading any content and returns
// the entries to write, in zip order.
func scanZip(src string, ra io.ReaderAt, zr *zip.Reader, archiveSize int64, o resolved, st *stats) ([]entry, error) {
	// The limit comes first, from the central directory alone, so a bomb
	// is refused before a byte is inflated.
	var total uint64 // never above maxSize, so the subtraction cannot wrap
	for _, f := range zr.File {
		if f.UncompressedSize64 > uint64(o.maxSize)-total {
			return nil, srcErr(src, fmt.Errorf("%w: entries declare more than %d bytes (at %q)", ErrTooLarge, o.maxSize, f.Name))
		}
		total += f.UncompressedSize64
	}
	offs, err := localOffsets(ra, archiveSize, len(zr.File))
	if err != nil {
		return nil, srcErr(src, fmt.Errorf("%w: central directory: %w", ErrCorrupt, err))
	}
	es := make([]entry, 0, len(zr.File))
	for i, f := range zr.File {
		e, drop, err := zipEntry(ra, f, archiveSize, offs[i])
		if err != nil {
			return nil, entryErr(src, f.Name, err)
		}
		if drop {
			st.dropped = append(st.dropped, f.Name)
			continue
		}
		if e.name == "" {
			// "./" and friends name the prefix directory, written anyway.
			continue
		}
		if err := checkLength(o.prefix, e.name); err != nil {
			return nil, entryErr(src, f.Name, err)
		}
		e.src = i
		es = append(es, e)
	}
	for i := range es {
		if es[i].normalized {
			st.normalized++
		}
	}
	return es, nil
}

// zipEntry classifies one zip entry.
func zipEntry(ra io.ReaderAt, f *zip.File, archiveSize, headerAt int64) (e entry, drop bool, err error) {
	creator := f.CreatorVersion >> 8
	unixMode := f.ExternalAttrs >> 16
	hasUnix := (creator == creatorUnix || creator == creatorMacOS) && unixMode != 0
	windows := creator == creatorFAT || creator == creatorNTFS || creator == creatorVFAT

	name, changed, via, err := normalizeName(f.Name, windows)
	if err != nil {
		return e, false, err
	}
	trailing := strings.HasSuffix(f.Name, "/") || windows && strings.HasSuffix(f.Name, `\`)
	e = entry{name: name, raw: f.Name, size: int64(f.UncompressedSize64), via: via}
	var perm int64
	switch {
	case hasUnix:
		switch unixMode & sIFMT {
		case sIFDIR:
			e.kind = kindDir
		case sIFLNK:
			e.kind = kindSymlink
		case sIFREG, 0:
			e.kind = kindFile
			if trailing {
				e.kind = kindDir
			}
		case sIFIFO:
			return e, false, fmt.Errorf("%w: named pipe", ErrUnsupportedType)
		case sIFCHR:
			return e, false, fmt.Errorf("%w: character device", ErrUnsupportedType)
		case sIFBLK:
			return e, false, fmt.Errorf("%w: block device", ErrUnsupportedType)
		case sIFSOCK:
			return e, false, fmt.Errorf("%w: socket", ErrUnsupportedType)
		default:
			return e, false, fmt.Errorf("%w: mode %#o", ErrUnsupportedType, unixMode)
		}
		perm = int64(unixMode & 0o7777)
	case trailing || f.ExternalAttrs&msdosDir != 0:
		e.kind = kindDir
	default:
		e.kind = kindFile
	}
	if e.kind == kindSymlink && trailing {
		return e, false, fmt.Errorf("%w: symlink named like a directory", ErrInvalidSymlink)
	}
	if e.kind != kindDir && name == "" {
		return e, false, fmt.Errorf("%w: names the root", ErrInvalidName)
	}
	if dropped(name, e.kind) {
		return e, true, nil
	}
	off, err := localHeader(ra, f, headerAt)
	if err != nil {
		return e, false, err
	}
	if f.Flags&0x1 != 0 || f.Method == 99 {
		return e, false, ErrEncrypted
	}
	if e.kind == kindDir {
		if f.UncompressedSize64 != 0 {
			return e, false, fmt.Errorf("%w: directory entry with %d bytes of content", ErrCorrupt, f.UncompressedSize64)
		}
		e.size = 0
	} else {
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return e, false, fmt.Errorf("%w %d (%s): only store and deflate are supported", ErrUnsupportedMethod, f.Method, methodName(f.Method))
		}
		if f.Method == zip.Store && f.CompressedSize64 != f.UncompressedSize64 {
			return e, false, fmt.Errorf("%w: stored entry declares %d bytes but holds %d", ErrSizeMismatch, f.UncompressedSize64, f.CompressedSize64)
		}
		if off < 0 || f.CompressedSize64 > uint64(archiveSize) || off > archiveSize-int64(f.CompressedSize64) {
			return e, false, fmt.Errorf("%w: data runs past the end of the archive", ErrCorrupt)
		}
	}
	if e.kind == kindSymlink && (e.size == 0 || e.size > symlinkMax) {
		return e, false, fmt.Errorf("%w: target of %d bytes", ErrInvalidSymlink, e.size)
	}

	switch e.kind {
	case kindDir:
		e.mode = 0o755
	case kindSymlink:
		e.mode = 0o777
	default:
		exec := perm&0o111 != 0
		if !hasUnix {
			exec = conventionalExec(name)
		}
		e.mode = 0o644
		if exec {
			e.mode = 0o755
		}
	}
	e.normalized = changed || hasUnix && e.kind != kindSymlink && perm != e.mode
	return e, false, nil
}

// localHeader checks f's local header (at off, from the central
// directory) and returns where its data starts. The name in the local
// header must be the central directory's: streaming extractors read the
// local one, so a difference would make the layer say something else than
// what another tool unpacks from the same zip.
func localHeader(ra io.ReaderAt, f *zip.File, off int64) (int64, error) {
	buf := make([]byte, localLen+len(f.Name))
	if _, err := ra.ReadAt(buf, off); err != nil {
		return 0, fmt.Errorf("%w: local header: %w", ErrCorrupt, err)
	}
	if string(buf[:4]) != "PK\x03\x04" {
		return 0, fmt.Errorf("%w: local header: bad signature", ErrCorrupt)
	}
	nameLen := int64(binary.LittleEndian.Uint16(buf[26:]))
	extraLen := int64(binary.LittleEndian.Uint16(buf[28:]))
	if nameLen != int64(len(f.Name)) || string(buf[localLen:]) != f.Name {
		local := make([]byte, nameLen)
		ra.ReadAt(local, off+localLen) // only for the message; a short read shows as such
		return 0, fmt.Errorf("%w: the local header names it %q", ErrCorrupt, local)
	}
	return off + localLen + nameLen + extraLen, nil
}

func methodName(m uint16) string {
	switch m {
	case 1:
		return "shrink"
	case 6:
		return "implode"
	case 9:
		return "deflate64"
	case 12:
		return "bzip2"
	case 14:
		return "lzma"
	case 93:
		return "zstd"
	case 95:
		return "xz"
	case 96:
		return "jpeg"
	case 97:
		return "wavpack"
	case 98:
		return "ppmd"
	}
	return "unknown"
}

// zipSource streams entry content out of the archive, inflating with
// klauspost/compress and checking sizes and CRC-32 itself so each failure
// gets its own reason.
type zipSource struct {
	path  string
	files []*zip.File
	br    *bufio.Reader
	fr    io.ReadCloser // reused inflater
	buf   []byte
}

func (s *zipSource) open(e *entry) (io.Reader, error) {
	f := s.files[e.src]
	raw, err := f.OpenRaw()
	if err != nil {
		return nil, entryErr(s.path, e.raw, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	s.br.Reset(raw)
	if f.Method == zip.Store {
		return s.br, nil
	}
	if s.fr == nil {
		s.fr = flate.NewReader(s.br)
	} else if err := s.fr.(flate.Resetter).Reset(s.br, nil); err != nil {
		return nil, entryErr(s.path, e.raw, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	return s.fr, nil
}

func (s *zipSource) copy(ctx context.Context, w io.Writer, e *entry) error {
	r, err := s.open(e)
	if err != nil {
		return err
	}
	crc, err := copyExact(ctx, w, r, e.size, s.buf)
	if err != nil {
		return entryErr(s.path, e.raw, err)
	}
	if want := s.files[e.src].CRC32; crc != want {
		return entryErr(s.path, e.raw, fmt.Errorf("%w: content %08x, header %08x", ErrChecksum, crc, want))
	}
	return nil
}

func (s *zipSource) target(e *entry) (string, error) {
	r, err := s.open(e)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	crc, err := copyExact(context.Background(), &sb, r, e.size, s.buf)
	if err != nil {
		return "", entryErr(s.path, e.raw, err)
	}
	if want := s.files[e.src].CRC32; crc != want {
		return "", entryErr(s.path, e.raw, fmt.Errorf("%w: content %08x, header %08x", ErrChecksum, crc, want))
	}
	t := sb.String()
	if strings.IndexByte(t, 0) >= 0 || !utf8.ValidString(t) {
		return "", entryErr(s.path, e.raw, fmt.Errorf("%w: target has NUL or invalid UTF-8", ErrInvalidSymlink))
	}
	return t, nil
}

// copyExact copies exactly size bytes from r to w and makes sure r ends
// there, returning the CRC-32 of what was copied.
func copyExact(ctx context.Context, w io.Writer, r io.Reader, size int64, buf []byte) (uint32, error) {
	var crc uint32
	remaining := size
	sinceCheck := 0
	for remaining > 0 {
		chunk := buf
		if int64(len(chunk)) > remaining {
			chunk = chunk[:remaining]
		}
		n, err := r.Read(chunk)
		if n > 0 {
			crc = crc32.Update(crc, crc32.IEEETable, chunk[:n])
			if _, werr := w.Write(chunk[:n]); werr != nil {
				return crc, werr
			}
			remaining -= int64(n)
			if sinceCheck += n; sinceCheck >= ctxCheckEvery {
				sinceCheck = 0
				if err := ctx.Err(); err != nil {
					return crc, err
				}
			}
		}
		if err == io.EOF {
			if remaining > 0 {
				return crc, fmt.Errorf("%w: content ends after %d of %d bytes", ErrSizeMismatch, size-remaining, size)
			}
			break
		}
		if err != nil {
			return crc, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
	// The content must end where the header says it does.
	var one [1]byte
	for range 100 {
		n, err := r.Read(one[:])
		if n > 0 {
			return crc, fmt.Errorf("%w: content is longer than the declared %d bytes", ErrSizeMismatch, size)
		}
		if err == io.EOF {
			return crc, nil
		}
		if err != nil {
			return crc, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
	return crc, fmt.Errorf("%w: reader makes no progress", ErrCorrupt)
}
