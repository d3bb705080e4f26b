// Package layerconv turns a Lambda layer .zip, a function code .zip or a
// directory into a gzip-compressed OCI layer rooted at a prefix (/opt for
// layers, /var/task for code). It owns entry ordering, parent directory
// entries, mode normalisation, symlinks, unsafe-entry rejection, timestamps,
// compression, and the layer's digest/diffID/sizes.
//
// API CONTRACT (other packages code against this; keep signatures stable):
//
//	func Convert(ctx context.Context, src string, opts Options) (*Result, error) // zip file or directory
//	func ConvertZip(ctx context.Context, zipPath string, opts Options) (*Result, error)
//	func ConvertDir(ctx context.Context, dir string, opts Options) (*Result, error)
//	func (r *Result) WriteTo/Save(ctx, path) ... // write the .tar.gz atomically
package layerconv

import (
	"context"
	"errors"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultMaxSize is Lambda's uncompressed image size limit (10 GiB).
const DefaultMaxSize int64 = 10 << 30

// Options configure a conversion. The zero value converts to /opt with the
// default limit, SOURCE_DATE_EPOCH (or the fixed instant) and no cache.
type Options struct {
	// Prefix is the absolute directory the entries are rooted at ("/opt" when empty).
	Prefix string
	// MaxSize bounds the sum of the declared uncompressed sizes (DefaultMaxSize when 0).
	MaxSize int64
	// ModTime is every entry's mtime; zero means SOURCE_DATE_EPOCH or the fixed default.
	ModTime time.Time
	// CacheDir holds converted layers keyed by input hash, prefix, options and
	// converter version; empty disables the cache.
	CacheDir string
}

// Result is a converted layer and what was done to make it.
type Result struct {
	Layer            v1.Layer
	Digest           v1.Hash
	DiffID           v1.Hash
	Size             int64
	UncompressedSize int64
	Files            int
	Dirs             int
	Symlinks         int
	// Dropped lists entries left out (__MACOSX/, AppleDouble ._* files).
	Dropped []string
	// Normalized counts entries whose name or mode was normalised.
	Normalized int
	// CacheHit reports that no conversion ran.
	CacheHit bool
}

// Convert converts a zip file or a directory.
func Convert(ctx context.Context, src string, opts Options) (*Result, error) {
	return nil, errors.New("layerconv: not implemented yet")
}
