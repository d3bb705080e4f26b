package image

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"

	"github.com/lambda-oci/lambda-oci/internal/atomicfile"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

// scanVersion is part of every cache file name: bump it when layerScan or
// what a scan records changes, so stale records are ignored, not misread.
const scanVersion = 1

// ELF e_machine values Lambda's two architectures run.
const (
	elfMachineX8664   = 62
	elfMachineAArch64 = 183
)

// entry types recorded by a scan.
const (
	entFile     = "f"
	entDir      = "d"
	entSymlink  = "l"
	entWhiteout = "w" // .wh.NAME: NAME is deleted from lower layers
	entOpaque   = "o" // .wh..wh..opq: the directory's lower contents are hidden
)

// scanEntry is one tar entry worth remembering, path without leading "/".
type scanEntry struct {
	Path string `json:"p"`
	Type string `json:"t"`
	Link string `json:"l,omitempty"`
}

// elfFile is an ELF file found in a layer and the machine it was built for.
type elfFile struct {
	Path    string `json:"p"`
	Machine uint16 `json:"m"`
}

// layerScan is what one decompression of a layer tells us. Layers are
// content-addressed, so a scan is cached by the layer digest and never
// repeated: base layers of hundreds of MB are read once per machine.
type layerScan struct {
	Version int `json:"version"`
	// UncompressedSize is the length of the tar stream, what Lambda counts.
	UncompressedSize int64 `json:"uncompressedSize"`
	// Prefixes limit which entries were recorded ("" records all); entries
	// matter only under the handler search roots, and a base holds tens of
	// thousands of files we never need.
	Prefixes []string    `json:"prefixes"`
	Entries  []scanEntry `json:"entries"`
	// ELFScanned says whether ELF headers were read (added layers only).
	ELFScanned bool      `json:"elfScanned"`
	ELF        []elfFile `json:"elf,omitempty"`
}

