package checks

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

// listingVersion is part of every cache file name: bump it when Listing or
// what a read records changes, so stale records are ignored, not misread.
const listingVersion = 4 // 4: regular files' mtimes and sizes, .pyc headers

// Compression is what a layer blob really is, whatever its media type says.
type Compression string

// Compressions a layer read recognises.
const (
	Gzip  Compression = "gzip"
	Zstd  Compression = "zstd"
	Plain Compression = "none"
)

// Entry is one tar entry of a layer, its name clean and without a leading
// slash ("opt/python/app.py"); whiteouts keep their .wh. names.
type Entry struct {
	Path string `json:"p"`
	// Type is the tar typeflag.
	Type byte   `json:"t"`
	Link string `json:"l,omitempty"`
	// Mode is the permission bits (and setuid/setgid/sticky).
	Mode int64 `json:"o"`
	// Mtime (whole seconds since the epoch, as Python's int(st_mtime) has
	// it) and Size are a regular file's header fields; zero for other
	// entries.
	Mtime int64 `json:"mt,omitempty"`
	Size  int64 `json:"sz,omitempty"`
	// ELF is set for a regular file with an ELF header; Machine is its
	// e_machine.
	ELF     bool   `json:"e,omitempty"`
	Machine uint16 `json:"m,omitempty"`
	// Facts are what checks need from the file's content
	// (lambda.WantsFacts: package.json fields, a class path jar's classes,
	// a .pyc's header).
	Facts *lambda.FileFacts `json:"f,omitempty"`
}

// Listing is what one read of a layer tells: its real compression, its
// uncompressed size and digest, and its entries in tar order. Layers are
// content-addressed, so a listing is cached by layer digest and never
// computed twice on one machine.
type Listing struct {
	Version     int         `json:"version"`
	Compression Compression `json:"compression"`
	// UncompressedSize is the length of the tar stream, what Lambda counts.
	UncompressedSize int64 `json:"uncompressedSize"`
	// DiffID is the sha256 of the tar stream as read.
	DiffID  v1.Hash `json:"diffID"`
	Entries []Entry `json:"entries"`
	// Recorded marks a layer known only from what the image that last
	// carried it records (build's registry cache): its size and diffID,
	// no entries, no compression read. The rules that look inside layers
	// pass over it — the build that recorded it checked it — and a build
	// that gets a refusal while a layer is only recorded lists it and
	// checks again. Its Entries, when set, are only names and types, for
	// path lookups. Never cached.
	Recorded bool `json:"-"`
}

// ListingFromIndex is the listing of a layer layerconv just wrote (or found
// in its cache), from the index it recorded while writing: the layer is not
// decompressed a second time.
func ListingFromIndex(res *layerconv.Result) *Listing {
	l := &Listing{Version: listingVersion, Compression: Gzip, UncompressedSize: res.UncompressedSize, DiffID: res.DiffID}
	l.Entries = make([]Entry, len(res.Entries))
	for i, e := range res.Entries {
		l.Entries[i] = Entry{Path: e.Path, Type: e.Type, Link: e.Link, Mode: e.Mode, Mtime: e.Mtime, Size: e.Size, ELF: e.ELF, Machine: e.ELFMachine, Facts: e.Facts}
	}
	return l
}

// DigestMismatchError is a blob whose content does not match the digest
// that names it.
type DigestMismatchError struct {
	What     string // "diffID"
	Declared v1.Hash
	Actual   v1.Hash
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("content does not match its %s: declared %s, content is %s", e.What, e.Declared, e.Actual)
}

