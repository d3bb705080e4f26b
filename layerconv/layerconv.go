// Package layerconv turns a Lambda layer .zip, a function code .zip or a
// directory into a gzip-compressed OCI layer rooted at a prefix (/opt for
// layers, /var/task for code). It owns entry ordering, parent directory
// entries, mode normalisation, symlinks, unsafe-entry rejection, timestamps,
// compression, and the layer's digest/diffID/sizes.
//
// The layer it writes:
//   - every entry under the prefix, names normalised (./x -> x, a//b -> a/b,
//     backslashes of Windows-made zips -> /), sorted by path component so the
//     order of the zip does not matter;
//   - a directory entry for every ancestor, the prefix's own included
//     (opt/, var/, var/task/), mode 0755, because Lambda's unpacker refuses
//     layers without them;
//   - files 0644, or 0755 when any executable bit was set; directories 0755;
//     setuid/setgid/sticky dropped. Entries without Unix modes (Windows-made
//     zips) get 0644, except bootstrap at the root and everything under bin/
//     and extensions/, which get 0755;
//   - symlinks as tar symlinks (targets untouched, absolute ones included);
//     never hardlinks;
//   - uid/gid 0, no user/group names, every mtime the same instant
//     (Options.ModTime, else SOURCE_DATE_EPOCH, else DefaultModTime), PAX
//     records only where USTAR cannot hold a field (long names);
//   - a Python .pyc that is valid for its source in the input records that
//     mtime in its header too, so it stays valid (see Options.NoPycRewrite);
//   - __MACOSX/ trees and AppleDouble ._* files left out and listed in
//     Result.Dropped (under extensions/ Lambda would run them).
//
// Unsafe or ambiguous inputs are refused with an *Error naming the source,
// the entry and the reason (see the Err* values), and nothing is left
// behind. Among them: any path component starting with .wh. (an OCI
// whiteout, which would delete files of lower layers); ".." that leaves
// the root, or that steps back out of a symlink of the same archive
// (a/lnk/../x: ".." is resolved lexically, which is only what a
// filesystem does when a/lnk is a directory); a local header whose name
// differs from the central directory's; and a name Linux cannot create
// (ErrNameTooLong: a component over 255 bytes, or a path over 4095 bytes
// with the prefix), on which every unpacker would fail.
// The sum of declared sizes is checked against Options.MaxSize before
// anything is inflated, and every entry's content must match its declared
// size and CRC-32, so neither a zip bomb nor a lying header gets far.
// DeclaredSize tells that sum without converting, so a caller with several
// inputs can check one budget across all of them first.
//
// Compression is deterministic: gzip via klauspost/pgzip at CompressionLevel
// in CompressionBlockSize blocks, each block primed with the previous
// block's tail, so the bytes do not depend on the number of cores. The
// blob is written once while its digest, diffID and sizes are computed in
// the same pass, and so is Result.Entries, the index of its tar entries
// (with the ELF machine of every ELF file), which lets a consumer check the
// layer's contents without decompressing it again.
//
// # Temporaries
//
// Blobs are written under temporary names and renamed or linked into
// place, so a failure or Ctrl-C leaves nothing behind. Where they live:
//   - with a cache, <CacheDir>/layerconv/tmp/layer-N.tar.gz.tmp while a
//     layer is written and key-N.json.tmp while its key is, then renamed
//     into the cache;
//   - without one, a directory .layerconv-N/ in Options.TempDir (the
//     system temporary directory when empty) holding layer-N.tar.gz.tmp
//     until Result.Close removes it;
//   - .layerconv-N.tmp beside the path Result.WriteFile writes, renamed
//     onto it.
//
// A process killed with SIGKILL cannot clean up, so each run sweeps the
// places it writes to (the cache's tmp directory when the cache is
// opened, the temporary directory's parent when converting without the
// cache, an output's directory when writing there) and removes the
// temporaries of ours (exactly these names, N decimal digits; a
// .layerconv-N/ directory only when it holds nothing but our blobs) that
// are over an hour old and whose owner is gone: every temporary is held
// with a flock(2) lock while in use (the directory until Result.Close),
// so a long conversion or a long-lived Result is never swept. Links are
// not followed; on systems without flock nothing is swept.
package layerconv

