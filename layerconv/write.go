package layerconv

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/pgzip"
)

const (
	// CompressionLevel is the deflate level of every layer. Digests depend
	// on it: changing it changes every layer's digest (and the cache key).
	CompressionLevel = 6
	// CompressionBlockSize is the size of the independently compressed
	// gzip blocks (each primed with the previous block's last 32 KiB).
	// Digests depend on it, not on how many blocks run in parallel.
	CompressionBlockSize = 1 << 20
	// formatVersion changes whenever the layer bytes for the same input
	// would change for a reason other than the settings above.
	formatVersion = 2 // 2: valid .pyc files keep matching their sources
)

// ConverterVersion identifies everything the output bytes depend on besides
// the input and the options; it is part of the cache key.
func ConverterVersion() string {
	v := fmt.Sprintf("layerconv/%d gzip-level=%d block=%d", formatVersion, CompressionLevel, CompressionBlockSize)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/klauspost/compress" || m.Path == "github.com/klauspost/pgzip" {
				v += " " + m.Path + "@" + m.Version
			}
		}
	}
	return v
}

// hashWriter counts and hashes what passes through it on the way to w.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashWriter) Write(p []byte) (int, error) {
	hw.h.Write(p)
	n, err := hw.w.Write(p)
	hw.n += int64(n)
	return n, err
}

// stats accumulates what Result reports.
type stats struct {
	files, dirs, symlinks int
	dropped               []string
	normalized            int
	pycRewritten          int
	index                 []Entry // every tar entry, in write order
}

// blob is a finished layer file with its identity.
type blob struct {
	path             string
	digest, diffID   v1.Hash
	size, uncompSize int64
}

// source feeds content to the writer.
type source interface {
	// copy writes the entry's content (exactly e.size bytes) to w.
	copy(ctx context.Context, w io.Writer, e *entry) error
	// target returns a symlink's target.
	target(e *entry) (string, error)
}

// writeLayer writes the tar.gz of es to a new file in dir, computing digest,
// diffID and sizes on the way; the file is removed on failure. sync
// flushes it to disk before it is renamed into a cache.
func writeLayer(ctx context.Context, dir string, sync bool, o resolved, es []entry, src source, st *stats, concurrency int) (b blob, err error) {
	f, err := os.CreateTemp(dir, tmpBlobName.glob())
	if err != nil {
		return b, fmt.Errorf("layerconv: %w", err)
	}
	lock(f) // until closed: a sweeper leaves a blob being written alone
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := writeTarGz(ctx, f, o, es, src, st, concurrency, &b); err != nil {
		return b, err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return b, fmt.Errorf("layerconv: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return b, fmt.Errorf("layerconv: %w", err)
	}
	b.path = f.Name()
	return b, nil
}

func writeTarGz(ctx context.Context, out io.Writer, o resolved, es []entry, src source, st *stats, concurrency int, b *blob) error {
	bw := bufio.NewWriterSize(out, 1<<20)
	compressed := &hashWriter{w: bw, h: sha256.New()}
	gz, err := pgzip.NewWriterLevel(compressed, CompressionLevel)
	if err != nil {
		return fmt.Errorf("layerconv: %w", err)
	}
	// MTIME 0 means "no timestamp" in gzip; the zero time.Time would not.
	gz.ModTime = time.Unix(0, 0)
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	// Twice the workers keeps them busy while the writer waits on one block.
	if err := gz.SetConcurrency(CompressionBlockSize, 2*concurrency); err != nil {
		return fmt.Errorf("layerconv: %w", err)
	}
	uncompressed := &hashWriter{w: gz, h: sha256.New()}
	tw := tar.NewWriter(uncompressed)
	abort := func(err error) error {
		gz.Close() // stops its goroutines; the error that matters is err
		return err
	}

	var parents []string
	if o.prefix != "/" {
		rel := strings.TrimPrefix(o.prefix, "/")
		for i := range len(rel) {
			if rel[i] == '/' {
				parents = append(parents, rel[:i])
			}
		}
		parents = append(parents, rel)
	}
	base := ""
	if len(parents) > 0 {
		base = parents[len(parents)-1] + "/"
	}
	hdr := func(name string, typ byte, mode int64) *tar.Header {
		return &tar.Header{Typeflag: typ, Name: name, Mode: mode, ModTime: o.modTime, Format: tar.FormatPAX}
	}
	st.index = make([]Entry, 0, len(parents)+len(es))
	for _, p := range parents {
		if err := tw.WriteHeader(hdr(p+"/", tar.TypeDir, 0o755)); err != nil {
			return abort(fmt.Errorf("layerconv: %w", err))
		}
		st.dirs++
		st.index = append(st.index, Entry{Path: p, Type: tar.TypeDir, Mode: 0o755})
	}
	head := &headWriter{w: tw}
	pw := &pycWriter{}
	pm := pycMtime(o.modTime)
	for i := range es {
		if err := ctx.Err(); err != nil {
			return abort(fmt.Errorf("layerconv: %w", err))
		}
		e := &es[i]
		name := base + e.name
		switch e.kind {
		case kindDir:
			if err := tw.WriteHeader(hdr(name+"/", tar.TypeDir, 0o755)); err != nil {
				return abort(fmt.Errorf("layerconv: entry %q: %w", e.raw, err))
			}
			st.dirs++
			st.index = append(st.index, Entry{Path: name, Type: tar.TypeDir, Mode: 0o755})
		case kindSymlink:
			target, err := src.target(e)
			if err != nil {
				return abort(err)
			}
			h := hdr(name, tar.TypeSymlink, 0o777)
			h.Linkname = target
			if err := tw.WriteHeader(h); err != nil {
				return abort(fmt.Errorf("layerconv: entry %q: %w", e.raw, err))
			}
			st.symlinks++
			st.index = append(st.index, Entry{Path: name, Type: tar.TypeSymlink, Link: target, Mode: 0o777})
		default:
			h := hdr(name, tar.TypeReg, e.mode)
			h.Size = e.size
			if err := tw.WriteHeader(h); err != nil {
				return abort(fmt.Errorf("layerconv: entry %q: %w", e.raw, err))
			}
			head.reset()
			w, facts := recordFacts(head, name, e.size)
			if e.pyc != nil {
				pw.reset(w, *e.pyc, pm)
				w = pw
			}
			if err := src.copy(ctx, w, e); err != nil {
				return abort(err)
			}
			if e.pyc != nil && pw.rewritten {
				st.pycRewritten++
			}
			st.files++
			ent := Entry{Path: name, Type: tar.TypeReg, Mode: e.mode, Mtime: o.modTime.Unix(), Size: e.size}
			ent.ELFMachine, ent.ELF = head.elf()
			ent.Facts = facts()
			st.index = append(st.index, ent)
		}
	}
	if err := tw.Close(); err != nil {
		return abort(fmt.Errorf("layerconv: %w", err))
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("layerconv: compress: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("layerconv: %w", err)
	}
	b.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(compressed.h.Sum(nil))}
	b.diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(uncompressed.h.Sum(nil))}
	b.size = compressed.n
	b.uncompSize = uncompressed.n
	return nil
}

// ctxCheckEvery bounds how much is copied between cancellation checks.
const ctxCheckEvery = 8 << 20