// ReadLayer reads a layer blob once, streaming: it detects the real
// compression (gzip, zstd or none, by magic number, not by media type),
// measures and hashes the tar stream and lists every entry with the first
// bytes of regular files (for ELF headers). Cancelling ctx stops it.
func ReadLayer(ctx context.Context, l v1.Layer) (_ *Listing, err error) {
	rc, comp, err := OpenLayer(l)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	defer func() {
		// A blob that fails to decode may simply not be the blob its digest
		// names: read it to the end, where a verifying reader (layouts,
		// registries) says so, and report that cause instead.
		if s, ok := rc.(*stack); ok && err != nil && ctx.Err() == nil {
			// The decoder first: zstd's reads the blob from a goroutine of
			// its own, which must be stopped before anyone else reads it.
			s.stopDecoder()
			if _, derr := io.Copy(io.Discard, s.raw); derr != nil {
				err = fmt.Errorf("%w (decoding it: %v)", derr, err)
			}
		}
	}()
	out := &Listing{Version: listingVersion, Compression: comp}
	tarStream := io.Reader(rc)
	h := sha256.New()
	cr := &countingReader{r: tarStream, h: h}
	tr := tar.NewReader(cr)
	var head [20]byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
		p := cleanName(hdr.Name)
		if p == "" {
			continue
		}
		e := Entry{Path: p, Type: hdr.Typeflag, Link: hdr.Linkname, Mode: hdr.Mode & 0o7777}
		if hdr.Typeflag == tar.TypeReg {
			e.Mtime, e.Size = unixSeconds(hdr.ModTime), hdr.Size
		}
		if hdr.Typeflag == tar.TypeReg && lambda.WantsFacts(p) {
			var content []byte
			if e.Facts, content, err = readFacts(tr, p, hdr.Size); err != nil {
				return nil, err
			}
			e.Machine, e.ELF = layerconv.ELFMachine(content)
		} else if hdr.Typeflag == tar.TypeReg && hdr.Size >= int64(len(head)) {
			if _, err := io.ReadFull(tr, head[:]); err != nil {
				return nil, fmt.Errorf("tar entry %q: %w", p, err)
			}
			e.Machine, e.ELF = layerconv.ELFMachine(head[:])
		}
		out.Entries = append(out.Entries, e)
	}
	// The end-of-archive blocks and any padding count too, and are hashed.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, err
	}
	out.UncompressedSize = cr.n
	out.DiffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	return out, nil
}

// OpenLayer opens a layer blob's tar stream, decompressed according to
// what the bytes are (gzip, zstd or none, by magic number), not what the
// media type says.
func OpenLayer(l v1.Layer) (io.ReadCloser, Compression, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, "", err
	}
	br := bufio.NewReaderSize(rc, 1<<16)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		// klauspost's inflater is about twice the standard library's speed:
		// AWS base layers are hundreds of MB.
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, "", fmt.Errorf("gzip: %w", err)
		}
		return &stack{Reader: zr, raw: br, closers: []io.Closer{zr, rc}}, Gzip, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, "", fmt.Errorf("zstd: %w", err)
		}
		return &stack{Reader: zr, raw: br, closers: []io.Closer{closerFunc(func() error { zr.Close(); return nil }), rc}}, Zstd, nil
	}
	return &stack{Reader: br, raw: br, closers: []io.Closer{rc}}, Plain, nil
}

// stack is a decompressing reader over a blob: closing it closes both.
type stack struct {
	io.Reader
	// raw is the compressed blob, for reading it to its end.
	raw     io.Reader
	closers []io.Closer
}

func (s *stack) Close() error {
	var first error
	for _, c := range s.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.closers = nil
	return first
}

// stopDecoder closes the decompressor (every closer but the blob's own,
// which is last) and leaves the blob open for reading to its end.
func (s *stack) stopDecoder() {
	if len(s.closers) < 2 {
		return
	}
	for _, c := range s.closers[:len(s.closers)-1] {
		_ = c.Close()
	}
	s.closers = s.closers[len(s.closers)-1:]
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

type countingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	return n, err
}

// unixSeconds is t as Python's int(st_mtime) has it: truncated toward
// zero, which differs from t.Unix() (the floor) only before 1970.
func unixSeconds(t time.Time) int64 {
	s := t.Unix()
	if s < 0 && t.Nanosecond() != 0 {
		s++
	}
	return s
}

// cleanName turns a tar name into a clean relative path ("./var/task/" ->
// "var/task").
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}