func (s *layerScan) covers(prefixes []string, wantELF bool) bool {
	if s.Version != scanVersion || (wantELF && !s.ELFScanned) {
		return false
	}
	for _, want := range prefixes {
		ok := false
		for _, have := range s.Prefixes {
			if have == "" || have == want {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchesPrefix reports whether p (no leading slash) lies at or under one of
// prefixes ("opt/" matches "opt" and "opt/x"; "var/runtime/bootstrap" matches itself).
func matchesPrefix(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		dir := strings.TrimSuffix(pre, "/")
		if pre == "" || p == dir || strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// normName turns a tar name into a clean relative path ("./var/task/" -> "var/task").
func normName(name string) string {
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/")
}

type scanner struct {
	cacheDir string // empty: no cache
}

func (s scanner) cachePath(d v1.Hash) string {
	return filepath.Join(s.cacheDir, "layer-scan", fmt.Sprintf("v%d", scanVersion), d.Algorithm+"-"+d.Hex+".json")
}

// scan returns the layer's scan from the cache or by reading it once.
func (s scanner) scan(ctx context.Context, l v1.Layer, prefixes []string, wantELF bool) (*layerScan, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, fmt.Errorf("layer digest: %w", err)
	}
	if s.cacheDir != "" {
		if b, err := os.ReadFile(s.cachePath(d)); err == nil {
			var rec layerScan
			if json.Unmarshal(b, &rec) == nil && rec.covers(prefixes, wantELF) {
				return &rec, nil
			}
		}
	}
	rec, err := scanLayer(ctx, l, prefixes, wantELF)
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", d, err)
	}
	if s.cacheDir != "" {
		// A cache that cannot be written only costs time on the next build.
		_ = writeJSON(s.cachePath(d), rec)
	}
	return rec, nil
}

// writeJSON records v at dst (the scan cache), creating its directory.
func writeJSON(dst string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(dst, b, 0o644)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// uncompressed opens the layer's tar stream, inflating gzip with
// klauspost/compress (about twice the standard library's speed: base
// layers of AWS images are hundreds of MB); other blobs go through the
// layer's own Uncompressed.
func uncompressed(l v1.Layer) (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(rc, 1<<16)
	if magic, err := br.Peek(2); err != nil || magic[0] != 0x1f || magic[1] != 0x8b {
		rc.Close()
		return l.Uncompressed()
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &gzipReadCloser{zr: zr, c: rc}, nil
}

type gzipReadCloser struct {
	zr *gzip.Reader
	c  io.Closer
}

func (g *gzipReadCloser) Read(p []byte) (int, error) { return g.zr.Read(p) }
func (g *gzipReadCloser) Close() error {
	err := g.zr.Close()
	if cerr := g.c.Close(); err == nil {
		err = cerr
	}
	return err
}

func scanLayer(ctx context.Context, l v1.Layer, prefixes []string, wantELF bool) (*layerScan, error) {
	rc, err := uncompressed(l)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	cr := &countingReader{r: rc}
	tr := tar.NewReader(cr)
	rec := &layerScan{Version: scanVersion, Prefixes: prefixes, ELFScanned: wantELF}
	var head [20]byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
		p := normName(h.Name)
		if p == "" {
			continue
		}
		rec.add(p, h.Typeflag, h.Linkname)
		if wantELF && h.Typeflag == tar.TypeReg && h.Size >= int64(len(head)) {
			if _, err := io.ReadFull(tr, head[:]); err != nil {
				return nil, fmt.Errorf("tar entry %q: %w", p, err)
			}
			if m, ok := elfMachine(head[:]); ok {
				rec.ELF = append(rec.ELF, elfFile{Path: p, Machine: m})
			}
		}
	}
	// The tar end-of-archive blocks and any padding count too.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, err
	}
	rec.UncompressedSize = cr.n
	return rec, nil
}

// add records one tar entry (path already clean, no leading "/") if it
// matters for the recorded prefixes: whiteouts and opaque markers as what
// they hide, hardlinks as files, other kinds not at all.
func (rec *layerScan) add(p string, typeflag byte, link string) {
	prefixes := rec.Prefixes
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == ".wh..wh..opq":
		if matchesPrefix(dir, prefixes) || prefixCovers(dir, prefixes) {
			rec.Entries = append(rec.Entries, scanEntry{Path: dir, Type: entOpaque})
		}
		return
	case strings.HasPrefix(base, ".wh."):
		target := path.Join(dir, strings.TrimPrefix(base, ".wh."))
		if matchesPrefix(target, prefixes) || prefixCovers(target, prefixes) {
			rec.Entries = append(rec.Entries, scanEntry{Path: target, Type: entWhiteout})
		}
		return
	}
	var typ string
	switch typeflag {
	case tar.TypeReg:
		typ = entFile
	case tar.TypeDir:
		typ = entDir
	case tar.TypeSymlink:
		typ = entSymlink
	case tar.TypeLink:
		// A hardlink is a file at its own path for lookups.
		typ = entFile
	default:
		return
	}
	if matchesPrefix(p, prefixes) {
		rec.Entries = append(rec.Entries, scanEntry{Path: p, Type: typ, Link: link})
	}
}

// scanFromIndex is the scan of a layer layerconv just produced (or found in
// its cache), built from the index it recorded while writing the layer, so
// the layer is not decompressed a second time. It records what scanLayer
// would with prefixes [""] and ELF headers.
func scanFromIndex(res *layerconv.Result) *layerScan {
	rec := &layerScan{Version: scanVersion, Prefixes: []string{""}, ELFScanned: true, UncompressedSize: res.UncompressedSize}
	rec.Entries = make([]scanEntry, 0, len(res.Entries))
	for _, e := range res.Entries {
		rec.add(e.Path, e.Type, e.Link)
		if e.ELF {
			rec.ELF = append(rec.ELF, elfFile{Path: e.Path, Machine: e.ELFMachine})
		}
	}
	return rec
}

// prefixCovers reports whether a whiteout of p would hide something under a
// recorded prefix (deleting "var" hides "var/task/app.py").
func prefixCovers(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if strings.HasPrefix(pre, p+"/") {
			return true
		}
	}
	return false
}

// elfMachine reads e_machine from the first 20 bytes of a file; the same
// reading layerconv applies to the layers it writes.
func elfMachine(b []byte) (uint16, bool) { return layerconv.ELFMachine(b) }

// elfMachineName names e_machine values users will meet.
func elfMachineName(m uint16) string {
	switch m {
	case elfMachineX8664:
		return "x86-64"
	case elfMachineAArch64:
		return "AArch64"
	case 3:
		return "i386"
	case 40:
		return "ARM (32-bit)"
	}
	return fmt.Sprintf("e_machine %d", m)
}

// fsView is the merged file tree of a stack of layers, limited to the
// recorded prefixes, as the container would see it.
type fsView map[string]scanEntry

func (v fsView) apply(rec *layerScan) {
	for _, e := range rec.Entries {
		switch e.Type {
		case entWhiteout:
			v.removeTree(e.Path, true)
		case entOpaque:
			v.removeTree(e.Path, false)
		default:
			if old, ok := v[e.Path]; ok && old.Type == entDir && e.Type != entDir {
				v.removeTree(e.Path, true)
			}
			v[e.Path] = e
		}
	}
}

func (v fsView) removeTree(p string, self bool) {
	if self {
		delete(v, p)
	}
	pre := p + "/"
	for k := range v {
		if strings.HasPrefix(k, pre) {
			delete(v, k)
		}
	}
}

// exists reports whether p (absolute) is a file or symlink in the view.
func (v fsView) exists(p string) bool {
	e, ok := v[strings.TrimPrefix(path.Clean(p), "/")]
	return ok && e.Type != entDir
}

// glob returns the non-directory paths matching an absolute pattern.
func (v fsView) glob(pattern string) []string {
	pat := strings.TrimPrefix(path.Clean(pattern), "/")
	var out []string
	for k, e := range v {
		if e.Type == entDir {
			continue
		}
		if ok, _ := path.Match(pat, k); ok {
			out = append(out, "/"+k)
		}
	}
	return out
}