import (
	"context"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// DefaultMaxSize is Lambda's uncompressed image size limit (10 GiB).
const DefaultMaxSize = lambda.MaxImageSize

// DefaultModTime is every entry's mtime when neither Options.ModTime nor
// SOURCE_DATE_EPOCH is set: the Unix epoch, 1970-01-01T00:00:00Z.
var DefaultModTime = time.Unix(0, 0).UTC()

const (
	// DefaultPrefix is where Lambda extracts layers.
	DefaultPrefix = lambda.OptDir
	// CodePrefix is where Lambda puts function code (LAMBDA_TASK_ROOT).
	CodePrefix = lambda.DefaultTaskRoot
)

// Options configure a conversion. The zero value converts to /opt with the
// default limit, SOURCE_DATE_EPOCH (or DefaultModTime) and no cache.
type Options struct {
	// Prefix is the absolute directory the entries are rooted at ("/opt" when empty).
	Prefix string
	// MaxSize bounds the sum of the declared uncompressed sizes (DefaultMaxSize when 0).
	MaxSize int64
	// ModTime is every entry's mtime; zero means SOURCE_DATE_EPOCH or
	// DefaultModTime. Sub-second precision is dropped.
	ModTime time.Time
	// CacheDir holds converted layers keyed by the input zip's sha256, the
	// prefix, the options and the converter version; empty disables the
	// cache. A hit hashes the cached blob once (as stored, compressed) and
	// is a miss unless it matches its digest. Directories are never cached
	// (hashing a tree costs about as much as converting it, and code
	// directories change on every build).
	CacheDir string
	// TempDir holds the blob of an uncached conversion until Result.Close
	// (the system temporary directory when empty), in a .layerconv-N
	// directory; stale ones there are swept (see Temporaries). Put it on
	// the filesystem Result.WriteFile will write to, and WriteFile links
	// the blob into place instead of copying it.
	TempDir string
	// NoPycRewrite leaves every .pyc byte for byte as it is in the input.
	// By default a timestamp-based .pyc (PEP 552, flags 0) that is valid
	// for its source in the input (the mtime and size it records are the
	// source's) records the layer's mtime instead, so that Python still
	// uses it rather than compiling the module at every cold start. The
	// source is NAME.py beside a legacy NAME.pyc or above
	// __pycache__/NAME.TAG.pyc; its mtime is, in a zip, that of its
	// extended-timestamp field, else its DOS time read as UTC (what an
	// extractor sets, so an odd second of a DOS-only zip is already stale
	// there), and in a directory the file's. Stale, hash-based and orphan
	// .pyc files are never changed.
	NoPycRewrite bool
	// Select, when set, writes only part of the input (see Selection); it
	// is part of the cache key. Nil writes everything.
	Select *Selection
}

// Result is a converted layer and what was done to make it.
type Result struct {
	// Layer reads the blob Result owns; it is valid until Close.
	Layer            v1.Layer
	Digest           v1.Hash
	DiffID           v1.Hash
	Size             int64
	UncompressedSize int64
	// InputSHA256 is the hex sha256 of a zip input when the conversion
	// hashed it (with a cache: it is the cache key), so callers that need
	// the zip's identity need not read it again; "" otherwise.
	InputSHA256 string
	// Files, Dirs and Symlinks count the tar entries written, the
	// synthesised parent directories (opt/, var/task/, ...) included.
	Files    int
	Dirs     int
	Symlinks int
	// Dropped lists entries left out (__MACOSX/, AppleDouble ._* files).
	Dropped []string
	// Normalized counts entries whose name or mode was normalised.
	Normalized int
	// PycRewritten counts the .pyc files kept valid for their sources by
	// recording the layer's mtime (see Options.NoPycRewrite); one whose
	// source already had that mtime counts although no byte changed.
	PycRewritten int
	// Entries lists every tar entry of the layer in order, synthesised
	// parents included, recorded during the conversion (and kept in the
	// cache beside the blob), so the layer need not be read to list it.
	Entries []Entry
	// CacheHit reports that no conversion ran.
	CacheHit bool

	blobPath string
	tempDir  string   // removed by Close; empty for cached blobs
	tempHeld *os.File // tempDir opened, holding its lock until Close
	// src and srcInfo name the input converted, which WriteFile refuses
	// to overwrite (by identity: the name may be spelt another way).
	src     string
	srcInfo os.FileInfo
}

// Convert converts a zip file or a directory.
func Convert(ctx context.Context, src string, opts Options) (*Result, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("layerconv: %w", err)
	}
	if st.IsDir() {
		return ConvertDir(ctx, src, opts)
	}
	return ConvertZip(ctx, src, opts)
}

