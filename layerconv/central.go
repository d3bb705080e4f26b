package layerconv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Zip record signatures and sizes (APPNOTE.TXT 4.3).
const (
	sigCentral     = "PK\x01\x02"
	sigEnd         = "PK\x05\x06"
	sigEnd64       = "PK\x06\x06"
	sigEnd64Loc    = "PK\x06\x07"
	endLen         = 22
	end64LocLen    = 20
	centralLen     = 46
	localLen       = 30
	maxCommentLen  = 0xffff
	zip64ExtraID   = 0x0001
	offsetOverflow = 0xffffffff
)

// localOffsets reads the central directory again and returns, in its
// order (archive/zip's File order), where each entry's local header
// starts. archive/zip computes the same offsets but does not export them;
// reading the directory ourselves keeps the local/central name check free
// of another package's private fields. Data before the archive (a
// self-extracting stub) is accounted for as archive/zip does: the
// directory is where its end record says, shifted by what precedes it.
func localOffsets(ra io.ReaderAt, size int64, n int) ([]int64, error) {
	tail := min(size, endLen+maxCommentLen)
	buf := make([]byte, tail)
	if _, err := ra.ReadAt(buf, size-tail); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	i := bytes.LastIndex(buf, []byte(sigEnd))
	if i < 0 || len(buf)-i < endLen {
		return nil, errors.New("no end of central directory record")
	}
	endAt := size - tail + int64(i)
	end := buf[i:]
	count := int64(binary.LittleEndian.Uint16(end[10:]))
	dirSize := int64(binary.LittleEndian.Uint32(end[12:]))
	dirOff := int64(binary.LittleEndian.Uint32(end[16:]))
	dirEnd := endAt
	if count == 0xffff || dirSize == offsetOverflow || dirOff == offsetOverflow {
		if endAt < end64LocLen {
			return nil, errors.New("zip64 end locator missing")
		}
		loc := make([]byte, end64LocLen)
		if _, err := ra.ReadAt(loc, endAt-end64LocLen); err != nil {
			return nil, err
		}
		if string(loc[:4]) == sigEnd64Loc {
			at := int64(binary.LittleEndian.Uint64(loc[8:]))
			rec := make([]byte, 56)
			if at < 0 || at > size-56 {
				return nil, errors.New("zip64 end record out of range")
			}
			if _, err := ra.ReadAt(rec, at); err != nil {
				return nil, err
			}
			if string(rec[:4]) != sigEnd64 {
				return nil, errors.New("bad zip64 end record signature")
			}
			count = int64(binary.LittleEndian.Uint64(rec[32:]))
			dirSize = int64(binary.LittleEndian.Uint64(rec[40:]))
			dirOff = int64(binary.LittleEndian.Uint64(rec[48:]))
			dirEnd = at
		}
	}
	base := dirEnd - dirSize - dirOff
	if base < 0 || dirSize < 0 || dirOff < 0 || dirEnd-dirSize < 0 {
		return nil, errors.New("central directory out of range")
	}
	if count != int64(n) {
		return nil, fmt.Errorf("central directory lists %d entries, the reader %d", count, n)
	}
	dir := make([]byte, dirSize)
	if _, err := ra.ReadAt(dir, base+dirOff); err != nil {
		return nil, err
	}
	offs := make([]int64, 0, n)
	for p := 0; len(offs) < n; {
		if p+centralLen > len(dir) || string(dir[p:p+4]) != sigCentral {
			return nil, errors.New("bad central directory entry")
		}
		h := dir[p : p+centralLen]
		nameLen := int(binary.LittleEndian.Uint16(h[28:]))
		extraLen := int(binary.LittleEndian.Uint16(h[30:]))
		commentLen := int(binary.LittleEndian.Uint16(h[32:]))
		if p+centralLen+nameLen+extraLen+commentLen > len(dir) {
			return nil, errors.New("central directory entry out of range")
		}
		off := int64(binary.LittleEndian.Uint32(h[42:]))
		if off == offsetOverflow {
			extra := dir[p+centralLen+nameLen : p+centralLen+nameLen+extraLen]
			var err error
			if off, err = zip64Offset(extra, h); err != nil {
				return nil, err
			}
		}
		offs = append(offs, base+off)
		p += centralLen + nameLen + extraLen + commentLen
	}
	return offs, nil
}

// zip64Offset finds the local header offset in a central entry's zip64
// extra field: its values come in a fixed order, each present only when
// the 32-bit field it replaces is saturated.
func zip64Offset(extra, h []byte) (int64, error) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			break
		}
		if id == zip64ExtraID {
			f := extra[4 : 4+n]
			if binary.LittleEndian.Uint32(h[24:]) == offsetOverflow { // uncompressed size
				f = f[min(8, len(f)):]
			}
			if binary.LittleEndian.Uint32(h[20:]) == offsetOverflow { // compressed size
				f = f[min(8, len(f)):]
			}
			if len(f) < 8 {
				return 0, errors.New("zip64 extra field without the offset")
			}
			return int64(binary.LittleEndian.Uint64(f)), nil
		}
		extra = extra[4+n:]
	}
	return 0, errors.New("zip64 offset without a zip64 extra field")
}