// MaxSourceDateEpoch is the largest SOURCE_DATE_EPOCH accepted:
// 9999-12-31T23:59:59Z, the last instant image configs (RFC 3339, four-digit
// years) can carry.
const MaxSourceDateEpoch = 253402300799

// ModTimeFromEnv returns the mtime SOURCE_DATE_EPOCH asks for (decimal
// seconds since the epoch, digits only, at most MaxSourceDateEpoch), or
// DefaultModTime when it is unset or empty.
func ModTimeFromEnv(getenv func(string) string) (time.Time, error) {
	v := getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return DefaultModTime, nil
	}
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("layerconv: SOURCE_DATE_EPOCH=%q: want whole seconds since 1970 (digits only, at most %d)", v, int64(MaxSourceDateEpoch))
	}
	// ParseInt alone would take "+5" and "-0".
	if strings.Trim(v, "0123456789") != "" {
		return bad()
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > MaxSourceDateEpoch {
		return bad()
	}
	return time.Unix(n, 0).UTC(), nil
}

// resolved is Options with the defaults applied.
type resolved struct {
	prefix   string // clean, absolute
	maxSize  int64
	modTime  time.Time
	cacheDir string
	tempDir  string

	noPycRewrite bool
	sel          *Selection
}

func (o Options) resolve() (resolved, error) {
	r := resolved{prefix: o.Prefix, maxSize: o.MaxSize, modTime: o.ModTime, cacheDir: o.CacheDir, tempDir: o.TempDir, noPycRewrite: o.NoPycRewrite, sel: o.Select}
	if r.sel != nil {
		if err := r.sel.validate(); err != nil {
			return r, err
		}
	}
	if r.prefix == "" {
		r.prefix = DefaultPrefix
	}
	if !strings.HasPrefix(r.prefix, "/") || strings.ContainsRune(r.prefix, 0) || !utf8.ValidString(r.prefix) {
		return r, fmt.Errorf("layerconv: prefix %q: want an absolute path", o.Prefix)
	}
	r.prefix = path.Clean(r.prefix)
	for c := range strings.SplitSeq(r.prefix, "/") {
		if isWhiteout(c) {
			return r, fmt.Errorf("layerconv: prefix %q: %w", o.Prefix, ErrWhiteout)
		}
	}
	if r.prefix != "/" {
		if err := checkLength("/", r.prefix[1:]); err != nil {
			return r, fmt.Errorf("layerconv: prefix %q: %w", o.Prefix, err)
		}
	}
	if r.maxSize == 0 {
		r.maxSize = DefaultMaxSize
	}
	if r.maxSize < 0 {
		return r, fmt.Errorf("layerconv: max size %d: want a positive number of bytes", o.MaxSize)
	}
	if r.modTime.IsZero() {
		t, err := ModTimeFromEnv(os.Getenv)
		if err != nil {
			return r, err
		}
		r.modTime = t
	}
	r.modTime = r.modTime.Truncate(time.Second).UTC()
	if r.modTime.Unix() > MaxSourceDateEpoch {
		return r, fmt.Errorf("layerconv: mtime %s: after 9999-12-31T23:59:59Z, which image configs cannot carry", r.modTime)
	}
	return r, nil
}
